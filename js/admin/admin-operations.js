'use strict';
// Operations for operators, not requests: sign a user out everywhere, drop a client's app tokens or one tenant's,
// count partitions. Each finds its partitions through the indexes (partition-index.js), never by scanning the
// keyspace: O(partitions concerned). Removals are the sign-out's tombstones (PartitionWriter.remove), so a write
// loaded before cannot bring a partition back, every server's in-process cache drops it on Redis's invalidation,
// and the next silent call there fails. They fail closed: when Redis fails, they reject with a CacheStoreError
// after removing what they could, and calling again finishes the job (removing twice is harmless).

const { CacheStoreError, ConfigurationError } = require('../errors');
const { resolvePartition } = require('../msal/partitions');
const { interpret } = require('../storage/partition-reader');

/**
 * Signs a user out of every session, their account partition and the on-behalf-of partitions made from their
 * tokens. A session partition is removed only while it still belongs to that user (a session id can be reused by
 * another account after a sign-out); with `sessionStore`, the express sessions of the removed session partitions
 * are deleted too.
 * @param {{ context: object, writer: import('../storage/partition-writer').PartitionWriter }} shared a RedisTokenCache's
 * @param {string} homeAccountId
 * @param {{ sessionStore?: import('../session/session-store').RedisSessionStore }} options
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
  const accountKey = settings.prefix + account.partitionKey;
  const accountLegacyKey = settings.migrateLegacyValues ? settings.prefix + account.legacyKey : null;
  const remove = async (key) => {
    if (!key.startsWith(`${settings.prefix}session:`)) {
      return { held: await writer.remove(key, key === accountKey ? accountLegacyKey : null), tombstoned: true };
    }
    return removeSession(context, writer, key, homeAccountId, sessionStore);
  };
  // The account partition's key is known without the index: always removed, indexed or not.
  const removals = new Removals();
  await removals.run([{ key: accountKey }], remove);
  const userKey = index.userKey(homeAccountId);
  await removals.runIndex(index, userKey, remove);
  return removals.result();
}

/**
 * Removes a session partition, unless it is empty or another account's (something unreadable is removed: nobody
 * can use it, and it may be theirs). Read first, because the index may list a session that another account signed
 * in to since. To be wrong, that would have to happen between the read and the tombstone: then the other account
 * signs in again; this user is never left signed in.
 */
async function removeSession(context, writer, key, homeAccountId, sessionStore) {
  const stored = interpret(context, key, await context.store.read(key));
  // Nothing there, or a tombstone; or another account's now.
  if (stored.body === null && stored.problem === null) return { held: false, tombstoned: stored.removed };
  if (stored.owner !== null && stored.owner !== homeAccountId) return { held: false, tombstoned: false };
  const held = await writer.remove(key);
  if (stored.owner === homeAccountId && sessionStore) {
    const sessionKey = sessionStore.keyPrefix + key.slice(`${context.settings.prefix}session:`.length);
    await context.guard.run('DEL', sessionKey, () => sessionStore.driver.del(sessionKey));
  }
  return { held, tombstoned: true };
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
  const removals = new Removals();
  const remove = async (key) => ({ held: await writer.remove(key), tombstoned: true });
  for (const kind of kinds) await removals.runIndex(index, index.clientKey(kind, clientId), remove);
  return removals.result();
}

/**
 * Removes partitions a page at a time (one page's commands are pipelined; no more than a page in flight, so that no
 * call waits behind thousands of others past commandTimeoutMs), counts those that held tokens, and tries every one
 * even when some fail: result() then rejects with the first failure.
 */
class Removals {
  constructor() {
    this.done = new Set(); // keys already handled (the account partition is also in its user's index)
    this.tombstoned = new Set();
    this.untouched = new Set(); // handled without a tombstone: missing, or another account's
    this.held = 0;
    this.failures = [];
  }

  /** `remove(key)` resolves to { held, tombstoned } for each entry ({ key }) not handled yet. */
  async run(entries, remove) {
    const todo = entries.filter(({ key }) => !this.done.has(key));
    todo.forEach(({ key }) => this.done.add(key));
    const results = await Promise.allSettled(todo.map(({ key }) => remove(key)));
    results.forEach((result, i) => {
      if (result.status === 'rejected') {
        this.failures.push(result.reason);
        return;
      }
      if (result.value.held) this.held++;
      (result.value.tombstoned ? this.tombstoned : this.untouched).add(todo[i].key);
    });
  }

  /**
   * Every partition an index lists, page by page; then drops from the index the members whose partitions were
   * tombstoned, or found missing long enough after they joined (partition-index.js, prune).
   */
  async runIndex(index, indexKey, remove) {
    const removed = [];
    const checked = [];
    for await (const page of index.pages(indexKey)) {
      await this.run(page, remove);
      removed.push(...page.filter(({ key }) => this.tombstoned.has(key)));
      checked.push(...page.filter(({ key }) => this.untouched.has(key)));
    }
    await index.prune(indexKey, { removed, checked });
  }

  result() {
    if (this.failures.length === 0) return this.held;
    const [reason] = this.failures;
    if (!(reason instanceof CacheStoreError)) throw reason;
    const why = reason.message.replace(/^msal-redis-cache: /, '');
    throw new CacheStoreError(
      `${this.failures.length} of ${this.done.size} partitions could not be removed (the others were): ${why}. ` +
        'Call again once Redis answers: removing twice is harmless.',
      { cause: reason },
    );
  }
}

module.exports = { signOutEverywhere, clearAppTokens };
