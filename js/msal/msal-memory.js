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

// LoadedPartition -> Map(key -> frozen msal entity). Weak: it lives exactly as long as the loaded partition, which
// the in-process cache holds (local-cache.js counts its bytes twice for this).
const parsedForms = new WeakMap();

// Whether this msal-node keeps what deserialize() was given in TokenCache.cacheSnapshot, as msal-node 7 does: seen
// on the first deserialize(); until then, and if not, only msal's public deserialize() is used.
let msalKeepsSnapshot = false;

function hasKnownInternals(tokenCache) {
  const { storage } = tokenCache;
  return msalKeepsSnapshot && typeof storage.getCache === 'function' && typeof storage.setCache === 'function';
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
  tokenCache.storage.clear(); // keeps only msal's authority metadata
  const parsed = body === null ? undefined : parsedForms.get(loaded);
  if (parsed && hasKnownInternals(tokenCache)) {
    const memory = tokenCache.storage.getCache();
    const now = Date.now().toString(); // what msal's deserialize stamps on each entity
    for (const [key, entity] of parsed) {
      const copy = copyValue(entity);
      if ('lastUpdatedAt' in copy) copy.lastUpdatedAt = now;
      memory[key] = copy;
    }
    tokenCache.storage.setCache(memory);
  } else {
    const before = new Set(Object.keys(tokenCache.getKVStore()));
    tokenCache.deserialize(body ?? ''); // '' leaves no snapshot for serialize() to merge
    if (body !== null && body !== '') msalKeepsSnapshot = tokenCache.cacheSnapshot === body;
    if (!hasKnownInternals(tokenCache)) return;
    if (keep && body !== null) {
      const entities = new Map();
      for (const [key, entity] of Object.entries(tokenCache.getKVStore())) {
        if (!before.has(key)) entities.set(key, deepFreeze(copyValue(entity)));
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
