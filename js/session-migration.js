'use strict';
// Moving sessions from connect-redis to RedisSessionStore. connect-redis keeps a session at `<prefix><session id>`
// as its serializer's text (JSON) in clear; the store keeps it encrypted at `<prefix>{<HMAC of the id>}`. Each
// connect-redis session is saved through the store under the same id, as express-session would save it (its TTL
// from its cookie, else the store's ttl), so the cookies browsers hold keep working. A session the store already
// has is left as it is: running the import again (after the last connect-redis server stopped) is safe.

const { ConfigurationError } = require('./errors');
const { deserialize } = require('./session-serializer');
const { scanKeys, escapeGlob } = require('./redis-scan');

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
  const call = (command, key, operation) => store.guard.run(command, key, operation);
  const counts = { imported: 0, existing: 0, unreadable: 0 };

  async function importOne(key) {
    const sid = key.slice(prefix.length);
    // `{...}` is this package's own layout (the store's keys, or version 0.1's), found when the prefixes are the
    // same; connect-redis ids (uid-safe) never hold braces.
    if (/^\{.*\}$/s.test(sid)) return;
    const text = await call('GET', key, () => store.redis.get(key));
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
    if (deleteImported) await call('DEL', key, () => store.redis.del(key));
  }

  // TYPE string: other apps' hashes or lists under the same prefix are not sessions.
  for await (const keys of scanKeys(store.redis, `${escapeGlob(prefix)}*`, store.scanCount, call, 'string')) {
    await Promise.all(keys.map(importOne));
  }
  return counts;
}

module.exports = { importConnectRedisSessions };
