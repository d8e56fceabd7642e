'use strict';
// An express-session store over ioredis (connect-redis dropped ioredis), with connect-redis's options and meaning
// (ttl, disableTouch, disableTTL, serializer, scanCount, ids()), that keeps a session and its token-cache partition
// together:
//   - keys `<prefix>{<tag>}` and `<token cache prefix>session:{<tag>}`, where tag is the keyed HMAC of the session id
//     (session-keys.js): no session id in clear in Redis, and both keys in one Redis Cluster hash slot;
//   - session values are the serializer's text, encrypted and bound to their key like partitions (stored-value.js,
//     type "s"); one that cannot be decrypted or parsed is no session (a warning), never an error;
//   - touching or saving the session gives both the same TTL, so they expire together (capped by the partition's
//     absolute lifetime, which the token cache promises);
//   - destroying the session deletes it and tombstones its partition (the token cache's sign-out);
//   - all, ids, length and clear SCAN every master of a Cluster.
// Every method returns a promise and also calls express-session's callback, once, with a CacheStoreError when Redis
// fails; nothing throws synchronously.

let Store;
try {
  ({ Store } = require('express-session'));
} catch {
  const { ConfigurationError } = require('./errors');
  throw new ConfigurationError('RedisSessionStore needs express-session: npm install express-session');
}
const { ConfigurationError, CacheStoreError, CacheFormatError } = require('./errors');
const { RedisGuard } = require('./redis-guard');
const { PartitionStore } = require('./partition-store');
const { DEFAULTS, normalizeSessionStoreOptions } = require('./options');
const { encodePrefix, sessionTag } = require('./session-keys');
const { serialize, deserialize } = require('./session-serializer');
const { scanKeys, escapeGlob } = require('./redis-scan');
const { importConnectRedisSessions } = require('./session-migration');
const { seal, open, readHeader, UnreadableValue, TYPE, MAX_HEADER_BYTES } = require('./stored-value');

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

/** Whole seconds from a ttl(session) function: connect-redis hands them to Redis as they are; here, checked. */
function ttlFrom(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    const got = typeof value === 'number' ? String(value) : typeof value;
    throw new ConfigurationError(`ttl(session) must return a number of seconds (it returned ${got})`);
  }
  return Math.ceil(value);
}

class RedisSessionStore extends Store {
  /**
   * @param {import('./index').RedisSessionStoreOptions} options checked by options.js (normalizeSessionStoreOptions)
   */
  constructor(options) {
    super();
    const settings = normalizeSessionStoreOptions(options);
    this.redis = settings.redis;
    this.prefix = settings.prefix;
    this.keyPrefix = encodePrefix(settings.prefix);
    this.ttl = settings.ttl;
    this.scanCount = settings.scanCount;
    this.serializer = settings.serializer;
    this.disableTouch = settings.disableTouch;
    this.disableTTL = settings.disableTTL;
    this.tokenCache = settings.tokenCache;
    this.keyring = settings.keyring;
    this.migrateLegacyValues = settings.migrateLegacyValues;
    this.logger = settings.logger;
    this.clock = settings.clock;
    if (!this.tokenCache && this.keyring.plaintext) {
      this.logger.warn('msal-redis-cache: insecurePlaintextStorage is on: sessions are stored UNENCRYPTED in Redis.');
    }
    // The token cache's guard when there is one: one breaker for one Redis.
    this.guard = this.tokenCache
      ? this.tokenCache.shared.context.guard
      : new RedisGuard({ commandTimeoutMs: DEFAULTS.commandTimeoutMs, clock: this.clock, logger: this.logger });
    this.maxValueBytes = settings.maxValueBytes;
    // A session is read as a partition is: one script on one key sizes it in Redis and transfers it only when it is
    // within maxValueBytes (a 256 MiB value would otherwise time out, or stall the process while it arrives).
    this.values = new PartitionStore(this.redis, this.guard, settings);
  }

