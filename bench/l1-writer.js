'use strict';
// "Another server" for the invalidation-latency case (bench/l1-cases.js), in its own process: its own ioredis
// connection and its own RedisTokenCache (same prefix and secrets as the parent's), writing one session partition
// through msal's write path (fresh TokenCache, beforeCacheAccess, a renewed access token, afterCacheAccess).
// It records when its compare-and-set reply arrived, as process.hrtime.bigint() (CLOCK_MONOTONIC: the same clock in
// every process of the machine), by wrapping compareAndSet of this one instance's PartitionStore (as cas-counter.js).
//   parent -> { serial }      child -> { serial, ok, casAt, casSentAt: strings (ns), secret } | { ok: false, error }
// Environment: BENCH_L1_WRITER = JSON { redisUrl, prefix, secrets, msalAuth, sessionId, json }.

const Redis = require('ioredis');
const { ConfidentialClientApplication, TokenCacheContext } = require('@azure/msal-node');
const { RedisTokenCache } = require('../js');

const options = JSON.parse(process.env.BENCH_L1_WRITER);
const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 2 });
const tokenCache = new RedisTokenCache({ redis, prefix: options.prefix, logger: { warn: () => {} }, ...options.secrets });
const { store } = tokenCache.shared.context;
const compareAndSet = store.compareAndSet;
let casAt = null;
let casSentAt = null;
let written = null;
store.compareAndSet = async function timedCompareAndSet(...args) {
  casSentAt = process.hrtime.bigint();
  const result = await compareAndSet.apply(this, args);
  casAt = process.hrtime.bigint();
  written = result.written;
  return result;
};

const base = JSON.parse(options.json);
const tokenKey = Object.keys(base.AccessToken)[0];

process.on('message', async ({ serial }) => {
  try {
    const cache = JSON.parse(JSON.stringify(base));
    const token = cache.AccessToken[tokenKey];
    const secret = `${token.secret.slice(0, -12)}${String(serial).padStart(12, '0')}`;
    cache.AccessToken[tokenKey] = { ...token, secret };
    const plugin = tokenCache.cachePlugin({ sessionId: options.sessionId });
    const msalCache = new ConfidentialClientApplication({ auth: options.msalAuth }).getTokenCache();
    await plugin.beforeCacheAccess(new TokenCacheContext(msalCache, false));
    msalCache.deserialize(JSON.stringify(cache));
    casAt = null;
    await plugin.afterCacheAccess(new TokenCacheContext(msalCache, true));
    if (casAt === null || !written) throw new Error(`write ${serial}: no successful compare-and-set`);
    process.send({ serial, ok: true, casAt: String(casAt), casSentAt: String(casSentAt), secret });
  } catch (err) {
    process.send({ serial, ok: false, error: String((err && err.stack) || err) });
  }
});

process.on('disconnect', () => {
  Promise.resolve(tokenCache.close && tokenCache.close()).finally(() => redis.quit().finally(() => process.exit(0)));
});

redis.ping().then(() => process.send({ ready: true }), (err) => {
  process.send({ ready: false, error: String(err && err.message) });
  process.exit(1);
});
