'use strict';
// Loads one partition: reads it (partition-store.js), verifies and decrypts it (stored-value.js), and says what a
// request loaded: the base its next write is checked and merged against. Anything unusable is a cache miss with a
// warning, never an exception: a stuck user is worse than a sign-in.

const { open, UnreadableValue, TYPE } = require('./stored-value');
const { decodeLegacyValue } = require('./legacy-value');

/**
 * @typedef {object} LoadedPartition
 * @property {string} etag  the version read ("" when the key was missing)
 * @property {string|null} body  the cache JSON; null when there is none (missing, removed or unreadable)
 * @property {number|null} createdAt  the partition's first write (epoch seconds)
 * @property {string|null} owner  the account a session partition belongs to
 * @property {boolean} removed  a tombstone: the partition was signed out and must not come back from older loads
 * @property {{ key: string, etag: string }|null} legacy  the version 0.1 value it was migrated from
 * @property {number} storedBytes  the size of the stored value
 * @property {string|null} problem  why a stored value was ignored (unreadable, foreign, too large), else null
 */

const missing = (etag, problem = null) => ({
  etag,
  body: null,
  createdAt: null,
  owner: null,
  removed: false,
  legacy: null,
  storedBytes: 0,
  problem,
});

/**
 * What a stored state means for a writer or reader of `key`.
 * @param {{ keyring: object, logger: { warn(message: string): void } }} context
 * @param {import('./partition-store').StoredState} state
 * @returns {LoadedPartition}
 */
function interpret({ keyring, logger }, key, state) {
  const unreadable = (reason) => {
    logger.warn(`msal-redis-cache: ignoring unreadable cache partition "${key}" (treated as a cache miss): ${reason}`);
    return missing(state.etag, reason);
  };
  if (state.value === null) return state.problem ? unreadable(state.problem) : missing(state.etag);
  let opened;
  try {
    opened = open(keyring, key, state.value);
  } catch (err) {
    if (!(err instanceof UnreadableValue)) throw err;
    return unreadable(err.message);
  }
  if (opened.type === TYPE.tombstone) return { ...missing(state.etag), removed: true };
  if (opened.type !== TYPE.partition) return unreadable('holds a session, not a token cache');
  return {
    ...missing(state.etag),
    body: opened.body.toString('utf8'),
    createdAt: opened.createdAt,
    owner: opened.meta,
    storedBytes: state.value.length,
  };
}

/**
 * @param {{ store: import('./partition-store').PartitionStore, keyring: object, logger: object,
 *   migrateLegacyValues: boolean }} context
 * @param {{ key: string, legacyKey: string }} target full Redis keys (with the prefix)
 * @returns {Promise<LoadedPartition>}
 */
async function loadPartition(context, { key, legacyKey }) {
  const loaded = interpret(context, key, await context.store.read(key));
  if (loaded.etag !== '' || !context.migrateLegacyValues) return loaded;
  const legacyState = await context.store.read(legacyKey);
  if (legacyState.value === null) return loaded;
  try {
    const { createdAt, owner, body } = decodeLegacyValue(legacyKey, legacyState.value);
    const legacy = { key: legacyKey, etag: legacyState.etag };
    return { ...loaded, body: body.toString('utf8'), createdAt, owner, legacy, storedBytes: legacyState.value.length };
  } catch (err) {
    context.logger.warn(`msal-redis-cache: ignoring unreadable version 0.1 cache partition (a cache miss): ${err.message}`);
    return loaded;
  }
}

module.exports = { loadPartition, interpret, missing };
