'use strict';
// The in-process cache (L1) of loaded partitions, kept coherent by Redis's invalidation messages
// (invalidation-listener.js). Bounded in bytes and entries (least recently used goes first); no entry outlives the
// Redis TTL it was read with, nor the notAfter in its value. Three rules keep it from ever serving what Redis no longer holds:
//   - a read whose key was invalidated while it was in flight is not cached (the invalidation may have overtaken
//     the reply, which then carries the old value);
//   - what this server wrote is cached as what Redis now holds, and served until the invalidation its own write
//     causes arrives. That one cannot simply be ignored: in BCAST mode Redis gathers the keys changed during one of
//     its event-loop cycles and sends one message per key (beforeSleep), so another server's write or sign-out run
//     in the same cycle shares it. After it (or after any that reached the write in flight) the entry is
//     "unconfirmed": the etag Redis holds is read (the value's first bytes, no decryption; the partition reader does),
//     which confirms the entry if it matches and drops it if not. That check starts at once, in the background
//     (onUnconfirmed), so that the next request usually finds the entry confirmed, or joins the check under way;
//     a lookup while it is not confirmed is served only once a check passes. It stays an outage
//     copy (getStale) meanwhile: a partition refreshed just before Redis failed is still served while it is down
//     (a sign-out sharing that message, then the outage before the next lookup, is the narrow price);
//   - while the invalidation connection is down (on a Cluster: any master's), nothing is served as a hit (an invalidation may be missed); the
//     entries stay only as the last known copies that a read may fall back to when Redis itself fails
//     (staleIfErrorSeconds), and an invalidation still removes them. A read or write that succeeds meanwhile
//     replaces its key's copy (what Redis held then is no older). Once tracking is back they are dropped: they may
//     have missed an invalidation meanwhile (a sign-out elsewhere), and must not come back in a later outage. One
//     exception: when this server's own Redis client is failing as tracking comes back (after a restart the
//     tracking connection is often back first: the client's reconnect backs off), they stay outage copies until
//     that client has an answer, since its reads meanwhile are still this outage's; a sign-out would have to land
//     between Redis coming back and tracking being on again to be missed. A read begun before tracking came back and
//     failing after it may also fall back to the copy there was when it began.

const { NO_METRICS } = require('../metrics');

const ENTRY_OVERHEAD_BYTES = 256; // the entry object, its key and the Map slot, roughly
// The body once as JSON and once as the parsed form msal-memory.js keeps for it (about as many bytes again).
const BODY_COPIES = 2;

class LocalCache {
  /**
   * @param {{ maxBytes: number, maxEntries: number, staleIfErrorSeconds: number, clock: () => number,
   *   metrics?: import('../metrics').Metrics }} options
   */
  constructor({ maxBytes, maxEntries, staleIfErrorSeconds, clock, metrics = NO_METRICS }) {
    this.maxBytes = maxBytes;
    this.maxEntries = maxEntries;
    this.staleIfErrorMs = staleIfErrorSeconds * 1000;
    this.clock = clock;
    this.metrics = metrics;
    // key -> { loaded, bytes, expiresAt, verifiedAt, epoch, awaitingOwn, unconfirmed, confirming }; Map order = LRU
    // order. awaitingOwn: this server wrote it, and that write's invalidation is still to come; unconfirmed: an
    // invalidation that may be that write's arrived, so the etag in Redis is checked before it is served (endConfirm);
    // confirming: that check, while under way
    this.entries = new Map();
    this.bytes = 0;
    this.inflight = new Map(); // key -> { readers, invalidations }: reads and writes in flight, and what reached them
    this.coherent = false; // the invalidation connection is up and tracking (on a Cluster: every master's)
    this.tracked = false; // it has been, once: outage copies are kept from then on
    // key -> entry: the outage copies from before tracking came back while this server's client was failing, until it
    // has an answer from Redis again (answered()); only getStale reads them. Not counted in bytes: they are gone at
    // the first answer.
    this.fromBefore = new Map();
    this.clientFailing = () => false; // whether this server's Redis client is failing now (set by RedisTokenCache)
    // On a Cluster, whether the client's view of the masters is still the one tracked (cluster-tracker.js sets it; it
    // suspends the cache when not). Asked on every lookup and store: a comparison.
    this.isCurrent = () => true;
    this.epoch = 0; // bumped whenever coherence is lost: entries and reads of an older epoch are not trusted
    // (key, entry) => starts the etag check of an entry that just became unconfirmed (set by RedisTokenCache: the
    // partition reader's background check); it sets entry.confirming while under way.
    this.onUnconfirmed = null;
    this.stats = { hits: 0, misses: 0, staleServed: 0, invalidations: 0, evictions: 0, flushes: 0, confirmations: 0 };
  }

