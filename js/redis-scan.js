'use strict';
// SCAN over a whole Redis. A Cluster's keys are spread over its masters and SCAN sees only the node it is sent to,
// so on a Cluster every master is scanned (ioredis: cluster.nodes('master')).

/** `*`, `?`, `[`, `]` and `\` are glob characters in SCAN MATCH patterns. */
function escapeGlob(text) {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** The clients to SCAN: the client itself, or every master of a Cluster. */
async function scanTargets(redis, call) {
  if (!redis.isCluster) return [redis];
  // Until the Cluster client is ready it has not read the slot map, and nodes('master') lists the startup nodes, or
  // none. Any command waits for ready (or fails like any other call).
  if (redis.status !== 'ready') await call('PING', '(cluster)', () => redis.ping());
  return redis.nodes('master');
}

/**
 * Yields the keys matching `pattern` in batches (one SCAN reply each), every key once, as the client names them.
 * @param {import('ioredis').Redis|import('ioredis').Cluster} redis
 * @param {string} pattern a SCAN MATCH pattern
 * @param {number} count SCAN's COUNT
 * @param {(command: string, key: string, operation: () => Promise<any>) => Promise<any>} call runs a Redis call
 *   (the guard: timeout, breaker, CacheStoreError)
 * @param {string|null} [type] only keys of this Redis type (SCAN ... TYPE)
 */
async function* scanKeys(redis, pattern, count, call, type = null) {
  const seen = new Set(); // SCAN may return a key twice
  const typeArgs = type ? ['TYPE', type] : [];
  // ioredis adds its keyPrefix option to the keys of every command, but not to SCAN's MATCH, and SCAN returns whole
  // key names (a Cluster's node clients have no keyPrefix at all).
  const clientPrefix = (redis.options && redis.options.keyPrefix) || '';
  const match = escapeGlob(clientPrefix) + pattern;
  for (const node of await scanTargets(redis, call)) {
    let cursor = '0';
    do {
      const [next, keys] = await call('SCAN', match, () => node.scan(cursor, 'MATCH', match, 'COUNT', count, ...typeArgs));
      cursor = next;
      const fresh = keys.map((key) => key.slice(clientPrefix.length)).filter((key) => !seen.has(key));
      for (const key of fresh) seen.add(key);
      if (fresh.length > 0) yield fresh;
    } while (cursor !== '0');
  }
}

module.exports = { scanKeys, escapeGlob };
