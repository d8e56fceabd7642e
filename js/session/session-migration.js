'use strict';
// Moving sessions from connect-redis to RedisSessionStore. connect-redis keeps a session at `<prefix><session id>`
// as its serializer's text (JSON) in clear; the store keeps it encrypted at `<prefix>{<HMAC of the id>}`. Each
// connect-redis session is saved through the store under the same id, as express-session would save it (its TTL
// from its cookie, else the store's ttl), so the cookies browsers hold keep working. A session the store already
// has is left as it is: running the import again (after the last connect-redis server stopped) is safe.

const { ConfigurationError } = require('../errors');
const { deserialize } = require('./session-serializer');
const { scanKeys, escapeGlob } = require('../redis/scan');
const { decodeLegacyValue } = require('../storage/legacy-value');

const SESSION_ID_KEY_LABEL = '(a key naming a session id in clear)';

const KNOWN = new Set(['prefix', 'serializer', 'deleteImported']);

const TAKES = 'importConnectRedisSessions takes { prefix, serializer, deleteImported }';

function checkOptions(options) {
  if (!options || typeof options !== 'object') throw new ConfigurationError(TAKES);
  const unknown = Object.keys(options).find((name) => !KNOWN.has(name));
  if (unknown) throw new ConfigurationError(`unknown option "${unknown}" (${TAKES})`);
  const { prefix = 'sess:', serializer = JSON, deleteImported = false } = options;
  if (typeof prefix !== 'string' || prefix === '') {
    throw new ConfigurationError('prefix must be the connect-redis store\'s prefix ("sess:" by default), not empty');
  }
  if (!serializer || typeof serializer.parse !== 'function') {
    throw new ConfigurationError("serializer must be the connect-redis store's serializer (with a parse(text) method)");
  }
  if (typeof deleteImported !== 'boolean') throw new ConfigurationError('deleteImported must be true or false');
  return { prefix, serializer, deleteImported };
}

/**
 * @param {import('./session-store').RedisSessionStore} store
 * @param {{ prefix?: string, serializer?: { parse(text: string): any }, deleteImported?: boolean }} options
 *   the connect-redis store's prefix ("sess:") and serializer (JSON); deleteImported: delete each connect-redis key
 *   once its session is in the store
 * @returns {Promise<{ imported: number, existing: number, unreadable: number }>} unreadable sessions are left as
 *   they are
 */
async function importConnectRedisSessions(store, options) {
  const { prefix, serializer, deleteImported } = checkOptions(options);
  // These keys hold session ids in clear: never in an error or a warning.
  const call = (command, key, operation) => store.guard.run(command, SESSION_ID_KEY_LABEL, operation);
  const counts = { imported: 0, existing: 0, unreadable: 0 };

  async function importOne(key) {
    const sid = key.slice(prefix.length);
    // `{...}` is this package's own layout (the store's keys, or version 0.1's), found when the prefixes are the
    // same; connect-redis ids (uid-safe) never hold braces.
    if (/^\{.*\}$/s.test(sid)) return;
    const text = await call('GET', key, () => store.driver.get(key));
    if (text === null) return; // expired meanwhile
    const { session } = await deserialize(serializer, text);
    if (session === null) {
      counts.unreadable++;
      return;
    }
    if ((await store.get(sid)) === null) {
      await store.set(sid, session);
      counts.imported++;
    } else {
      counts.existing++;
    }
    if (deleteImported) await call('DEL', key, () => store.driver.del(key));
  }

  // TYPE string: other apps' hashes or lists under the same prefix are not sessions.
  for await (const keys of scanKeys(store.driver, `${escapeGlob(prefix)}*`, store.scanCount, call, 'string')) {
    await Promise.all(keys.map(importOne));
  }
  return counts;
}

/**
 * Moves version 0.1's sessions (clear JSON at `<prefix>{<session id>}`) and their token-cache partitions (`mrc1` at
 * `<token cache prefix>session:{<session id>}`) into the store, under the same ids. Clear text is never trusted on
 * a request (anyone who can write to Redis could plant a session): this is an offline step, run once after the
 * upgrade while Redis holds only what 0.1 wrote. Resolves to { imported, existing, unreadable }.
 * @param {import('./session-store').RedisSessionStore} store
 * @param {{ deleteImported?: boolean }} options
 */
async function importLegacySessions(store, options) {
  if (!options || typeof options !== 'object' || Object.keys(options).some((name) => name !== 'deleteImported')) {
    throw new ConfigurationError('importLegacySessions takes { deleteImported }');
  }
  const { deleteImported = false } = options;
  if (typeof deleteImported !== 'boolean') throw new ConfigurationError('deleteImported must be true or false');
  // These keys hold session ids in clear: never in an error or a warning.
  const call = (command, key, operation) => store.guard.run(command, SESSION_ID_KEY_LABEL, operation);
  const counts = { imported: 0, existing: 0, unreadable: 0 };
  const { tokenCache } = store;

  const partitionKeyOf = (sid) => tokenCache && `${tokenCache.settings.prefix}session:{${sid}}`;

  async function importPartition(sid) {
    const key = partitionKeyOf(sid);
    const value = await call('GET', key, () => store.driver.getBuffer(key));
    if (value === null) return;
    const { body } = decodeLegacyValue(key, value);
    await tokenCache.importPartition({ sessionId: sid }, body.toString('utf8'));
  }

  async function importOne(key) {
    const value = await call('GET', key, () => store.driver.getBuffer(key));
    if (value === null || value.toString('latin1', 0, 5) === 'mrc2 ') return; // expired meanwhile, or the store's own
    const sid = key.slice(store.prefix.length + 1, -1);
    const { session } = await deserialize(JSON, value.toString('utf8'));
    try {
      if (session === null || !sid.isWellFormed()) throw new Error('unreadable');
      if ((await store.get(sid)) === null) {
        if (tokenCache) await importPartition(sid);
        await store.set(sid, session);
        counts.imported++;
      } else {
        counts.existing++;
      }
    } catch (err) {
      if (err instanceof ConfigurationError || err.name === 'CacheStoreError') throw err;
      counts.unreadable++; // a corrupt session or partition (CacheFormatError, a bad digest): left as it is
      return;
    }
    if (deleteImported) {
      await call('DEL', key, () => store.driver.del(key));
      const partitionKey = partitionKeyOf(sid);
      if (partitionKey) await call('DEL', partitionKey, () => store.driver.del(partitionKey));
    }
  }

  // 0.1's keys: the prefix as given (not percent-encoded), then the session id in braces.
  for await (const keys of scanKeys(store.driver, `${escapeGlob(store.prefix)}{*}`, store.scanCount, call, 'string')) {
    for (const key of keys) await importOne(key);
  }
  return counts;
}

module.exports = { importConnectRedisSessions, importLegacySessions };
