'use strict';
// An express-session store over ioredis (connect-redis dropped ioredis), that keeps a session and its token-cache
// partition together:
//   - keys `<prefix>{<sid>}` and `<token cache prefix>session:{<sid>}`: the braces are a Redis Cluster hash tag, so
//     both live in one hash slot and one MULTI / one DEL can touch both;
//   - touching or saving the session gives both the same TTL, so they expire together (capped by the partition's
//     absolute lifetime, which the token cache promises);
//   - destroying the session deletes both.
// Modelled on connect-redis: every method returns a promise and also calls express-session's callback.

let Store;
try {
  ({ Store } = require('express-session'));
} catch {
  const { ConfigurationError } = require('./errors');
  throw new ConfigurationError('RedisSessionStore needs express-session: npm install express-session');
}
const { ConfigurationError } = require('./errors');
const { resolvePartition } = require('./partitions');
const { readHeader, MAX_HEADER_BYTES } = require('./envelope');

const DEFAULT_TTL_SECONDS = 86400;
const SCAN_COUNT = 100;

/**
 * Calls an express-session callback (if any) with the outcome of a promise, and returns the promise. The callback
 * runs on its own tick: if it throws, that is its own error, not a second call with the error.
 */
function withCallback(promise, callback) {
  if (typeof callback === 'function') {
    promise.then((value) => process.nextTick(callback, null, value), (err) => process.nextTick(callback, err));
  }
  return promise;
}

/** `*`, `?`, `[`, `]` and `\` are glob characters in SCAN MATCH patterns. */
function escapeGlob(text) {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

class RedisSessionStore extends Store {
  /**
   * @param {object} options
   * @param {import('ioredis').Redis|import('ioredis').Cluster} options.redis the ioredis client
   * @param {string} [options.prefix] prepended to session keys; default "sess:"
   * @param {number} [options.ttlSeconds] lifetime of a session whose cookie has no expiry; default 86400
   * @param {import('./redis-token-cache').RedisTokenCache} [options.tokenCache] the app's token cache: its session
   *   partitions then expire and are deleted with their sessions
   * @param {{warn(message: string): void}} [options.logger] receives warnings; default console
   * @param {() => number} [options.clock] milliseconds since the epoch; default Date.now
   */
  constructor(options = {}) {
    super();
    const { redis, prefix = 'sess:', ttlSeconds = DEFAULT_TTL_SECONDS, tokenCache = null } = options;
    if (!redis || typeof redis.get !== 'function' || typeof redis.set !== 'function') {
      throw new ConfigurationError('options.redis must be an ioredis client (Redis or Cluster)');
    }
    if (typeof prefix !== 'string') throw new ConfigurationError('prefix must be a string');
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) throw new ConfigurationError('ttlSeconds must be a positive integer');
    if (tokenCache !== null && !(tokenCache.settings && typeof tokenCache.settings.prefix === 'string')) {
      throw new ConfigurationError('tokenCache must be a RedisTokenCache');
    }
    this.redis = redis;
    this.prefix = prefix;
    this.ttlSeconds = ttlSeconds;
    this.tokenCache = tokenCache;
    this.logger = options.logger ?? console;
    this.clock = options.clock ?? (tokenCache ? tokenCache.settings.clock : Date.now);
  }

  /** The Redis key of a session. */
  sessionKey(sid) {
    return `${this.prefix}{${sid}}`;
  }

  /** The Redis key of a session's token-cache partition, or null without a tokenCache. */
  partitionKey(sid) {
    if (!this.tokenCache) return null;
    return this.tokenCache.settings.prefix + resolvePartition({ sessionId: sid }).partitionKey;
  }

  get(sid, callback) {
    return withCallback(this.#get(sid), callback);
  }

  set(sid, session, callback) {
    return withCallback(this.#save(sid, session, true), callback);
  }

  touch(sid, session, callback) {
    return withCallback(this.#save(sid, session, false), callback);
  }

  destroy(sid, callback) {
    const keys = [this.sessionKey(sid), this.partitionKey(sid)].filter(Boolean);
    return withCallback(this.redis.del(...keys).then(() => undefined), callback);
  }

  /** Every readable session, as an array (express-session's optional `all`). Scans; for tools, not requests. */
  all(callback) {
    const read = async () => {
      const sessions = [];
      for (const sid of await this.#scanIds()) {
        const session = await this.#get(sid);
        if (session) sessions.push({ ...session, id: sid });
      }
      return sessions;
    };
    return withCallback(read(), callback);
  }

  length(callback) {
    return withCallback(this.#scanIds().then((ids) => ids.length), callback);
  }

  /** Deletes every session (and their token-cache partitions). */
  clear(callback) {
    const clearAll = async () => {
      for (const sid of await this.#scanIds()) await this.destroy(sid);
    };
    return withCallback(clearAll(), callback);
  }

  async #get(sid) {
    const json = await this.redis.get(this.sessionKey(sid));
    if (json === null) return null;
    let session;
    try {
      session = JSON.parse(json);
    } catch {
      session = null;
    }
    // express-session dereferences session.cookie: anything else would crash the request, so it is no session.
    if (!session || typeof session !== 'object' || !session.cookie || typeof session.cookie !== 'object') {
      this.logger.warn(`msal-redis-cache: ignoring unreadable session "${this.sessionKey(sid)}" (treated as no session)`);
      return null;
    }
    return session;
  }

  async #save(sid, session, write) {
    const ttl = await this.#ttl(sid, session);
    const sessionKey = this.sessionKey(sid);
    if (ttl <= 0) {
      // Already expired (cookie in the past, or the partition reached its absolute lifetime): gone, as Redis would.
      await this.destroy(sid);
      return;
    }
    const transaction = this.redis.multi();
    if (write) transaction.set(sessionKey, JSON.stringify(session), 'EX', ttl);
    else transaction.expire(sessionKey, ttl);
    // EXPIRE does nothing to a missing key: a session that never signed in has no partition to extend.
    const partitionKey = this.partitionKey(sid);
    if (partitionKey) transaction.expire(partitionKey, ttl);
    const results = await transaction.exec();
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
  }

  /** The session's TTL: from its cookie, else ttlSeconds; never past its partition's absolute lifetime. */
  async #ttl(sid, session) {
    let ttl = this.ttlSeconds;
    const expires = session && session.cookie && session.cookie.expires;
    if (expires) ttl = Math.ceil((new Date(expires).getTime() - this.clock()) / 1000);
    const partitionKey = this.partitionKey(sid);
    if (!partitionKey || ttl <= 0) return ttl;
    // The partition's creation time is in its header; read only those bytes, not the whole cache.
    const head = await this.redis.getrangeBuffer(partitionKey, 0, MAX_HEADER_BYTES);
    if (!head || head.length === 0) return ttl;
    let createdAt;
    try {
      ({ createdAt } = readHeader(head));
    } catch {
      return ttl; // unreadable partition: the token cache treats it as a miss and replaces it; nothing to cap
    }
    const remaining = createdAt + this.tokenCache.settings.absoluteSeconds - Math.floor(this.clock() / 1000);
    return Math.min(ttl, remaining);
  }

  async #scanIds() {
    const match = `${escapeGlob(this.prefix)}{*}`;
    const ids = new Set();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      cursor = next;
      for (const key of keys) ids.add(key.slice(this.prefix.length + 1, -1));
    } while (cursor !== '0');
    return [...ids];
  }
}

module.exports = { RedisSessionStore };
