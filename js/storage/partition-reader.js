'use strict';
// Loads one partition: from the in-process cache when it holds a coherent copy (no Redis round trip), else reads it
// (partition-store.js), verifies and decrypts it (stored-value.js), and says what a request loaded: the base its next
// write is checked and merged against. Anything unusable is a cache miss with a warning, never an exception: a stuck
// user is worse than a sign-in. When Redis fails, the read fails open: to the last copy this server saw (counted),
// else to a miss whose base is unknown (its write then merges with whatever is stored).

const { open, UnreadableValue, TYPE, CLOCK_SKEW_SECONDS } = require('./stored-value');
const { decodeLegacyValue } = require('./legacy-value');
const { CacheStoreError } = require('../errors');
const { LEGACY_KEY_LABEL } = require('./partition-store');
const { partitionKindOfKey } = require('../msal/partitions');

// The etag of a base that could not be read: it matches nothing, so the write merges with what is stored.
const UNKNOWN_ETAG = '!unknown';
const REDIS_UNAVAILABLE = 'Redis is unavailable';

/**
 * @typedef {object} LoadedPartition
 * @property {string} etag  the version read ("" when the key was missing)
 * @property {string|null} body  the cache JSON; null when there is none (missing, removed or unreadable)
 * @property {number|null} createdAt  the partition's first write (epoch seconds)
 * @property {number|null} notAfter  when the stored value stops being usable (epoch seconds, from its header)
 * @property {string|null} owner  the account a session partition belongs to
 * @property {boolean} removed  a tombstone: the partition was signed out and must not come back from older loads
 * @property {{ key: string, etag: string }|null} legacy  the version 0.1 value it was migrated from
 * @property {number} storedBytes  the size of the stored value
 * @property {string|null} problem  why a stored value was ignored (unreadable, foreign, too large), else null
 * @property {boolean} offline  Redis could not be asked: this is the last copy this server saw, or a miss
 */

const missing = (etag, problem = null) => ({
  etag,
  body: null,
  createdAt: null,
  notAfter: null,
  owner: null,
  removed: false,
  legacy: null,
  storedBytes: 0,
  problem,
  offline: false,
});

/** A partition value that was read, or that this server just wrote. */
const present = (etag, { body, createdAt, notAfter, owner, storedBytes }) => ({
  ...missing(etag),
  body,
  createdAt,
  notAfter,
  owner,
  storedBytes,
});


/**
 * What a stored state means for a writer or reader of `key`.
 * @param {{ keyring: object, logger: { warn(message: string): void }, clock: () => number,
 *   settings: { prefix: string, absoluteSeconds: number } }} context
 * @param {import('./partition-store').StoredState} state
 * @returns {LoadedPartition}
 */
function interpret({ keyring, logger, metrics, clock, settings }, key, state) {
  const unreadable = (reason, kind = 'corrupt') => {
    if (metrics) metrics.unreadable(kind);
    logger.warn(`msal-redis-cache: ignoring unreadable cache partition "${key}" (treated as a cache miss): ${reason}`);
    return missing(state.etag, reason);
  };
  if (state.value === null) {
    if (!state.problem) return missing(state.etag);
    return unreadable(state.problem, state.problem.includes('maxValueBytes') ? 'too_large' : 'foreign');
  }
  const now = Math.floor(clock() / 1000);
  let opened;
  try {
    opened = open(keyring, key, state.value, now);
  } catch (err) {
    if (!(err instanceof UnreadableValue)) throw err;
    return unreadable(err.message, err.expired ? 'expired' : 'corrupt');
  }
  if (opened.type === TYPE.tombstone) return { ...missing(state.etag), notAfter: opened.notAfter, removed: true };
  if (opened.type !== TYPE.partition) return unreadable('holds a session, not a token cache', 'foreign');
  // Its notAfter already keeps it within createdAt + absoluteSeconds; this also holds when absoluteSeconds was
  // lowered since it was written.
  const ageLimit = opened.createdAt + settings.absoluteSeconds + CLOCK_SKEW_SECONDS;
  // Every kind but app tokens has an absolute lifetime (the core's TTL rule).
  if (partitionKindOfKey(settings.prefix, key) !== 'app' && now > ageLimit) {
    return unreadable(`older than absoluteSeconds (${settings.absoluteSeconds} s)`, 'expired');
  }
  return present(state.etag, {
    body: opened.body.toString('utf8'),
    createdAt: opened.createdAt,
    notAfter: opened.notAfter,
    owner: opened.meta,
    storedBytes: state.value.length,
  });
}

/**
 * @param {{ store: import('./partition-store').PartitionStore, keyring: object, logger: object,
 *   migrateLegacyValues: boolean, localCache: import('../local-cache/local-cache').LocalCache|null,
 *   counters: { staleReads: number, missedReads: number } }} context
 * @param {{ key: string, legacyKey: string|null }} target full Redis keys (with the prefix); legacyKey: where
 *   version 0.1 kept it (null for session partitions, which are never migrated on read)
 * @param {{ offline?: boolean, budget?: { spentMs: number } }} [options] offline: a Redis call of this request
 *   already failed; do not wait on another one; budget: the request's share of commandTimeoutMs (guard.js). Either
 *   way one request waits at most one commandTimeoutMs
 * @returns {Promise<LoadedPartition>}
 */