  /** The Redis key of a session. */
  sessionKey(sid) {
    return this.keyPrefix + sessionTag(this.keyring, sid);
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

  /** Restarts the session's TTL (and its partition's); nothing with disableTouch or disableTTL, as connect-redis. */
  touch(sid, session, callback) {
    const touched = this.disableTouch || this.disableTTL ? Promise.resolve() : this.#save(sid, session, false);
    return withCallback(touched, callback);
  }

  destroy(sid, callback) {
    return withCallback((async () => this.#destroyTag(sessionTag(this.keyring, sid)))(), callback);
  }

  /** Every readable session, with its `id` (express-session's optional `all`). Scans; for tools, not requests. */
  all(callback) {
    const read = async () => (await this.#readAll()).map(({ sid, session }) => ({ ...session, id: sid }));
    return withCallback(read(), callback);
  }

  /** The ids of every readable session (connect-redis's `ids`). They are only in the encrypted values: reads them all. */
  ids(callback) {
    const read = async () => (await this.#readAll()).map(({ sid }) => sid);
    return withCallback(read(), callback);
  }

  /** How many session keys there are (readable or not): counted by SCAN, nothing read. */
  length(callback) {
    const count = async () => {
      let total = 0;
      for await (const keys of this.#scan()) total += keys.length;
      return total;
    };
    return withCallback(count(), callback);
  }

  /** Deletes every session (and tombstones their token-cache partitions). */
  clear(callback) {
    const clearAll = async () => {
      for await (const keys of this.#scan()) {
        await Promise.all(keys.map((key) => this.#destroyTag(key.slice(this.keyPrefix.length))));
      }
    };
    return withCallback(clearAll(), callback);
  }

  /**
   * Saves the sessions a connect-redis store keeps at `<prefix><id>` into this store, under the same ids (see
   * session-migration.js). Resolves to { imported, existing, unreadable }.
   */
  importConnectRedisSessions(options, callback) {
    if (typeof options === 'function') return this.importConnectRedisSessions({}, options);
    return withCallback(importConnectRedisSessions(this, options ?? {}), callback);
  }

  /** Every Redis call goes through the guard: bounded in time, a CacheStoreError when it fails. */
  #call(command, key, operation) {
    return this.guard.run(command, key, operation);
  }

  /** This store's session keys, in batches, on every master of a Cluster. */
  #scan() {
    return scanKeys(this.redis, `${escapeGlob(this.keyPrefix)}{*}`, this.scanCount, (...args) => this.#call(...args));
  }

  /** Every readable session and its id; one SCAN batch read at a time. */
  async #readAll() {
    const sessions = [];
    for await (const keys of this.#scan()) {
      for (const found of await Promise.all(keys.map((key) => this.#read(key)))) {
        if (found) sessions.push(found);
      }
    }
    return sessions;
  }

  async #destroyTag(tag) {
    await this.#call('DEL', this.keyPrefix + tag, () => this.redis.del(this.keyPrefix + tag));
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
    const { session } = await deserialize(JSON, json);
    if (session === null) {
      this.logger.warn('msal-redis-cache: ignoring unreadable version 0.1 session (treated as no session)');
    }
    return session;
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
    const { value, problem: stored } = await this.values.read(key);
    if (stored) return unreadable(stored); // another Redis type, or over maxValueBytes
    if (value === null) return null;
    let opened;
    try {
      opened = open(this.keyring, key, value);
    } catch (err) {
      if (err instanceof UnreadableValue) return unreadable(err.message);
      throw err;
    }
    if (opened.type !== TYPE.session) return unreadable('not a session');
    const { session, problem } = await deserialize(this.serializer, opened.body.toString('utf8'));
    // stored-value.js stores an empty meta as none: that is the session id "".
    return problem ? unreadable(problem) : { sid: opened.meta ?? '', session };
  }

  async #save(sid, session, write) {
    const tag = sessionTag(this.keyring, sid);
    const sessionKey = this.keyPrefix + tag;
    // Before any Redis call: a session that cannot be serialized, or is over maxValueBytes, changes nothing.
    const value = write ? this.#seal(sid, sessionKey, session) : null;
    const ttl = await this.#ttl(sid, session);
    if (ttl <= 0) {
      // Already expired (cookie in the past, ttl(session) <= 0, or the partition reached its absolute lifetime):
      // gone, as connect-redis does.
      await this.#destroyTag(tag);
      return;
    }
    const transaction = this.redis.multi();
    if (write) {
      if (this.disableTTL) transaction.set(sessionKey, value);
      else transaction.set(sessionKey, value, 'EX', ttl);
    } else {
      transaction.expire(sessionKey, ttl);
    }
    // EXPIRE does nothing to a missing key: a session that never signed in has no partition to extend.
    const partitionKey = this.#partitionKeyOfTag(tag);
    if (partitionKey) transaction.expire(partitionKey, ttl);
    await this.#call(write ? 'SET' : 'EXPIRE', sessionKey, async () => {
      // EXECABORT says only that a queued command was refused; the refusal (NOPERM, ...) is what to report.
      const results = await transaction.exec().catch((err) => {
        throw (err.previousErrors && err.previousErrors[0]) || err;
      });
      const failed = results.find(([err]) => err);
      if (failed) throw failed[0];
    });
    // Another hash slot than the new keys on a Cluster, so not in the transaction.
    if (this.migrateLegacyValues && write) {
      await this.#call('DEL', this.#legacyKey(sid), () => this.redis.del(this.#legacyKey(sid)));
    }
  }

  /** The stored value of a session: its serializer's text, encrypted and bound to `sessionKey`. */
  #seal(sid, sessionKey, session) {
    const body = serialize(this.serializer, session);
    const createdAt = Math.floor(this.clock() / 1000);
    const { value } = seal(this.keyring, sessionKey, { type: TYPE.session, createdAt, meta: sid, body });
    if (value.length > this.maxValueBytes) {
      throw new CacheFormatError(
        `session "${sessionKey}" would be ${value.length} bytes, over maxValueBytes (${this.maxValueBytes}); not stored`,
      );
    }
    return value;
  }

  /**
   * The session's TTL, as connect-redis computes it: ttl(session) when ttl is a function, else from the cookie's
   * expiry, else ttl; and never past its partition's absolute lifetime.
   */
  async #ttl(sid, session) {
    let ttl = this.ttl;
    const expires = session && session.cookie && session.cookie.expires;
    if (typeof this.ttl === 'function') ttl = ttlFrom(await this.ttl(session));
    else if (expires) ttl = Math.ceil((new Date(expires).getTime() - this.clock()) / 1000);
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
}

module.exports = { RedisSessionStore };
