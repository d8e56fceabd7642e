'use strict';
// The in-process cache (L1, js/local-cache/local-cache.js, kept coherent by CLIENT TRACKING: js/local-cache/invalidation-listener.js)
// against msal-node's DistributedCachePlugin (DCP) over the same client (ioredis, or node-redis: run.js runs the
// cases once per client, --clients=), like for like: one key per session
// on both sides (ours: a { sessionId } partition; DCP: a key per session/account). Three sides per case:
//   ours     RedisTokenCache as deployed (encrypted, localCache on: the default)
//   oursNoL1 the same with localCache: false (every read goes to Redis), for reference
//   theirs   DCP
//   memory   (reads only) msal's own in-memory cache, no plugin at all: the floor. One ConfidentialClientApplication
//            per session, made once with the same msal config and loaded once (deserialize of the seeded JSON), kept:
//            msal's memory lives in its client, so a new client per request would hold nothing.
// Cases (ids start with "l1."):
//   l1.read.<size>.c1    a NEW ConfidentialClientApplication per request + cache-hit acquireTokenSilent, one at a
//                        time: latency p50/p99 per call. Sides interleaved in batches (rotating order).
//   l1.read.<size>.c64   the same request with 64 in flight: throughput = operations / wall time over a fixed
//                        number of operations, rounds of the three sides interleaved.
//   l1.refresh           a full refresh: new client + acquireTokenSilent({ forceRefresh: true }) against the
//                        in-process fake identity provider (refresh-token grant, msal's before/after), end to end.
//   l1.invalidation      another server (bench/l1-writer.js: a child process with its own ioredis connection and
//                        RedisTokenCache) writes a session partition; time from its compare-and-set reply to this
//                        process's LocalCache.invalidate(key) (wrapped on the instance, bench only), and the next
//                        read here must return the new token.
//   l1.keyspace          1,000,000 other keys under the package's prefix (100-byte values with a TTL, loaded by Lua
//                        in batches), l1.read.8k c=1 and c=64 rerun: empty, 1M, empty again (A-B-A).

const assert = require('node:assert/strict');
const os = require('node:os');
const path = require('node:path');
const { fork } = require('node:child_process');
const { ConfidentialClientApplication } = require('@azure/msal-node');
const { RedisTokenCache } = require('../js');
const { distributedPlugin, RedisCacheClient } = require('./distributed-baseline');
const { writeThrough } = require('./seed');
const { summarize } = require('./harness');
const { requestMark, requestsSince } = require('./environment');

const PREFIX = 'bench:l1:'; // ours (both sides of ours read the same partitions)
const THEIRS_PREFIX = 'bench:l1-theirs:';
const OTHER_PREFIX = `${PREFIX}other:`; // the 1,000,000 other keys of the keyspace case
const SESSIONS = 64; // partitions per size and side; request i reads session i % SESSIONS
const SIDES = ['ours', 'oursNoL1', 'theirs']; // of l1.refresh (l1.read also has msal in-memory)
const REDIRECT_URI = 'http://localhost/auth/redirect';

const quantile = (sorted, q) => {
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
};
const percentiles = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { ...summarize(sorted), p99Us: quantile(sorted, 0.99), maxUs: sorted[sorted.length - 1] };
};
const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
const nowUs = () => Number(process.hrtime.bigint()) / 1000;

/** Per-call latency, one at a time, sides interleaved in batches of `batch` (order rotating). */
async function latency(impls, { samples, batch = 50, warmup = 100 }) {
  const names = Object.keys(impls);
  for (const name of names) for (let i = 0; i < warmup; i++) await impls[name](i);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const counters = Object.fromEntries(names.map((n) => [n, 0]));
  for (let round = 0; times[names[0]].length < samples; round++) {
    const order = names.map((_, k) => names[(k + round) % names.length]);
    for (const name of order) {
      for (let b = 0; b < batch; b++) {
        const i = counters[name]++;
        const start = process.hrtime.bigint();
        await impls[name](i);
        times[name].push(Number(process.hrtime.bigint() - start) / 1000);
      }
    }
  }
  return Object.fromEntries(names.map((n) => [n, percentiles(times[n])]));
}