async function loadPartition(context, target, { offline = false, budget = null } = {}) {
  const { localCache } = context;
  if (context.listener) context.listener.start();
  const entry = localCache && localCache.get(target.key);
  if (entry && !entry.unconfirmed) {
    context.metrics.lookup('L1Cache', true);
    return entry.loaded;
  }
  // An unconfirmed entry: the check begun in the background when it became so (checkInBackground), else one now.
  const check = entry ? await ((!offline && entry.confirming) || confirmed(context, target.key, entry, offline, budget)) : null;
  if (check && !check.loaded) localCache.uncountHit();
  if (localCache) context.metrics.lookup('L1Cache', Boolean(check && check.loaded));
  if (check && check.loaded) return check.loaded;
  // A failed check is this request's Redis failure: no second call (one request waits at most one commandTimeoutMs).
  if (offline || (check && check.failed)) return withoutRedis(context, target.key, check && check.read);
  const read = localCache && localCache.beginRead(target.key);
  let result = null;
  try {
    result = await readPartitionWithTtl(context, target, budget);
    context.metrics.lookup('L2Cache', result.loaded.body !== null);
    return result.loaded;
  } catch (err) {
    if (!(err instanceof CacheStoreError)) throw err;
    return withoutRedis(context, target.key, read);
  } finally {
    // Legacy values are not cached: their next write moves them to another key.
    if (read) localCache.endRead(read, result && !result.loaded.legacy ? result.loaded : null, result ? result.ttlMs : 0);
  }
}

/**
 * Checks an unconfirmed entry (this server's own write, after an invalidation that may also have been another
 * server's: local-cache.js): { loaded } the entry's copy if Redis still holds that version, else null (a miss);
 * { failed } when Redis could not be asked (none is when a call of this request already failed: offline).
 */
async function confirmed({ localCache, store }, key, entry, offline, budget) {
  const check = localCache.beginRead(key);
  let etag = null;
  let served = false;
  try {
    if (!offline) etag = await store.etag(key, { budget });
  } catch (err) {
    if (!(err instanceof CacheStoreError)) throw err;
  } finally {
    served = localCache.endConfirm(check, entry, etag);
  }
  return { loaded: served ? entry.loaded : null, failed: etag === null, read: check };
}

/**
 * Starts the etag check of an entry that just became unconfirmed (LocalCache.onUnconfirmed), so that the next lookup
 * finds it confirmed, or joins the check (entry.confirming) instead of waiting for one of its own from the start. A
 * lookup that joins a check that fails treats it as its own Redis failure: it waited on Redis once.
 */
function checkInBackground(context, key, entry) {
  if (entry.confirming) return;
  const check = confirmed(context, key, entry, false, null).catch(() => ({ loaded: null, failed: true, read: null }));
  entry.confirming = check;
  check.then(() => {
    if (entry.confirming === check) entry.confirming = null;
  });
}

/**
 * What a read gives when Redis cannot answer (`read`: its beginRead, if it got that far): the last copy this server
 * saw (counted); else, for a user's partition with readFailure "closed", a CacheStoreError (a miss would make msal
 * ask a signed-in user to sign in again; an error lets the app answer "try again"); else a miss (for app and
 * on-behalf-of tokens msal then asks the identity provider, which is harmless).
 */
function withoutRedis({ localCache, counters, metrics, settings }, key, read = null) {
  const stale = localCache && localCache.getStale(key, read);
  if (stale) {
    counters.staleReads++;
    metrics.offlineRead('stale');
    return { ...stale, offline: true };
  }
  const kind = partitionKindOfKey(settings.prefix, key);
  if (settings.readFailure === 'closed' && (kind === 'session' || kind === 'account')) {
    counters.failedReads++;
    metrics.offlineRead('failed');
    throw new CacheStoreError(
      `Redis is unavailable: partition "${key}" could not be read, and this server has no recent copy of it ` +
        '(readFailure "closed": answer "try again", not "sign in")',
    );
  }
  counters.missedReads++;
  metrics.offlineRead('miss');
  return { ...missing(UNKNOWN_ETAG, REDIS_UNAVAILABLE), offline: true };
}

async function readPartitionWithTtl(context, { key, legacyKey }, budget) {
  const state = await context.store.read(key, { budget, ttl: Boolean(context.localCache) });
  if (state.value) context.metrics.received(state.value.length);
  const loaded = interpret(context, key, state);
  if (loaded.etag !== '' || !context.migrateLegacyValues || legacyKey === null) return { loaded, ttlMs: state.ttlMs };
  return { loaded: await readLegacy(context, loaded, legacyKey, budget), ttlMs: 0 };
}

async function readLegacy(context, loaded, legacyKey, budget) {
  const legacyState = await context.store.read(legacyKey, { label: LEGACY_KEY_LABEL, budget });
  if (legacyState.value === null) return loaded;
  try {
    const { createdAt, owner, body } = decodeLegacyValue(legacyKey, legacyState.value);
    const legacy = { key: legacyKey, etag: legacyState.etag };
    return { ...loaded, body: body.toString('utf8'), createdAt, owner, legacy, storedBytes: legacyState.value.length };
  } catch (err) {
    context.metrics.unreadable('corrupt');
    context.logger.warn(`msal-redis-cache: ignoring unreadable version 0.1 cache partition (a cache miss): ${err.message}`);
    return loaded;
  }
}

module.exports = { loadPartition, checkInBackground, interpret, present };