  /**
   * The entry for `key` ({ loaded, unconfirmed, ... }) if it can be served without reading the partition from Redis,
   * else undefined. An `unconfirmed` one is served only once its etag check passes (beginRead, then endConfirm).
   */
  get(key) {
    const entry = this.entries.get(key);
    // isCurrent() before the epoch test: it may suspend the cache (a new epoch).
    if (!entry || !this.coherent || !this.isCurrent() || entry.epoch !== this.epoch || entry.expiresAt <= this.clock()) {
      this.stats.misses++;
      return undefined;
    }
    this.entries.delete(key); // most recently used goes last
    this.entries.set(key, entry);
    this.stats.hits++;
    return entry;
  }

  /**
   * The last known copy of `key`, for when Redis cannot be reached; undefined when there is none fresh enough.
   * `read` (from beginRead, still in flight): the read that failed; if its key's copy is gone since it began (tracking
   * came back: resume) and nothing reached it in flight, the copy there was then is still this request's to fall back to.
   */
  getStale(key, read = null) {
    const now = this.clock();
    const usable = (entry) => entry && entry.expiresAt > now && now - entry.verifiedAt <= this.staleIfErrorMs;
    let entry = this.entries.get(key);
    if (!usable(entry) && read && read.flight.invalidations === read.seen) entry = read.copy;
    if (!usable(entry)) entry = this.fromBefore.get(key);
    if (!usable(entry)) return undefined;
    this.stats.staleServed++;
    return entry.loaded;
  }

  /**
   * Call before reading `key` from Redis (or writing it, or checking its etag); hand the result to endRead (endWrite,
   * endConfirm).
   */
  beginRead(key) {
    let flight = this.inflight.get(key);
    if (!flight) {
      flight = { readers: 0, invalidations: 0 };
      this.inflight.set(key, flight);
    }
    flight.readers++;
    // The TTL counts from when the read was sent: the reply may be handled late in a busy process.
    const copy = this.entries.get(key);
    return { key, flight, epoch: this.epoch, startedAt: this.clock(), seen: flight.invalidations, copy };
  }

  /**
   * @param {{ key: string, flight: object, epoch: number, startedAt: number, seen: number }} read from beginRead
   * @param {object|null} loaded what was read (null: a failed read, nothing to cache)
   * @param {number} ttlMs the key's remaining time to live in Redis, as read with it (<= 0: do not cache)
   */
  endRead(read, loaded, ttlMs) {
    const arrived = this.#land(read);
    if (loaded === null) return;
    if (arrived === 0 && this.#trusted(read, ttlMs)) this.#store(read, loaded, ttlMs, { epoch: this.epoch });
    else if (arrived === 0 && this.#outageCopy(read, ttlMs)) this.#store(read, loaded, ttlMs, { epoch: -1 });
    else this.#remove(read.key); // what is kept for this key is older than what was just read, and no better
  }

  /**
   * Like endRead, for a write of `key` sent after beginRead(key): `loaded` is what Redis holds now (null when the
   * write left nothing to keep: then forget or demote the key). Its own invalidation is still to come; or one that
   * reached the write in flight may have been its own, another's, or both (one message): then kept unconfirmed. Not
   * kept after a forget() or a flush in flight (Infinity).
   */
  endWrite(write, loaded, ttlMs) {
    const arrived = this.#land(write);
    if (loaded === null) return;
    if (arrived !== Infinity && this.#trusted(write, ttlMs)) {
      this.#store(write, loaded, ttlMs, { epoch: this.epoch, awaitingOwn: arrived === 0, unconfirmed: arrived > 0 });
      if (arrived > 0) this.#unconfirmed(write.key);
    } else if (arrived === 0 && this.#outageCopy(write, ttlMs)) {
      this.#store(write, loaded, ttlMs, { epoch: -1 });
    } else {
      this.#remove(write.key);
    }
  }

  /**
   * The etag check of an unconfirmed `entry`, begun with beginRead: `etag` is the one Redis holds, null when the
   * check failed. True when the entry may be served (and is confirmed); false: a miss, read the partition.
   */
  endConfirm(check, entry, etag) {
    const arrived = this.#land(check);
    const current = this.entries.get(check.key) === entry;
    if (!current || etag !== entry.loaded.etag || arrived > 0 || check.epoch !== this.epoch || !this.coherent) {
      if (current && etag !== null && etag !== entry.loaded.etag) this.#remove(check.key); // Redis holds another version
      return false;
    }
    entry.unconfirmed = false;
    this.stats.confirmations++;
    return true;
  }

  /** A lookup that get() counted as a hit was not served from memory after all (its entry's check failed). */
  uncountHit() {
    this.stats.hits--;
    this.stats.misses++;
  }

  /** Ends a flight; returns how many invalidations reached it. */
  #land({ key, flight, seen }) {
    flight.readers--;
    if (flight.readers === 0 && this.inflight.get(key) === flight) this.inflight.delete(key);
    return flight.invalidations - seen;
  }

  #trusted({ epoch }, ttlMs) {
    return ttlMs > 0 && this.coherent && this.isCurrent() && epoch === this.epoch;
  }

