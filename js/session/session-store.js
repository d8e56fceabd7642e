'use strict';
// An express-session store over the app's client (ioredis or node-redis), with connect-redis's options and meaning
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
  const { ConfigurationError } = require('../errors');
  throw new ConfigurationError('RedisSessionStore needs express-session: npm install express-session');
}
const { ConfigurationError, CacheStoreError, CacheFormatError } = require('../errors');
const { RedisGuard } = require('../redis/guard');
const { PartitionStore } = require('../storage/partition-store');
const { driverFor } = require('../redis/driver');
const { DEFAULTS, normalizeSessionStoreOptions } = require('../options');
const { encodePrefix, sessionTag } = require('./session-keys');
const { serialize, deserialize } = require('./session-serializer');
const { scanKeys, escapeGlob } = require('../redis/scan');
const { importConnectRedisSessions, importLegacySessions } = require('./session-migration');
const { seal, open, readHeader, UnreadableValue, TYPE, MAX_HEADER_BYTES } = require('../storage/stored-value');

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
   * @param {import('../index').RedisSessionStoreOptions} options checked by options.js (normalizeSessionStoreOptions)
   */
  constructor(options) {
    super();
    const settings = normalizeSessionStoreOptions(options);
    this.redis = settings.redis;
    this.driver = driverFor(settings.redis); // every Redis call goes through it (js/redis/driver.js)
    this.prefix = settings.prefix;
    this.keyPrefix = encodePrefix(settings.prefix);
    this.ttl = settings.ttl;
    this.scanCount = settings.scanCount;
    this.serializer = settings.serializer;
    this.disableTouch = settings.disableTouch;
    this.disableTTL = settings.disableTTL;
    this.tokenCache = settings.tokenCache;
    this.keyring = settings.keyring;
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
    // within maxValueBytes (a 256 MiB value would otherwise time out, or stall the process while it arrives); its
    // compare-and-set seals a session again without losing a concurrent save.
    this.values = new PartitionStore(this.driver, this.guard, settings);
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

  /**
   * Moves version 0.1's clear-text sessions and their token-cache partitions into this store (see
   * session-migration.js): an offline step, never done on a request. Resolves to { imported, existing, unreadable }.
   */
  importLegacySessions(options, callback) {
    if (typeof options === 'function') return this.importLegacySessions({}, options);
    return withCallback(importLegacySessions(this, options ?? {}), callback);
  }

  /** Every Redis call goes through the guard: bounded in time, a CacheStoreError when it fails. */
  #call(command, key, operation) {
    return this.guard.run(command, key, operation);
  }

  /** This store's session keys, in batches, on every master of a Cluster. */
  #scan() {
    return scanKeys(this.driver, `${escapeGlob(this.keyPrefix)}{*}`, this.scanCount, (...args) => this.#call(...args));
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
    await this.#call('DEL', this.keyPrefix + tag, () => this.driver.del(this.keyPrefix + tag));
    const partitionKey = this.#partitionKeyOfTag(tag);
    if (partitionKey) await this.tokenCache.shared.writer.remove(partitionKey);
  }

  // Version 0.1's clear-text sessions are never read here: anyone who can write to Redis could plant one and be
  // signed in as anyone. importLegacySessions moves them, once, offline.
  async #get(sid) {
    const found = await this.#read(this.sessionKey(sid));
    return found && found.sid === sid ? found.session : null;
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
      opened = open(this.keyring, key, value, Math.floor(this.clock() / 1000));
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
    // Before any Redis call: a session that cannot be serialized changes nothing.
    const body = write ? serialize(this.serializer, session) : null;
    const [{ ttl, partitionTtl }, sessionHeader] = await Promise.all([
      this.#ttl(sid, session),
      write ? null : this.#header(sessionKey),
    ]);
    if (ttl <= 0) {
      // Already expired (cookie in the past, ttl(session) <= 0, or the partition reached its absolute lifetime):
      // gone, as connect-redis does.
      await this.#destroyTag(tag);
      return;
    }
    const now = Math.floor(this.clock() / 1000);
    // A touch may not carry a session past the notAfter sealed into it: once the new TTL would, the stored session
    // is sealed again (as it is now, not as this request saw it: another request may have changed it since).
    const reseal = sessionHeader && sessionHeader.type === TYPE.session && sessionHeader.notAfter !== 0 &&
      now + ttl > sessionHeader.notAfter;
    if (reseal) await this.#reseal(sessionKey, ttl);
    // One MULTI: the session key and its partition key share a hash tag (one slot on a Cluster).
    const commands = [];
    if (write) {
      const value = this.#seal(sessionKey, { createdAt: now, sid, body, ttl });
      commands.push(this.disableTTL ? ['SET', sessionKey, value] : ['SET', sessionKey, value, 'EX', ttl]);
    } else if (!reseal) {
      commands.push(['EXPIRE', sessionKey, ttl]);
    }
    // EXPIRE does nothing to a missing key: a session that never signed in has no partition to extend.
    const partitionKey = this.#partitionKeyOfTag(tag);
    if (partitionKey && partitionTtl > 0) commands.push(['EXPIRE', partitionKey, partitionTtl]);
    if (commands.length === 0) return;
    await this.#call(write ? 'SET' : 'EXPIRE', sessionKey, () => this.driver.transaction(commands));
  }

  /**
   * A session value. Its notAfter leaves room for touches: twice its TTL, so a session in use is sealed again at
   * most once per TTL (see #save), and a copy of it put back in Redis is refused after that. None without a TTL.
   */
  #seal(sessionKey, { createdAt, sid, body, ttl }) {
    const notAfter = this.disableTTL ? 0 : createdAt + 2 * ttl;
    const { value } = seal(this.keyring, sessionKey, { type: TYPE.session, createdAt, notAfter, meta: sid, body });
    if (value.length > this.maxValueBytes) {
      throw new CacheFormatError(
        `session "${sessionKey}" would be ${value.length} bytes, over maxValueBytes (${this.maxValueBytes}); not stored`,
      );
    }
    return value;
  }

  /** Seals the stored session again with a later notAfter: a compare-and-set, so a concurrent save wins. */
  async #reseal(sessionKey, ttl) {
    const state = await this.values.read(sessionKey);
    if (state.value === null) return;
    let opened;
    try {
      opened = open(this.keyring, sessionKey, state.value, Math.floor(this.clock() / 1000));
    } catch (err) {
      if (err instanceof UnreadableValue) return; // the next get says why; nothing to extend
      throw err;
    }
    if (opened.type !== TYPE.session) return;
    const value = this.#seal(sessionKey, {
      createdAt: Math.floor(this.clock() / 1000),
      sid: opened.meta ?? '',
      body: opened.body,
      ttl,
    });
    await this.values.compareAndSet(sessionKey, state.etag, value, ttl);
  }

  /** The header of the value at `key` (its first bytes only), or null when there is none this package can read. */
  async #header(key) {
    let head;
    try {
      head = await this.#call('GETRANGE', key, () => this.driver.getRange(key, 0, MAX_HEADER_BYTES));
    } catch (err) {
      if (isWrongType(err)) return null; // not ours: reads treat it as unreadable
      throw err;
    }
    if (!head || head.length === 0) return null;
    try {
      return readHeader(head);
    } catch {
      return null; // unreadable: reads treat it as a miss and replace it; nothing to cap
    }
  }

  /**
   * The session's TTL, as connect-redis computes it (ttl(session) when ttl is a function, else from the cookie's
   * expiry, else ttl) and never past its partition's absolute lifetime; and the TTL its partition may be given: the
   * same, but never past the partition's own notAfter (only a write of the partition extends that).
   * @returns {Promise<{ ttl: number, partitionTtl: number }>}
   */
  async #ttl(sid, session) {
    let ttl = this.ttl;
    const expires = session && session.cookie && session.cookie.expires;
    if (typeof this.ttl === 'function') ttl = ttlFrom(await this.ttl(session));
    else if (expires) ttl = Math.ceil((new Date(expires).getTime() - this.clock()) / 1000);
    const partitionKey = this.partitionKey(sid);
    if (!partitionKey || ttl <= 0) return { ttl, partitionTtl: ttl };
    const header = await this.#header(partitionKey);
    const now = Math.floor(this.clock() / 1000);
    if (!header) return { ttl, partitionTtl: ttl };
    if (header.type !== TYPE.partition) return { ttl, partitionTtl: Math.min(ttl, header.notAfter - now) };
    const capped = Math.min(ttl, header.createdAt + this.tokenCache.settings.absoluteSeconds - now);
    return { ttl: capped, partitionTtl: Math.min(capped, header.notAfter - now) };
  }
}

module.exports = { RedisSessionStore };
