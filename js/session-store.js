'use strict';
// An express-session store over ioredis (connect-redis dropped ioredis), that keeps a session and its token-cache
// partition together:
//   - keys `<prefix>{<tag>}` and `<token cache prefix>session:{<tag>}`, where tag is the keyed HMAC of the session id
//     (partitions.js): no session id in clear in Redis, and the braces are a Redis Cluster hash tag, so both live in
//     one hash slot;
//   - session values are encrypted and bound to their key like partitions (stored-value.js, type "s"); one that
//     cannot be decrypted is no session (a warning), never an error;
//   - touching or saving the session gives both the same TTL, so they expire together (capped by the partition's
//     absolute lifetime, which the token cache promises);
//   - destroying the session deletes it and tombstones its partition (the token cache's sign-out).
// Modelled on connect-redis: every method returns a promise and also calls express-session's callback.

let Store;
try {
  ({ Store } = require('express-session'));
} catch {
  const { ConfigurationError } = require('./errors');
  throw new ConfigurationError('RedisSessionStore needs express-session: npm install express-session');
}
const { ConfigurationError, CacheStoreError } = require('./errors');
const { RedisGuard } = require('./redis-guard');
const { DEFAULTS } = require('./options');
const { sessionTag } = require('./partitions');
const { seal, open, readHeader, UnreadableValue, TYPE, MAX_HEADER_BYTES } = require('./stored-value');
const { createKeyring } = require('./keyring');

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