  /**
   * Whether what a read or write just found in Redis may be kept as the key's last known copy (never a hit) while
   * tracking is down (after it was up once): it is no older than the copy kept, which a failing read would otherwise
   * fall back to. Not once tracking is back, nor when it came back and went down again while the read was in flight:
   * what it found may have changed before tracking was on again, unheard (resume).
   */
  #outageCopy({ epoch }, ttlMs) {
    return ttlMs > 0 && this.tracked && !this.coherent && this.epoch - epoch <= 1;
  }

  /**
   * A write of `key` failed, and may or may not have reached Redis: the copy is no longer served as a hit, but stays
   * as the last known copy for reads while Redis fails.
   */
  demote(key) {
    const flight = this.inflight.get(key);
    if (flight) flight.invalidations++;
    const entry = this.entries.get(key);
    if (entry) entry.epoch = -1;
  }

  /** Redis says `key` changed (or expired): forget it, and do not cache reads of it that are in flight. */
  invalidate(key) {
    this.stats.invalidations++;
    this.fromBefore.delete(key);
    const flight = this.inflight.get(key);
    if (flight) flight.invalidations++;
    const entry = this.entries.get(key);
    if (entry && entry.awaitingOwn) {
      // Its own write's, perhaps shared with another server's write of the same Redis cycle: check before serving.
      entry.awaitingOwn = false;
      entry.unconfirmed = true;
      this.#unconfirmed(key);
      return;
    }
    this.#remove(key);
  }

  #unconfirmed(key) {
    const entry = this.entries.get(key);
    if (entry && this.onUnconfirmed) this.onUnconfirmed(key, entry);
  }

  /** This server knows `key` changed, or must not be served again (a sign-out): forget it whatever comes. */
  forget(key) {
    const flight = this.inflight.get(key);
    if (flight) flight.invalidations = Infinity;
    this.#remove(key);
    this.fromBefore.delete(key);
  }

  /** Everything may have changed (FLUSHALL, FLUSHDB): forget everything. */
  flush() {
    this.stats.flushes++;
    for (const flight of this.inflight.values()) flight.invalidations = Infinity;
    this.entries.clear();
    this.fromBefore.clear();
    this.bytes = 0;
  }

  /** The invalidation connection is down: stop serving hits until it is back (entries stay as stale copies). */
  suspend() {
    this.coherent = false;
    this.epoch++;
  }

  /**
   * Tracking is on again: new reads may be cached and served. Entries from before may have missed an invalidation
   * (a sign-out, say) while it was off: they are dropped; or, when this server's client is failing now, kept as
   * outage copies only until it has an answer from Redis (answered).
   */
  resume() {
    this.coherent = true;
    this.tracked = true;
    this.epoch++;
    if (this.clientFailing()) for (const [key, entry] of this.entries) this.fromBefore.set(key, entry);
    else this.fromBefore.clear();
    this.entries.clear();
    this.bytes = 0;
  }

  /** This server's Redis client had an answer: the outage copies from before tracking came back are dropped. */
  answered() {
    if (this.fromBefore.size > 0) this.fromBefore.clear();
  }

  /** epoch -1: an outage copy only (getStale), never a hit. */
  #store({ key, startedAt }, loaded, ttlMs, { epoch, awaitingOwn = false, unconfirmed = false }) {
    // Never past the value's own notAfter either (its TTL in Redis may have been lifted: PERSIST).
    const expiresAt = loaded.notAfter ? Math.min(startedAt + ttlMs, loaded.notAfter * 1000) : startedAt + ttlMs;
    const bytes = ENTRY_OVERHEAD_BYTES + key.length + (loaded.body ? BODY_COPIES * loaded.body.length : 0);
    this.#remove(key); // older than what is stored now, even when that is too large to keep
    this.fromBefore.delete(key);
    if (bytes > this.maxBytes) return;
    const now = this.clock();
    this.entries.set(key, { loaded, bytes, expiresAt, verifiedAt: now, epoch, awaitingOwn, unconfirmed, confirming: null });
    this.bytes += bytes;
    for (const [oldest] of this.entries) {
      if (this.bytes <= this.maxBytes && this.entries.size <= this.maxEntries) break;
      this.#remove(oldest);
      this.stats.evictions++;
      this.metrics.evicted();
    }
  }

  #remove(key) {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}

module.exports = { LocalCache };
