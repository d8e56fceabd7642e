'use strict';
// GET /healthz for load balancers and orchestrators: 200 when this instance can serve, 503 when Redis cannot be
// reached (sessions and token caches live there). Mounted before the session middleware: a probe creates no session
// and reads none. It tells nothing about users or secrets: Redis's reachability and the token cache's counters.
//
//   { "status": "ok", "storage": "redis", "redis": { "reachable": true, "latencyMs": 0.4 },
//     "tokenCache": { "localCache": { "hits": 12, ..., "coherent": true }, "staleReads": 0, ...,
//                     "redis": { "calls": 40, ..., "breaker": "closed" } } }

const express = require('express');

const PING_TIMEOUT_MS = 500; // a probe must answer quickly, and a Redis slower than this is not healthy

/** { reachable, latencyMs }: a PING that gives up after timeoutMs (ioredis would queue it while reconnecting). */
async function pingRedis(redis, timeoutMs = PING_TIMEOUT_MS) {
  const started = process.hrtime.bigint();
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, timeoutMs, 'timeout');
  });
  try {
    const answer = await Promise.race([redis.ping(), timeout]);
    if (answer !== 'PONG') return { reachable: false, latencyMs: null };
    return { reachable: true, latencyMs: Number(process.hrtime.bigint() - started) / 1e6 };
  } catch {
    // The error's text may name hosts and ports: it stays out of a public answer.
    return { reachable: false, latencyMs: null };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * @param {{ redis: object, tokenCache: import('../../js').RedisTokenCache, storage: 'redis'|'memory' }} deps
 */
function createHealthRouter({ redis, tokenCache, storage }) {
  const router = express.Router();
  router.get('/healthz', async (req, res) => {
    const ping = await pingRedis(redis);
    res.status(ping.reachable ? 200 : 503).set('Cache-Control', 'no-store').json({
      status: ping.reachable ? 'ok' : 'unavailable',
      storage,
      redis: { reachable: ping.reachable, latencyMs: ping.latencyMs === null ? null : Math.round(ping.latencyMs * 100) / 100 },
      // The in-process cache (hits, entries, coherent: invalidation tracking is up) and the circuit breaker.
      tokenCache: tokenCache.stats(),
    });
  });
  return router;
}

module.exports = { createHealthRouter, pingRedis };