/** `ops` calls with `concurrency` in flight; returns wall seconds and per-call latencies. */
async function pool(run, ops, concurrency) {
  let next = 0;
  const times = [];
  const started = nowUs();
  const worker = async () => {
    while (next < ops) {
      const i = next++;
      const start = nowUs();
      await run(i);
      times.push(nowUs() - start);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { seconds: (nowUs() - started) / 1e6, times };
}

/** Throughput at `concurrency`: `rounds` rounds of `ops` operations per side, interleaved (rotating order). */
async function throughput(impls, { ops, rounds, concurrency = 64 }) {
  const names = Object.keys(impls);
  for (const name of names) await pool(impls[name], Math.min(ops, 300), concurrency); // warm-up
  const acc = Object.fromEntries(names.map((n) => [n, { seconds: 0, ops: 0, times: [], perRound: [] }]));
  for (let round = 0; round < rounds; round++) {
    const order = names.map((_, k) => names[(k + round) % names.length]);
    for (const name of order) {
      const { seconds, times } = await pool(impls[name], ops, concurrency);
      acc[name].seconds += seconds;
      acc[name].ops += ops;
      acc[name].times.push(...times);
      acc[name].perRound.push(ops / seconds);
    }
  }
  return Object.fromEntries(names.map((n) => {
    const a = acc[n];
    const perRound = [...a.perRound].sort((x, y) => x - y);
    return [n, { opsPerSecond: a.ops / a.seconds, medianRoundOpsPerSecond: quantile(perRound, 0.5), ops: a.ops, concurrency, latency: percentiles(a.times) }];
  }));
}

/**
 * `app`: the client the package and DCP share ({ name, redis }; default: the environment's ioredis client). The
 * environment's ioredis client stays the bench's own (DBSIZE, loading the other keys).
 */
async function runLocalCacheCases(env, { quick, only = '', log, app = { name: 'ioredis', redis: env.redis } }) {
  const { userConfig, idp, secrets, logger, warnings } = env;
  const admin = env.redis;
  const { redis } = app;
  const client = new RedisCacheClient(redis);
  // On a Cluster (run.js --topology=cluster) not the cases that need one server: l1.invalidation (its writer process
  // takes one URL), l1.keyspace (a Lua script over a million keys of many slots).
  const oneServerOnly = (id) => env.topology === 'cluster' && /^l1\.(invalidation|keyspace)/.test(id);
  const want = (id) => (id.startsWith(only) || only.startsWith(id)) && !oneServerOnly(id);
  const N = quick
    ? { latency: 300, ops: 500, rounds: 2, refresh: 150, invalidations: 100 }
    : { latency: 3000, ops: 1000, rounds: 4, refresh: 2000, invalidations: 600 };
  const caches = {
    ours: new RedisTokenCache({ redis, prefix: PREFIX, logger, ...secrets }),
    oursNoL1: new RedisTokenCache({ redis, prefix: PREFIX, logger, ...secrets, localCache: false }),
  };
  const withPlugin = (cachePlugin) => ({ ...userConfig, cache: { cachePlugin } });
  const theirsKey = (tag) => `${THEIRS_PREFIX}${tag}:account`;
  const theirsPlugin = (tag) => distributedPlugin(client, theirsKey(tag), () => theirsKey(tag));
  const results = { client: app.name, loadavgStart: loadavg() };
  const warningsBefore = warnings.count;

  try {
    // --- seed: SESSIONS partitions per size, each through its own plugin's write path -------------------------
    const sized = env.sizedUsers.map((s) => ({ ...s, tag: `l1-${s.name}` }));
    for (const s of sized) {
      for (let n = 0; n < SESSIONS; n++) {
        await writeThrough(caches.ours.cachePlugin({ sessionId: `${s.tag}-${n}` }), userConfig, s.json);
        await writeThrough(theirsPlugin(`${s.tag}-${n}`), userConfig, s.json);
      }
    }
    const account = await caches.oursNoL1.createClientApplication(userConfig, { sessionId: `${sized[0].tag}-0` })
      .getTokenCache().getAccountByHomeId(sized[0].homeAccountId);
    assert.ok(account, 'the seeded account is visible to msal');

    const readImpls = (s) => {
      const scopes = [Object.values(s.cache.AccessToken)[0].target.split(' ')[0]];
      const silent = (cca) => cca.acquireTokenSilent({ account, scopes });
      const kept = Array.from({ length: SESSIONS }, () => {
        const cca = new ConfidentialClientApplication(userConfig);
        cca.getTokenCache().deserialize(s.json);
        return cca;
      });
      return {
        ours: (i) => silent(caches.ours.createClientApplication(userConfig, { sessionId: `${s.tag}-${i % SESSIONS}` })),
        oursNoL1: (i) => silent(caches.oursNoL1.createClientApplication(userConfig, { sessionId: `${s.tag}-${i % SESSIONS}` })),
        theirs: (i) => silent(new ConfidentialClientApplication(withPlugin(theirsPlugin(`${s.tag}-${i % SESSIONS}`)))),
        memory: (i) => silent(kept[i % SESSIONS]),
      };
    };
    /** Every side serves the seeded token from the cache, with no token request. */
    const verifyReads = async (s, impls) => {
      const secret = Object.values(s.cache.AccessToken)[0].secret;
      const before = requestMark(idp);
      for (const [name, run] of Object.entries(impls)) {
        for (let i = 0; i < 2 * SESSIONS; i++) {
          const result = await run(i);
          assert.equal(result.fromCache, true, `${name}: a cache hit`);
          assert.equal(result.accessToken, secret, `${name}: the seeded token`);
        }
      }
      assert.deepEqual(requestsSince(idp, before), [], 'no token request on a cache hit');
    };
    const l1Stats = () => { const st = caches.ours.stats().localCache; return st && { hits: st.hits, misses: st.misses }; };
    const readCases = async (s, label) => {
      const impls = readImpls(s);
      await verifyReads(s, impls);
      const statsBefore = l1Stats();
      const c1 = await latency(impls, { samples: N.latency });
      const c64 = await throughput(impls, { ops: N.ops, rounds: N.rounds });
      const statsAfter = l1Stats();
      const out = {
        size: s.label, bytes: s.bytes, c1, c64,
        l1: statsBefore && { hits: statsAfter.hits - statsBefore.hits, misses: statsAfter.misses - statsBefore.misses },
        ratios: {
          p50: c1.ours.medianUs / c1.theirs.medianUs,
          p99: c1.ours.p99Us / c1.theirs.p99Us,
          throughput: c64.ours.opsPerSecond / c64.theirs.opsPerSecond,
          noL1p50: c1.oursNoL1.medianUs / c1.theirs.medianUs,
          noL1p99: c1.oursNoL1.p99Us / c1.theirs.p99Us,
          noL1Throughput: c64.oursNoL1.opsPerSecond / c64.theirs.opsPerSecond,
          // against msal's own in-memory cache (the floor): ours / memory, so > 1 is what the L1 costs above it
          memoryP50: c1.ours.medianUs / c1.memory.medianUs,
          memoryThroughput: c64.memory.opsPerSecond / c64.ours.opsPerSecond,
        },
        loadavg: loadavg(),
      };
      log(`  ${label.padEnd(22)} c=1 p50 ours ${c1.ours.medianUs.toFixed(0)} / noL1 ${c1.oursNoL1.medianUs.toFixed(0)} / DCP ${c1.theirs.medianUs.toFixed(0)} µs ` +
        `(${out.ratios.p50.toFixed(2)}x), p99 ${c1.ours.p99Us.toFixed(0)} / ${c1.oursNoL1.p99Us.toFixed(0)} / ${c1.theirs.p99Us.toFixed(0)} µs (${out.ratios.p99.toFixed(2)}x); ` +
        `c=64 ${c64.ours.opsPerSecond.toFixed(0)} / ${c64.oursNoL1.opsPerSecond.toFixed(0)} / ${c64.theirs.opsPerSecond.toFixed(0)} ops/s (${out.ratios.throughput.toFixed(2)}x); ` +
        `msal in-memory p50 ${c1.memory.medianUs.toFixed(0)} µs (ours/memory ${out.ratios.memoryP50.toFixed(2)}x), c=64 ${c64.memory.opsPerSecond.toFixed(0)} ops/s; load ${out.loadavg.join(' ')}`);
      return out;
    };

    // --- 1. cache-hit reads -----------------------------------------------------------------------------------
    results.read = [];
    for (const s of sized) {
      if (want(`l1.read.${s.name}`)) results.read.push(await readCases(s, `l1.read.${s.name}`));
    }

    // --- 2. a full refresh ------------------------------------------------------------------------------------
    if (want('l1.refresh')) {
      const signInUser = env.signInUser;
      const scopes = ['user.read'];
      const plugins = {
        ours: () => caches.ours.cachePlugin({ sessionId: 'l1-refresh-ours' }),
        oursNoL1: () => caches.oursNoL1.cachePlugin({ sessionId: 'l1-refresh-nol1' }),
        theirs: () => theirsPlugin('l1-refresh'),
      };
      const accounts = {};
      for (const [name, pluginFor] of Object.entries(plugins)) {
        const code = idp.issueCode(signInUser, { scopes });
        accounts[name] = (await new ConfidentialClientApplication(withPlugin(pluginFor()))
          .acquireTokenByCode({ code, scopes, redirectUri: REDIRECT_URI })).account;
      }
      const refresh = (name) => async () => {
        const result = await new ConfidentialClientApplication(withPlugin(plugins[name]()))
          .acquireTokenSilent({ account: accounts[name], scopes, forceRefresh: true });
        if (result.fromCache) throw new Error(`${name}: a refresh served from the cache`);
      };
      const impls = Object.fromEntries(SIDES.map((n) => [n, refresh(n)]));
      const before = requestMark(idp);
      const r = await latency(impls, { samples: N.refresh, batch: 25, warmup: 30 });
      const during = requestsSince(idp, before);
      const grants = new Set(during.filter((q) => q.method === 'POST').map((q) => q.grantType));
      assert.deepEqual([...grants], ['refresh_token'], 'only refresh-token grants');
      results.refresh = { ...r, ratios: { p50: r.ours.medianUs / r.theirs.medianUs, p99: r.ours.p99Us / r.theirs.p99Us, noL1p50: r.oursNoL1.medianUs / r.theirs.medianUs }, loadavg: loadavg() };
      log(`  l1.refresh             p50 ours ${r.ours.medianUs.toFixed(0)} / noL1 ${r.oursNoL1.medianUs.toFixed(0)} / DCP ${r.theirs.medianUs.toFixed(0)} µs ` +
        `(${results.refresh.ratios.p50.toFixed(2)}x), p99 ${r.ours.p99Us.toFixed(0)} / ${r.oursNoL1.p99Us.toFixed(0)} / ${r.theirs.p99Us.toFixed(0)} µs (${results.refresh.ratios.p99.toFixed(2)}x); load ${loadavg().join(' ')}`);
    }

    // --- 3. invalidation latency ------------------------------------------------------------------------------
    if (want('l1.invalidation')) results.invalidation = await invalidationLatency(env, caches.ours, sized[0], account, N.invalidations, log);

    // --- 4. 1,000,000 other keys ------------------------------------------------------------------------------
    if (want('l1.keyspace')) {
      const s = sized[0];
      const dbsize = async () => Number(await admin.dbsize());
      const keyspace = { otherKeys: quick ? 100000 : 1000000, valueBytes: 100, runs: [] };
      keyspace.runs.push({ phase: 'empty', dbsize: await dbsize(), ...(await readCases(s, 'l1.keyspace empty')) });
      const loaded = await loadKeys(admin, keyspace.otherKeys, keyspace.valueBytes);
      keyspace.loadSeconds = loaded.seconds;
      keyspace.usedMemory = loaded.usedMemory;
      await new Promise((resolve) => setTimeout(resolve, 1000)); // let the invalidation flood drain
      keyspace.runs.push({ phase: `${keyspace.otherKeys.toLocaleString('en')} other keys`, dbsize: await dbsize(), ...(await readCases(s, `l1.keyspace ${keyspace.otherKeys / 1e6}M`)) });
      await unloadKeys(admin, keyspace.otherKeys);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      keyspace.runs.push({ phase: 'empty again', dbsize: await dbsize(), ...(await readCases(s, 'l1.keyspace empty again')) });
      const [a, b, c] = keyspace.runs;
      const vs = (f) => f(b) / ((f(a) + f(c)) / 2);
      keyspace.change = {
        c1p50: vs((r) => r.c1.ours.medianUs), c1p99: vs((r) => r.c1.ours.p99Us), c64: vs((r) => r.c64.ours.opsPerSecond),
        theirsC1p50: vs((r) => r.c1.theirs.medianUs), theirsC64: vs((r) => r.c64.theirs.opsPerSecond),
      };
      results.keyspace = keyspace;
      log(`  l1.keyspace            1M vs empty (mean of before/after): ours c=1 p50 ${keyspace.change.c1p50.toFixed(3)}x, p99 ${keyspace.change.c1p99.toFixed(3)}x, ` +
        `c=64 ops/s ${keyspace.change.c64.toFixed(3)}x; DCP c=1 p50 ${keyspace.change.theirsC1p50.toFixed(3)}x, c=64 ${keyspace.change.theirsC64.toFixed(3)}x; ` +
        `load ${loaded.seconds.toFixed(1)} s, used_memory ${loaded.usedMemory}`);
    }
    results.l1Stats = caches.ours.stats().localCache;
  } finally {
    await Promise.all(Object.values(caches).map((c) => c.close()));
  }
  if (warnings.count !== warningsBefore) throw new Error(`l1: the plugin logged ${warnings.count - warningsBefore} warning(s), e.g.: ${warnings.last}`);
  results.loadavgEnd = loadavg();
  return results;
}

const LOAD_SCRIPT = `
local p, from, to, v, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
for i = from, to do redis.call('SET', p .. i, v, 'EX', ttl) end
return to - from + 1`;
const UNLOAD_SCRIPT = `
local p, from, to = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for i = from, to do redis.call('UNLINK', p .. i) end
return to - from + 1`;
const BATCH = 20000;

/** `count` keys OTHER_PREFIX<i> of `bytes` bytes each, with a day's TTL (as partitions have one), by Lua in batches. */
async function loadKeys(redis, count, bytes) {
  const started = nowUs();
  const value = 'x'.repeat(bytes);
  for (let from = 0; from < count; from += BATCH) {
    await redis.eval(LOAD_SCRIPT, 0, OTHER_PREFIX, from, Math.min(count, from + BATCH) - 1, value, 86400);
  }
  const info = await redis.info('memory');
  return { seconds: (nowUs() - started) / 1e6, usedMemory: (/used_memory_human:(\S+)/.exec(info) || [])[1] };
}

async function unloadKeys(redis, count) {
  for (let from = 0; from < count; from += BATCH) {
    await redis.eval(UNLOAD_SCRIPT, 0, OTHER_PREFIX, from, Math.min(count, from + BATCH) - 1);
  }
}

/**
 * A child process writes `s`'s partition (session l1-inval) `count` times; for each write: the time from its
 * compare-and-set reply to this process's LocalCache.invalidate(key), then a read here must return the new token.
 */
async function invalidationLatency(env, cache, s, account, count, log) {
  const sessionId = 'l1-inval';
  await writeThrough(cache.cachePlugin({ sessionId }), env.userConfig, s.json);
  const key = cache.cachePlugin({ sessionId }).key;
  const scopes = [Object.values(s.cache.AccessToken)[0].target.split(' ')[0]];
  const read = () => cache.createClientApplication(env.userConfig, { sessionId }).acquireTokenSilent({ account, scopes });
  const localCache = cache.shared.context.localCache;
  assert.ok(localCache, 'the in-process cache is on');
  let seen = null; // hrtime (ns) of the first invalidate(key) since the last reset
  let waiter = null;
  const original = localCache.invalidate;
  localCache.invalidate = function timedInvalidate(k) {
    if (k === key && seen === null) {
      seen = process.hrtime.bigint();
      if (waiter) waiter();
    }
    return original.call(this, k);
  };
  const child = fork(path.join(__dirname, 'l1-writer.js'), [], {
    env: { ...process.env, BENCH_L1_WRITER: JSON.stringify({ redisUrl: env.server.url, prefix: PREFIX, secrets: env.secrets, msalAuth: env.userConfig.auth, sessionId, json: s.json }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const replies = [];
  let onReply = null;
  child.on('message', (m) => { replies.push(m); if (onReply) onReply(); });
  const nextReply = async () => {
    while (!replies.length) await new Promise((resolve) => { onReply = resolve; });
    onReply = null;
    return replies.shift();
  };
  const latencies = [];
  const fromSent = []; // the writer's compare-and-set sent -> invalidate() here: an upper bound, never negative
  const missesAfter = [];
  try {
    const ready = await nextReply();
    assert.ok(ready.ready, `writer: ${ready.error}`);
    for (let serial = 1; serial <= count + 20; serial++) {
      const before = await read(); // this server holds the partition in its L1 (a hit from the second read on)
      assert.equal(before.fromCache, true);
      seen = null;
      const invalidated = new Promise((resolve) => { waiter = resolve; });
      child.send({ serial });
      const reply = await nextReply();
      if (!reply.ok) throw new Error(`writer: ${reply.error}`);
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`write ${serial}: no invalidation within 2 s`)), 2000).unref());
      await Promise.race([invalidated, timeout]);
      waiter = null;
      const after = await read();
      assert.equal(after.accessToken, reply.secret, `write ${serial}: this server reads the other server's new token`);
      if (serial > 20) { // the first 20: warm-up
        latencies.push(Number(seen - BigInt(reply.casAt)) / 1000);
        fromSent.push(Number(seen - BigInt(reply.casSentAt)) / 1000);
      }
      missesAfter.push(after.fromCache);
    }
  } finally {
    localCache.invalidate = original;
    child.disconnect();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const result = {
    writes: latencies.length, medianUs: quantile(sorted, 0.5), p90Us: quantile(sorted, 0.9), p99Us: quantile(sorted, 0.99),
    minUs: sorted[0], maxUs: sorted[sorted.length - 1], negative: latencies.filter((x) => x < 0).length, loadavg: loadavg(),
    fromSent: percentiles(fromSent),
  };
  log(`  l1.invalidation        ${result.writes} writes by another process: CAS reply -> invalidate() p50 ${result.medianUs.toFixed(0)} µs, ` +
    `p99 ${result.p99Us.toFixed(0)} µs, max ${result.maxUs.toFixed(0)} µs (${result.negative} arrived before the writer's reply); load ${result.loadavg.join(' ')}`);
  return result;
}

module.exports = { runLocalCacheCases, SIDES };
