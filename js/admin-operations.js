'use strict';
// Operations for operators, not requests: sign a user out everywhere, drop a client's app tokens or one tenant's,
// count partitions. Each finds its partitions through the indexes (partition-index.js), never by scanning the
// keyspace: O(partitions concerned). Removals are the sign-out's tombstones (PartitionWriter.remove), so a write
// loaded before cannot bring a partition back, every server's in-process cache drops it on Redis's invalidation,
// and the next silent call there fails. They fail closed: when Redis fails, they reject with a CacheStoreError
// after removing what they could, and calling again finishes the job (removing twice is harmless).

const { CacheStoreError, ConfigurationError } = require('./errors');
const { resolvePartition } = require('./partitions');
const { interpret } = require('./partition-reader');

/**
 * Signs a user out of every session, their account partition and the on-behalf-of partitions made from their
 * tokens. A session partition is removed only while it still belongs to that user (a session id can be reused by
 * another account after a sign-out); with `sessionStore`, the express sessions of the removed session partitions
 * are deleted too.
 * @param {{ context: object, writer: import('./partition-writer').PartitionWriter }} shared a RedisTokenCache's
 * @param {string} homeAccountId
 * @param {{ sessionStore?: import('./session-store').RedisSessionStore }} options
 * @returns {Promise<number>} how many partitions held tokens and were removed
 */
async function signOutEverywhere({ context, writer }, homeAccountId, { sessionStore } = {}) {
  const { settings, keyring, index } = context;
  if (typeof homeAccountId !== 'string' || homeAccountId === '') {
    throw new ConfigurationError(
      "signOutEverywhere needs the user's home account id: signOutEverywhere({ homeAccountId: account.homeAccountId })",
    );
  }
  if (sessionStore !== undefined && (sessionStore === null || sessionStore.tokenCache?.shared?.context !== context)) {
    throw new ConfigurationError(
      'signOutEverywhere: sessionStore must be a RedisSessionStore created with this token cache ({ tokenCache })',
    );
  }
  const account = resolvePartition({ homeAccountId }, undefined, keyring);
  const listed = await index.members(index.userKey(homeAccountId));
  // The account partition's key is known without the index: always removed, indexed or not.
  const keys = new Set([settings.prefix + account.partitionKey, ...listed]);
  const accountLegacyKey = settings.migrateLegacyValues ? settings.prefix + account.legacyKey : null;
  return removeAll([...keys], async (key) => {
    if (!key.startsWith(`${settings.prefix}session:`)) {
      return writer.remove(key, key === settings.prefix + account.partitionKey ? accountLegacyKey : null);
    }
    return removeSession(context, writer, key, homeAccountId, sessionStore);
  });
}

/**
 * Removes a session partition, unless it is empty or another account's (something unreadable is removed: nobody
 * can use it, and it may be theirs). Read first, because the index may list a session that another account signed
 * in to since. To be wrong, that would have to happen between the read and the tombstone: then the other account
 * signs in again; this user is never left signed in.
 */
async function removeSession(context, writer, key, homeAccountId, sessionStore) {
  const stored = interpret(context, key, await context.store.read(key));
  if (stored.body === null && stored.problem === null) return false; // nothing there, or a tombstone
  if (stored.owner !== null && stored.owner !== homeAccountId) return false; // another account's now
  const removed = await writer.remove(key);
  if (stored.owner === homeAccountId && sessionStore) {
    const sessionKey = sessionStore.keyPrefix + key.slice(`${context.settings.prefix}session:`.length);
    await context.guard.run('DEL', sessionKey, () => sessionStore.redis.del(sessionKey));
  }
  return removed;
}

/**
 * Removes every app (client-credential) partition of a client, and with includeOnBehalfOf its on-behalf-of
 * partitions.
 * @returns {Promise<number>} how many held tokens
 */
async function clearAppTokens({ context, writer }, clientId, { includeOnBehalfOf = false } = {}) {
  const { index } = context;
  if (typeof clientId !== 'string' || clientId === '') {
    throw new ConfigurationError("clearAppTokens needs the client id: clearAppTokens(msalConfig.auth.clientId)");
  }
  const kinds = includeOnBehalfOf ? ['app', 'obo'] : ['app'];
  const keys = (await Promise.all(kinds.map((kind) => index.members(index.clientKey(kind, clientId))))).flat();
  return removeAll(keys, (key) => writer.remove(key));
}

/**
 * Removes each key with `remove` (all at once: their commands are pipelined), and counts those that held tokens.
 * Tries every one even when some fail, then rejects with the first failure.
 */
async function removeAll(keys, remove) {
  const results = await Promise.allSettled(keys.map(remove));
  const failed = results.filter((result) => result.status === 'rejected');
  if (failed.length > 0) {
    const { reason } = failed[0];
    if (!(reason instanceof CacheStoreError)) throw reason;
    const why = reason.message.replace(/^msal-redis-cache: /, '');
    throw new CacheStoreError(
      `${failed.length} of ${keys.length} partitions could not be removed (the others were): ${why}. ` +
        'Call again once Redis answers: removing twice is harmless.',
      { cause: reason },
    );
  }
  return results.filter((result) => result.value === true).length;
}

module.exports = { signOutEverywhere, clearAppTokens };
