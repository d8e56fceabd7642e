'use strict';
// msal-node's in-memory cache of one client, set to exactly one loaded partition.
//
// msal's own way, TokenCache.deserialize(json), parses the partition, and overwriteCache() (every acquireTokenSilent)
// then parses the same JSON a second time to rebuild the memory it just set (getCacheSnapshot). For a partition the
// in-process cache serves again and again, both parses are wasted: the entities msal builds from a given JSON are
// always the same. So the first use keeps msal's parsed entities (frozen), and every later use hands msal a copy of
// them (strings are shared, objects are copied: msal may change its own copy). msal's snapshot, the JSON its
// serialize() merges with, is left empty while msal reads, so that overwriteCache has nothing to parse again, and
// is set to the loaded JSON just before the plugin serializes, which is what deserialize() would have left there.
//
// This relies on two internals of msal-node 7 (the peer range): TokenCache.cacheSnapshot and NodeStorage's
// getCache/setCache. Where they are missing, this falls back to deserialize(), msal's public way.

// LoadedPartition -> [{ key, entity (frozen), nested (its fields that hold objects; null: not an object), stamped }].
// Weak: it lives exactly as long as the loaded partition, which the in-process cache holds (local-cache.js counts
// its bytes twice for this).
const parsedForms = new WeakMap();

// Whether this msal-node keeps what deserialize() was given in TokenCache.cacheSnapshot, as msal-node 7 does: seen
// on the first deserialize(); until then, and if not, only msal's public deserialize() is used.
let msalKeepsSnapshot = false;

function hasKnownInternals(tokenCache) {
  const { storage } = tokenCache;
  return msalKeepsSnapshot && typeof storage.getCache === 'function' && typeof storage.setCache === 'function';
}

/**
 * What msal's storage.clear() leaves (its authority metadata), as a new object for setCache. clear() deletes the
 * entries one by one, each delete announced to msal twice: for a client that already holds a partition (the second
 * load of a refresh) that costs more than the copy that follows (bench/README.md, "The hand-off to msal").
 */
function withOnlyAuthorityMetadata(storage) {
  const memory = {};
  if (typeof storage.isAuthorityMetadata !== 'function') {
    storage.clear();
    return Object.assign(memory, storage.getCache());
  }
  const current = storage.getCache();
  for (const key of Object.keys(current)) {
    if (storage.isAuthorityMetadata(key)) memory[key] = current[key];
  }
  return memory;
}

/** A deep copy of a plain JSON-like value; strings are immutable, so they are shared, not copied. */
function copyValue(value) {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyValue);
  const copy = {};
  for (const name of Object.keys(value)) copy[name] = copyValue(value[name]);
  return copy;
}

function deepFreeze(value) {
  if (value !== null && typeof value === 'object') {
    for (const name of Object.keys(value)) deepFreeze(value[name]);
    Object.freeze(value);
  }
  return value;
}

/**
 * @param {import('@azure/msal-node').TokenCache} tokenCache
 * @param {import('../storage/partition-reader').LoadedPartition} loaded its body (null for none) becomes msal's memory
 * @param {{ keep: boolean }} options keep: the same loaded partition will be used again (the in-process cache is on)
 */
function replaceMsalMemory(tokenCache, loaded, { keep }) {
  const { body } = loaded;
  const parsed = body === null ? undefined : parsedForms.get(loaded);
  if (parsed && hasKnownInternals(tokenCache)) {
    const memory = withOnlyAuthorityMetadata(tokenCache.storage);
    const now = Date.now().toString(); // what msal's deserialize stamps on each entity
    for (const { key, entity, nested, stamped } of parsed) {
      // A spread copies a flat entity in one step (a field-by-field copy costs 2-8x more: bench/README.md, "The
      // hand-off to msal"); only the fields that hold objects (an account's tenantProfiles) are copied deeper.
      if (nested === null) {
        memory[key] = entity; // not an object: nothing msal could change
        continue;
      }
      const copy = { ...entity };
      for (const name of nested) copy[name] = copyValue(entity[name]);
      if (stamped) copy.lastUpdatedAt = now;
      memory[key] = copy;
    }
    tokenCache.storage.setCache(memory);
  } else {
    tokenCache.storage.clear(); // keeps only msal's authority metadata
    const before = new Set(Object.keys(tokenCache.getKVStore()));
    tokenCache.deserialize(body ?? ''); // '' leaves no snapshot for serialize() to merge
    if (body !== null && body !== '') msalKeepsSnapshot = tokenCache.cacheSnapshot === body;
    if (!hasKnownInternals(tokenCache)) return;
    if (keep && body !== null) {
      const entities = [];
      for (const [key, value] of Object.entries(tokenCache.getKVStore())) {
        if (before.has(key)) continue;
        const entity = deepFreeze(copyValue(value));
        const isObject = typeof entity === 'object' && entity !== null;
        const nested = isObject ? Object.keys(entity).filter((name) => typeof entity[name] === 'object' && entity[name] !== null) : null;
        entities.push({ key, entity, nested, stamped: isObject && 'lastUpdatedAt' in entity });
      }
      parsedForms.set(loaded, entities);
    }
  }
  tokenCache.cacheSnapshot = '';
}

/** msal's serialize() of what the client holds, merged with `body` as msal merges with what it deserialized. */
function serializeMsalMemory(tokenCache, body) {
  if (hasKnownInternals(tokenCache)) tokenCache.cacheSnapshot = body ?? '';
  return tokenCache.serialize();
}

module.exports = { replaceMsalMemory, serializeMsalMemory };
