'use strict';
// SCAN over a whole Redis. A Cluster's keys are spread over its masters and SCAN sees only the node it is sent to,
// so on a Cluster every master is scanned (the driver's scanNodes()).

/** `*`, `?`, `[`, `]` and `\` are glob characters in SCAN MATCH patterns. */
function escapeGlob(text) {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Yields the keys matching `pattern` in batches (one SCAN reply each), every key once, as the client names them.
 * @param {object} driver the client's driver (js/redis/driver.js)
 * @param {string} pattern a SCAN MATCH pattern
 * @param {number} count SCAN's COUNT
 * @param {(command: string, key: string, operation: () => Promise<any>) => Promise<any>} call runs a Redis call
 *   (the guard: timeout, breaker, CacheStoreError)
 * @param {string|null} [type] only keys of this Redis type (SCAN ... TYPE)
 */
async function* scanKeys(driver, pattern, count, call, type = null) {
  const seen = new Set(); // SCAN may return a key twice
  const typeArgs = type ? ['TYPE', type] : [];
  // ioredis adds its keyPrefix option to the keys of every command, but not to SCAN's MATCH, and SCAN returns whole
  // key names (a Cluster's node clients have no keyPrefix at all).
  const clientPrefix = driver.keyPrefix;
  const match = escapeGlob(clientPrefix) + pattern;
  // Until a Cluster client is ready it does not know its masters: the driver then PINGs, through the guard.
  const nodes = await driver.scanNodes((ping) => call('PING', '(cluster)', ping));
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await call('SCAN', match, () => node.scan(cursor, match, count, typeArgs));
      cursor = next;
      const fresh = keys.map((key) => key.slice(clientPrefix.length)).filter((key) => !seen.has(key));
      for (const key of fresh) seen.add(key);
      if (fresh.length > 0) yield fresh;
    } while (cursor !== '0');
  }
}

module.exports = { scanKeys, escapeGlob };
