#!/usr/bin/env node
'use strict';
// The process's memory over a long run (issue: RSS grew 40-200 MB with the default in-process cache and kept growing
// after GC while the V8 heap did not). One process, one throw-away redis-server: PARTITIONS session partitions of
// BYTES of msal JSON each, then OPS cache-hit requests (a new ConfidentialClientApplication + acquireTokenSilent, as
// an app makes them), CONCURRENCY in flight, each on a random partition, so the in-process cache (default
// maxBytes 64 MB) keeps evicting and refilling. Every SAMPLE_EVERY requests: process.memoryUsage() after a full GC
// (node --expose-gc; bench/memory.js re-runs itself with it), the L1's own byte count and entries.
//   node bench/memory.js [--ops=1000000] [--partitions=10000] [--bytes=8192] [--concurrency=16] [--no-l1]
//                        [--max-bytes=<L1 maxBytes>] [--sample-every=20000]
// Prints a table and writes test-output/bench-memory.json. The claim checked: after warm-up (the first 20 % of the
// requests), RSS stays within the L1's maxBytes plus a constant, and does not keep growing.

const { spawnSync } = require('node:child_process');

if (typeof global.gc !== 'function') {
  const result = spawnSync(process.execPath, ['--expose-gc', __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

const fs = require('node:fs');
const path = require('node:path');
const Redis = require('ioredis');
const { RedisTokenCache } = require('../js');
const { startRedis } = require('../tests/support/redis-server');
const { createFakeIdentityProvider } = require('../tests/support/fake-identity-provider');
const { CLIENT_ID, USER_OID, USER_TENANT, sizedUserFixture } = require('./msal-fixtures');
const { SECRETS } = require('./environment');

const arg = (name, fallback) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.slice(name.length + 3)) : fallback;
};
const OPS = arg('ops', 1000000);
const PARTITIONS = arg('partitions', 10000);
const BYTES = arg('bytes', 8192);
const CONCURRENCY = arg('concurrency', 16);
const SAMPLE_EVERY = arg('sample-every', 20000);
const L1 = !process.argv.includes('--no-l1');
const MAX_BYTES = arg('max-bytes', 64 * 1024 * 1024);
const MB = 1024 * 1024;
const mb = (bytes) => Math.round((bytes / MB) * 10) / 10;

async function main() {
  const started = performance.now();
  const server = await startRedis();
  const redis = new Redis(server.url);
  const idp = createFakeIdentityProvider({ clientId: CLIENT_ID, tenantId: USER_TENANT });
  const config = idp.msalConfig();
  const fixture = sizedUserFixture({ now: Math.floor(Date.now() / 1000), bytes: BYTES });
  const cache = new RedisTokenCache({
    redis, prefix: 'mem:', ...SECRETS, localCache: L1 ? { maxBytes: MAX_BYTES, maxEntries: PARTITIONS } : false,
  });
  // One user per session (a user index holds at most 1,000 partitions): the fixture with the user's object id
  // replaced by one of its own.
  const oidOf = (i) => `${USER_OID.slice(0, 24)}${String(i).padStart(12, '0')}`;
  process.stderr.write(`seeding ${PARTITIONS} partitions of ${fixture.bytes} B\n`);
  for (let i = 0; i < PARTITIONS; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, PARTITIONS - i) }, (_, k) => cache.importPartition(
      { sessionId: `s${i + k}` }, fixture.json.split(USER_OID).join(oidOf(i + k)))));
  }
  const template = await cache.createClientApplication(config, { sessionId: 's0' }).getTokenCache()
    .getAccountByHomeId(fixture.homeAccountId.split(USER_OID).join(oidOf(0)));
  const accountOf = (i) => ({ ...template, homeAccountId: template.homeAccountId.split(oidOf(0)).join(oidOf(i)), localAccountId: oidOf(i) });
  const scopes = [Object.values(fixture.cache.AccessToken)[0].target.split(' ')[0]];

  const samples = [];
  const sample = (done) => {
    global.gc();
    const m = process.memoryUsage();
    const l1 = cache.stats().localCache;
    samples.push({
      ops: done, seconds: Math.round((performance.now() - started) / 100) / 10, rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed),
      heapTotalMB: mb(m.heapTotal), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers),
      l1MB: l1 ? mb(l1.bytes) : 0, l1Entries: l1 ? l1.entries : 0,
    });
    const s = samples[samples.length - 1];
    process.stderr.write(`${String(done).padStart(8)} ops ${String(s.seconds).padStart(6)} s  rss ${s.rssMB} MB  heap ${s.heapUsedMB}/${s.heapTotalMB} MB  ` +
      `external ${s.externalMB} MB (array buffers ${s.arrayBuffersMB})  L1 ${s.l1MB} MB, ${s.l1Entries} entries\n`);
  };
  sample(0);
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < OPS) {
      const i = next++;
      const n = Math.floor(Math.random() * PARTITIONS);
      const result = await cache.createClientApplication(config, { sessionId: `s${n}` }).acquireTokenSilent({ account: accountOf(n), scopes })
        .catch(() => null);
      if (!result || !result.fromCache) failures++;
      if ((i + 1) % SAMPLE_EVERY === 0) sample(i + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const stats = cache.stats();
  await cache.close();
  redis.disconnect();
  await server.stop();

  const warm = samples.filter((s) => s.ops >= OPS * 0.2);
  const rss = warm.map((s) => s.rssMB);
  const half = Math.floor(warm.length / 2);
  const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const report = {
    date: new Date().toISOString(), node: process.version, ops: OPS, partitions: PARTITIONS, partitionBytes: fixture.bytes,
    concurrency: CONCURRENCY, localCache: L1 ? { maxBytes: MAX_BYTES, maxEntries: PARTITIONS } : false, failures,
    l1: stats.localCache && { hits: stats.localCache.hits, misses: stats.localCache.misses, evictions: stats.localCache.evictions },
    afterWarmUp: {
      rssMinMB: Math.min(...rss), rssMaxMB: Math.max(...rss), rssLastMB: rss[rss.length - 1],
      // Growth: the mean of the second half of the samples after warm-up minus the first half's.
      rssGrowthMB: Math.round((avg(rss.slice(half)) - avg(rss.slice(0, half))) * 10) / 10,
      heapUsedMaxMB: Math.max(...warm.map((s) => s.heapUsedMB)), externalMaxMB: Math.max(...warm.map((s) => s.externalMB)),
    },
    samples,
    seconds: Math.round((performance.now() - started) / 1000),
  };
  const output = path.join(__dirname, '..', 'test-output', 'bench-memory.json');
  fs.mkdirSync(path.dirname(output), { recursive: true });
  fs.writeFileSync(output, `${JSON.stringify(report, null, 2)}\n`);
  const a = report.afterWarmUp;
  console.log(`${OPS} requests over ${PARTITIONS} partitions of ${fixture.bytes} B, c=${CONCURRENCY}, L1 ${L1 ? `${mb(MAX_BYTES)} MB` : 'off'}: ` +
    `after warm-up RSS ${a.rssMinMB}-${a.rssMaxMB} MB (last ${a.rssLastMB}, growth second half vs first ${a.rssGrowthMB} MB), ` +
    `heap used max ${a.heapUsedMaxMB} MB, external max ${a.externalMaxMB} MB; ${failures} failed; ${report.seconds} s`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