/** A value of another Redis type at a key of ours (WRONGTYPE): unusable, like a corrupt value, never a failure. */
const isWrongType = (err) => err instanceof CacheStoreError && /^WRONGTYPE/.test(err.cause && err.cause.message);

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
   * Without a tokenCache: encryptionKeys, keyNameSecret and insecurePlaintextStorage as for RedisTokenCache.
   */
  constructor(options = {}) {
    super();
    const { redis, prefix = 'sess:', ttlSeconds = DEFAULT_TTL_SECONDS, tokenCache = null } = options;
    if (!redis || typeof redis.getBuffer !== 'function' || typeof redis.set !== 'function') {
      throw new ConfigurationError('options.redis must be an ioredis client (Redis or Cluster)');
    }
    if (typeof prefix !== 'string') throw new ConfigurationError('prefix must be a string');
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) throw new ConfigurationError('ttlSeconds must be a positive integer');
    if (tokenCache !== null && !(tokenCache.settings && tokenCache.shared)) {
      throw new ConfigurationError('tokenCache must be a RedisTokenCache');
    }
    this.redis = redis;
    this.prefix = prefix;
    this.ttlSeconds = ttlSeconds;
    this.tokenCache = tokenCache;
    this.keyring = tokenCache ? tokenCache.settings.keyring : createKeyring(options);
    this.migrateLegacyValues = tokenCache ? tokenCache.settings.migrateLegacyValues : false;
    this.logger = options.logger ?? (tokenCache ? tokenCache.settings.logger : console);
    if (!tokenCache && this.keyring.plaintext) {
      this.logger.warn('msal-redis-cache: insecurePlaintextStorage is on: sessions are stored UNENCRYPTED in Redis.');
    }
    this.clock = options.clock ?? (tokenCache ? tokenCache.settings.clock : Date.now);
    // The token cache's guard when there is one: one breaker for one Redis.
    this.guard = tokenCache
      ? tokenCache.shared.context.guard
      : new RedisGuard({ commandTimeoutMs: DEFAULTS.commandTimeoutMs, clock: this.clock, logger: this.logger });
  }

  /** The Redis key of a session. */
  sessionKey(sid) {
    return this.prefix + sessionTag(this.keyring, sid);
  }

  /** The Redis key of a session's token-cache partition, or null without a tokenCache. */
  partitionKey(sid) {
    return this.#partitionKeyOfTag(sessionTag(this.keyring, sid));
  }

  #partitionKeyOfTag(tag) {
    return this.tokenCache ? `${this.tokenCache.settings.prefix}session:${tag}` : null;
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
    return withCallback((async () => this.#destroyTag(sessionTag(this.keyring, sid)))(), callback);
  }

  /** Every readable session, as an array (express-session's optional `all`). Scans; for tools, not requests. */
  all(callback) {
    const read = async () => {
      const sessions = [];
      for (const key of await this.#scanKeys()) {
        const found = await this.#read(key);
        if (found) sessions.push({ ...found.session, id: found.sid });
      }
      return sessions;
    };
    return withCallback(read(), callback);
  }

  length(callback) {
    return withCallback(this.#scanKeys().then((keys) => keys.length), callback);
  }

  /** Deletes every session (and tombstones their token-cache partitions). */
  clear(callback) {
    const clearAll = async () => {
      for (const key of await this.#scanKeys()) await this.#destroyTag(key.slice(this.prefix.length));
    };
    return withCallback(clearAll(), callback);
  }

  /** Every Redis call goes through the guard: bounded in time, a CacheStoreError when it fails. */
  #call(command, key, operation) {
    return this.guard.run(command, key, operation);
  }

  async #destroyTag(tag) {
    await this.#call('DEL', this.prefix + tag, () => this.redis.del(this.prefix + tag));
    const partitionKey = this.#partitionKeyOfTag(tag);
    if (partitionKey) await this.tokenCache.shared.writer.remove(partitionKey);
  }

  async #get(sid) {
    const found = await this.#read(this.sessionKey(sid));
    if (found) return found.sid === sid ? found.session : null;
    return this.migrateLegacyValues ? this.#readLegacy(sid) : null;
  }

  /** Version 0.1 kept the session as clear JSON at `<prefix>{<sid>}`; its next save moves it (see #save). */
  async #readLegacy(sid) {
    const json = await this.#call('GET', this.#legacyKey(sid), () => this.redis.get(this.#legacyKey(sid)));
    if (json === null) return null;
    try {
      const session = JSON.parse(json);
      if (session && typeof session === 'object' && session.cookie && typeof session.cookie === 'object') return session;
    } catch {
      // falls through to the warning
    }
    this.logger.warn('msal-redis-cache: ignoring unreadable version 0.1 session (treated as no session)');
    return null;
  }

  #legacyKey(sid) {
    return `${this.prefix}{${sid}}`;
  }

  /** The session stored at `key` and its id, or null (missing or unreadable: no session, with a warning). */
  async #read(key) {
    const unreadable = (reason) => {
      this.logger.warn(`msal-redis-cache: ignoring unreadable session "${key}" (treated as no session): ${reason}`);
      return null;
    };
    let value;
    try {
      value = await this.#call('GET', key, () => this.redis.getBuffer(key));
    } catch (err) {
      if (isWrongType(err)) return unreadable('holds another Redis type than a string');
      throw err;
    }
    if (value === null) return null;
    let opened;
    let session;
    try {
      opened = open(this.keyring, key, value);
      if (opened.type !== TYPE.session) return unreadable('not a session');
      session = JSON.parse(opened.body.toString('utf8'));
    } catch (err) {
      if (err instanceof UnreadableValue || err instanceof SyntaxError) return unreadable(err.message);
      throw err;
    }
    // express-session dereferences session.cookie: anything else would crash the request, so it is no session.
    if (!session || typeof session !== 'object' || !session.cookie || typeof session.cookie !== 'object') {
      return unreadable('not an express-session session');
    }
    return { sid: opened.meta, session };
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
    if (write) {
      const { value } = seal(this.keyring, sessionKey, {
        type: TYPE.session,
        createdAt: Math.floor(this.clock() / 1000),
        meta: sid,
        body: JSON.stringify(session),
      });
      transaction.set(sessionKey, value, 'EX', ttl);
    } else {
      transaction.expire(sessionKey, ttl);
    }
    // EXPIRE does nothing to a missing key: a session that never signed in has no partition to extend.
    const partitionKey = this.partitionKey(sid);
    if (partitionKey) transaction.expire(partitionKey, ttl);
    await this.#call(write ? 'SET' : 'EXPIRE', sessionKey, async () => {
      const results = await transaction.exec();
      const failed = results.find(([err]) => err);
      if (failed) throw failed[0];
    });
    // Another hash slot than the new keys on a Cluster, so not in the transaction.
    if (this.migrateLegacyValues && write) {
      await this.#call('DEL', this.#legacyKey(sid), () => this.redis.del(this.#legacyKey(sid)));
    }
  }

  /** The session's TTL: from its cookie, else ttlSeconds; never past its partition's absolute lifetime. */
  async #ttl(sid, session) {
    let ttl = this.ttlSeconds;
    const expires = session && session.cookie && session.cookie.expires;
    if (expires) ttl = Math.ceil((new Date(expires).getTime() - this.clock()) / 1000);
    const partitionKey = this.partitionKey(sid);
    if (!partitionKey || ttl <= 0) return ttl;
    // The partition's creation time is in its header; read only those bytes, not the whole cache.
    let head;
    try {
      head = await this.#call('GETRANGE', partitionKey, () => this.redis.getrangeBuffer(partitionKey, 0, MAX_HEADER_BYTES));
    } catch (err) {
      if (isWrongType(err)) return ttl; // not a partition: the token cache treats it as a miss; nothing to cap
      throw err;
    }
    if (!head || head.length === 0) return ttl;
    let header;
    try {
      header = readHeader(head);
    } catch {
      return ttl; // unreadable partition: the token cache treats it as a miss and replaces it; nothing to cap
    }
    if (header.type !== TYPE.partition) return ttl;
    const { createdAt } = header;
    const remaining = createdAt + this.tokenCache.settings.absoluteSeconds - Math.floor(this.clock() / 1000);
    return Math.min(ttl, remaining);
  }

  async #scanKeys() {
    const match = `${escapeGlob(this.prefix)}{*}`;
    const found = new Set();
    let cursor = '0';
    do {
      const [next, keys] = await this.#call('SCAN', match, () => this.redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT));
      cursor = next;
      for (const key of keys) found.add(key);
    } while (cursor !== '0');
    return [...found];
  }
}

module.exports = { RedisSessionStore };
