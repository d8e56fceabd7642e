'use strict';
// Metrics (js/metrics.js): what real requests record, through an OpenTelemetry SDK MeterProvider and its reader (the
// way an app's exporter sees them) and through the onEvent callback. Real ConfidentialClientApplications against the
// in-process fake identity provider, the run's real Redis (TEST_REDIS_URL); a Redis of this file's own (frozen with
// SIGSTOP) for the circuit breaker; a child process in which @opentelemetry/api cannot be resolved.

const crypto = require('node:crypto');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
const otelApi = require('@opentelemetry/api');
const { ConfidentialClientApplication } = require('@azure/msal-node');
const Redis = require('../support/ioredis');
const { newRedis, newRedisAt, hasLocalCache } = require('../support/redis-client');
const { RedisTokenCache, CacheStoreError, ConfigurationError } = require('../../js');
const { resolvePartition } = require('../../js/msal/partitions');
const { createFakeIdentityProvider, DEFAULT_TENANT_ID } = require('../support/fake-identity-provider');
const { testSecrets } = require('../support/test-secrets');
const { testKeyring } = require('../support/stored');
const { startRestartableRedis } = require('../support/restartable-redis');

const CLIENT_ID = '00000000-0000-4000-8000-0000000e7a1c';
const SCOPES = ['api://metrics/Read'];
const REDIRECT_URI = 'http://localhost/auth/redirect';
const NS = 'msal_redis_cache.';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class TestReader extends MetricReader {
  onForceFlush() {
    return Promise.resolve();
  }

  onShutdown() {
    return Promise.resolve();
  }
}

/** An SDK MeterProvider with a reader; read() gives every data point as "name {attributes}" -> value. */
function newTelemetry() {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  async function read() {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const points = {};
    for (const { scope, metrics } of resourceMetrics.scopeMetrics) {
      expect(scope).toMatchObject({ name: 'msal-redis-cache', version: require('../../package.json').version });
      for (const { descriptor, dataPoints } of metrics) {
        for (const { attributes, value } of dataPoints) {
          // A counter's sum, a gauge's value, a histogram's count of calls.
          points[`${descriptor.name.slice(NS.length)} ${JSON.stringify(attributes)}`] = typeof value === 'number' ? value : value.count;
        }
      }
    }
    return points;
  }
  /** What changed since `before` (counters and histogram counts; the breaker gauge is read as is). */
  async function changesSince(before) {
    const after = await read();
    return Object.fromEntries(
      Object.entries(after)
        .filter(([name, value]) => !name.startsWith('redis.breaker.state') && value !== (before[name] ?? 0))
        .map(([name, value]) => [name, value - (before[name] ?? 0)]),
    );
  }
  return { meterProvider, read, changesSince };
}

let redis;
let admin;
let idp;
let prefix;
let writer; // a server without metrics and without an L1: signs users in
const caches = [];

beforeAll(() => {
  redis = newRedis();
  admin = newRedis();
  idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
});

afterAll(async () => {
  for (const cache of caches) await cache.close();
  await redis.quit();
  await admin.quit();
});

beforeEach(() => {
  prefix = `metrics:${crypto.randomBytes(4).toString('hex')}:`;
  writer = newCache({ localCache: false, metrics: false });
});

function newCache(options = {}) {
  const cache = new RedisTokenCache({ redis, prefix, skewSeconds: 0, ...testSecrets(), ...options });
  caches.push(cache);
  return cache;
}

const keyOf = (selector, clientId) => prefix + resolvePartition(selector, clientId, testKeyring).partitionKey;

async function signIn(sessionId, cache = writer) {
  const client = cache.createClientApplication(idp.msalConfig(), { sessionId });
  const result = await client.acquireTokenByCode({ code: idp.issueCode(idp.addUser(), { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
  return result.account;
}

async function untilTracking(cache) {
  await cache.exportPartition({ sessionId: 'start-the-listener' });
  for (let waited = 0; waited < 3000; waited += 5) {
    if (cache.stats().localCache.coherent) return;
    await sleep(5);
  }
  throw new Error('the L1 never started tracking');
}

/**
 * A conflict on the tenant's app partition: `mine` loads it and gets a token, its write is held while another server
 * (the writer) stores the partition. Resolves once that is stored; release() lets mine's write go and waits for it.
 */
async function conflictOnAppPartition(mine) {
  const selector = { tenantId: DEFAULT_TENANT_ID };
  const held = heldClient(mine, selector);
  const pending = held.client.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
  await held.holding;
  await writer.createClientApplication(idp.msalConfig(), selector).acquireTokenByClientCredential({ scopes: ['https://vault.azure.net/.default'] });
  const theirsBytes = await admin.strlen(keyOf(selector, CLIENT_ID));
  return {
    selector,
    theirsBytes,
    async release() {
      held.release();
      await pending;
    },
  };
}

/**
 * A client whose cache plugin holds msal's write (afterCacheAccess with a changed cache) until release(): its load
 * is done, so whatever another server stores meanwhile makes its compare-and-set conflict.
 */
function heldClient(cache, selector, clientId = CLIENT_ID) {
  const plugin = cache.cachePlugin(selector, clientId);
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  let reached;
  const holding = new Promise((resolve) => { reached = resolve; });
  const cachePlugin = {
    beforeCacheAccess: (context) => plugin.beforeCacheAccess(context),
    async afterCacheAccess(context) {
      if (context.cacheHasChanged) {
        reached();
        await released;
      }
      return plugin.afterCacheAccess(context);
    },
  };
  return { client: new ConfidentialClientApplication(idp.msalConfig({ cachePlugin })), holding, release };
}

describe('OpenTelemetry instruments, from a MeterProvider passed in metrics.meterProvider', () => {
  // On a Cluster there is no L1 (redis-token-cache.js): the two tests that count L1 hits and evictions need one.
  const withL1 = hasLocalCache ? test : test.skip;

  withL1('loads: a Redis hit with the bytes it read, L1 hits for silent calls, misses at each level', async () => {
    await signIn('s1');
    const otel = newTelemetry();
    const reader = newCache({ metrics: { meterProvider: otel.meterProvider } });
    await untilTracking(reader);
    let before = await otel.read();

    const [account] = await reader.createClientApplication(idp.msalConfig(), { sessionId: 's1' }).getTokenCache().getAllAccounts();
    expect(account).toBeDefined();
    expect(await otel.changesSince(before)).toEqual({
      'cache.misses {"CacheLevel":"L1Cache"}': 1,
      'cache.hits {"CacheLevel":"L2Cache"}': 1,
      'redis.io {"network.io.direction":"receive"}': await admin.strlen(keyOf({ sessionId: 's1' })),
      'redis.duration {"db.operation.name":"read"}': 1,
    });

    before = await otel.read();
    const silent = await reader.createClientApplication(idp.msalConfig(), { sessionId: 's1' }).acquireTokenSilent({ account, scopes: SCOPES });
    expect(silent.fromCache).toBe(true);
    expect(await otel.changesSince(before)).toEqual({ 'cache.hits {"CacheLevel":"L1Cache"}': 1 });

    before = await otel.read();
    expect(await reader.createClientApplication(idp.msalConfig(), { sessionId: 'nobody' }).getTokenCache().getAllAccounts()).toEqual([]);
    expect(await otel.changesSince(before)).toEqual({
      'cache.misses {"CacheLevel":"L1Cache"}': 1,
      'cache.misses {"CacheLevel":"L2Cache"}': 1,
      'redis.duration {"db.operation.name":"read"}': 1,
    });
    // The reader's breaker, on the gauge: closed.
    expect(await otel.read()).toMatchObject({
      'redis.breaker.state {"state":"closed"}': 1,
      'redis.breaker.state {"state":"open"}': 0,
      'redis.breaker.state {"state":"half-open"}': 0,
    });
  });

  test('a sign-in without an L1: a Redis miss, then one stored write with the bytes it sent', async () => {
    const otel = newTelemetry();
    const cache = newCache({ localCache: false, metrics: { meterProvider: otel.meterProvider } });
    await signIn('fresh', cache);
    const changes = await otel.changesSince({});
    expect(changes).toMatchObject({
      'writes {"outcome":"stored"}': 1,
      'redis.duration {"db.operation.name":"compare_and_set"}': 1,
      'redis.io {"network.io.direction":"transmit"}': await admin.strlen(keyOf({ sessionId: 'fresh' })),
    });
    expect(changes['cache.misses {"CacheLevel":"L2Cache"}']).toBeGreaterThanOrEqual(1);
    expect(Object.keys(changes).filter((name) => /L1Cache|conflicts|hits/.test(name))).toEqual([]);
  });

  test('a conflict: counted, merged, retried, stored; the stored version it read back is counted as bytes', async () => {
    const otel = newTelemetry();
    const mine = newCache({ localCache: false, metrics: { meterProvider: otel.meterProvider } });
    const { selector, theirsBytes, release } = await conflictOnAppPartition(mine);
    const before = await otel.read();
    await release();

    const changes = await otel.changesSince(before);
    expect(changes).toMatchObject({
      'write.conflicts {}': 1,
      'write.merges {}': 1,
      'write.retries {}': 1,
      'writes {"outcome":"stored"}': 1,
      'redis.io {"network.io.direction":"receive"}': theirsBytes,
      'redis.duration {"db.operation.name":"compare_and_set"}': 2,
    });
    // Both attempts sent a value; the second holds both tokens.
    expect(changes['redis.io {"network.io.direction":"transmit"}']).toBeGreaterThan(await admin.strlen(keyOf(selector, CLIENT_ID)));
    expect(Object.keys(changes).filter((name) => name.startsWith('write.dropped'))).toEqual([]);
  });

  test('a write from before a sign-out is dropped (reason removed), not stored', async () => {
    const account = await signIn('leaving');
    const otel = newTelemetry();
    const mine = newCache({ localCache: false, metrics: { meterProvider: otel.meterProvider } });
    const held = heldClient(mine, { sessionId: 'leaving' });
    const pending = held.client.acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true });
    await held.holding;
    expect(await writer.removePartition({ sessionId: 'leaving' })).toBe(true);
    const tombstoneBytes = await admin.strlen(keyOf({ sessionId: 'leaving' }));
    const before = await otel.read();
    held.release();
    await pending;
    expect(await otel.changesSince(before)).toEqual({
      'write.conflicts {}': 1,
      'write.dropped {"reason":"removed"}': 1,
      'writes {"outcome":"dropped"}': 1,
      'redis.duration {"db.operation.name":"compare_and_set"}': 1,
      'redis.io {"network.io.direction":"transmit"}': expect.any(Number),
      'redis.io {"network.io.direction":"receive"}': tombstoneBytes, // the conflict brought the tombstone back
    });
    expect(await mine.exportPartition({ sessionId: 'leaving' })).toBeNull();
  });

  test('values that cannot be used: corrupt, foreign (a Redis hash), too large; each a Redis miss', async () => {
    const otel = newTelemetry();
    const cache = newCache({ localCache: false, maxValueBytes: 4096, metrics: { meterProvider: otel.meterProvider }, logger: { warn() {} } });
    await admin.set(keyOf({ sessionId: 'corrupt' }), 'mrc2 c not a value of this package');
    await admin.hset(keyOf({ sessionId: 'hash' }), 'field', 'value');
    await admin.set(keyOf({ sessionId: 'large' }), 'x'.repeat(5000));
    for (const sessionId of ['corrupt', 'hash', 'large']) expect(await cache.exportPartition({ sessionId })).toBeNull();
    expect(await otel.changesSince({})).toEqual({
      'cache.unreadable {"reason":"corrupt"}': 1,
      'cache.unreadable {"reason":"foreign"}': 1,
      'cache.unreadable {"reason":"too_large"}': 1,
      'cache.misses {"CacheLevel":"L2Cache"}': 3,
      'redis.io {"network.io.direction":"receive"}': 'mrc2 c not a value of this package'.length,
      'redis.duration {"db.operation.name":"read"}': 3,
    });
  });

  withL1('L1 evictions: a one-entry L1 evicts the older partition', async () => {
    await signIn('first');
    await signIn('second');
    const otel = newTelemetry();
    const reader = newCache({ localCache: { maxEntries: 1 }, metrics: { meterProvider: otel.meterProvider } });
    await untilTracking(reader);
    const before = await otel.read();
    await reader.exportPartition({ sessionId: 'first' });
    await reader.exportPartition({ sessionId: 'second' });
    expect((await otel.changesSince(before))['local_cache.evictions {}']).toBe(1);
    expect(reader.stats().localCache.evictions).toBeGreaterThanOrEqual(1);
  });
});

describe('the circuit breaker, on a Redis of this file frozen with SIGSTOP', () => {
  let server;
  let client;
  beforeAll(async () => {
    server = await startRestartableRedis();
    client = newRedisAt(server.url, { maxRetriesPerRequest: 1 }); // the run's client (ioredis or node-redis)
  });
  afterAll(async () => {
    if (server && server.running) server.signal('SIGCONT');
    if (client) client.disconnect();
    if (server) await server.stop();
  });

  test('opens after 3 timeouts (rejecting calls), goes half-open for a probe, closes when Redis answers; events in order', async () => {
    const otel = newTelemetry();
    const events = [];
    let offset = 0;
    const cache = new RedisTokenCache({
      redis: client, prefix, localCache: false, readFailure: 'open', commandTimeoutMs: 300, clock: () => Date.now() + offset, ...testSecrets(),
      logger: { warn() {} }, metrics: { meterProvider: otel.meterProvider, onEvent: (event) => events.push(event) },
    });
    const breakerEvents = () => events.filter((e) => e.name === `${NS}redis.breaker.transitions`).map((e) => e.attributes.state);
    const read = () => cache.exportPartition({ sessionId: 'any' });
    expect(await read()).toBeNull();

    server.signal('SIGSTOP');
    for (let i = 0; i < 3; i += 1) await expect(read()).rejects.toThrow(CacheStoreError);
    expect(breakerEvents()).toEqual(['open']);
    expect(await otel.read()).toMatchObject({ 'redis.breaker.state {"state":"open"}': 1, 'redis.breaker.state {"state":"closed"}': 0 });
    await expect(read()).rejects.toThrow(CacheStoreError); // not sent: the breaker is open
    // A sign-in meanwhile: its load misses (rejected), its write fails open (writeFailure "open": counted).
    await signIn('offline', cache);

    offset += 1500; // past the probe interval: the next call is the probe
    server.signal('SIGCONT');
    expect(await read()).toBeNull();
    expect(breakerEvents()).toEqual(['open', 'half-open', 'closed']);
    expect(await otel.changesSince({})).toEqual({
      'redis.duration {"db.operation.name":"read"}': 2,
      'redis.duration {"db.operation.name":"read","error.type":"timeout"}': 3,
      'redis.rejected {"db.operation.name":"read"}': 2,
      'cache.misses {"CacheLevel":"L2Cache"}': 2,
      'cache.offline_reads {"result":"miss"}': 5,
      'writes {"outcome":"failed"}': 1,
      'redis.breaker.transitions {"state":"open"}': 1,
      'redis.breaker.transitions {"state":"half-open"}': 1,
      'redis.breaker.transitions {"state":"closed"}': 1,
    });
    expect(await otel.read()).toMatchObject({ 'redis.breaker.state {"state":"closed"}': 1, 'redis.breaker.state {"state":"open"}': 0 });
    expect(cache.stats()).toMatchObject({ missedReads: 5, failedWrites: 1, redis: { breaker: 'closed', rejectedWhileOpen: 2 } });
  }, 20000);
});

describe('onEvent', () => {
  test('gets every measurement as { name, value, attributes }, in order; the OTel instruments get the same', async () => {
    const events = [];
    const otel = newTelemetry();
    const mine = newCache({ localCache: false, metrics: { meterProvider: otel.meterProvider, onEvent: (event) => events.push(event) } });
    const { selector, theirsBytes, release } = await conflictOnAppPartition(mine);
    events.length = 0;
    await release();
    const storedBytes = await admin.strlen(keyOf(selector, CLIENT_ID));

    const CAS = { 'db.operation.name': 'compare_and_set' };
    const TRANSMIT = { 'network.io.direction': 'transmit' };
    // Without the admin indexes' calls (js/admin/partition-index.js): an app partition's index is written before each
    // write (index_add), and its count after it without being awaited (index_count), so that measurement may land
    // anywhere in the list.
    expect(events.filter((event) => !['index_add', 'index_count'].includes(event.attributes['db.operation.name']))).toEqual([
      { name: `${NS}redis.duration`, value: expect.any(Number), attributes: CAS },
      { name: `${NS}redis.io`, value: expect.any(Number), attributes: TRANSMIT },
      { name: `${NS}write.conflicts`, value: 1, attributes: {} },
      { name: `${NS}redis.io`, value: theirsBytes, attributes: { 'network.io.direction': 'receive' } },
      { name: `${NS}write.merges`, value: 1, attributes: {} },
      { name: `${NS}write.retries`, value: 1, attributes: {} },
      { name: `${NS}redis.duration`, value: expect.any(Number), attributes: CAS },
      { name: `${NS}redis.io`, value: storedBytes, attributes: TRANSMIT },
      { name: `${NS}writes`, value: 1, attributes: { outcome: 'stored' } },
    ]);
    for (const event of events.filter((e) => e.name.endsWith('duration'))) {
      expect(event.value).toBeGreaterThan(0);
      expect(event.value).toBeLessThan(1); // seconds
    }
    // Attributes are shared, frozen objects: a callback cannot change what the next measurement carries.
    expect(Object.isFrozen(events[0].attributes)).toBe(true);
    // Every event is a measurement of the OTel instrument of that name.
    const points = await otel.read();
    for (const { name, attributes } of events) expect(points[`${name.slice(NS.length)} ${JSON.stringify(attributes)}`]).toBeGreaterThan(0);
  });

  test('a callback that throws fails no request: one warning, and metrics go on', async () => {
    const warnings = [];
    let calls = 0;
    const cache = newCache({
      localCache: false,
      logger: { warn: (message) => warnings.push(message) },
      metrics: { meterProvider: false, onEvent: () => { calls += 1; throw new Error('collector down'); } },
    });
    const account = await signIn('throwing', cache);
    await cache.createClientApplication(idp.msalConfig(), { sessionId: 'throwing' }).acquireTokenSilent({ account, scopes: SCOPES });
    expect(calls).toBeGreaterThan(4);
    expect(warnings).toEqual(['msal-redis-cache: metrics.onEvent threw (collector down); further failures are not logged']);
  });
});

describe('turning metrics on and off', () => {
  afterEach(() => otelApi.metrics.disable());

  test('by default: the global MeterProvider when an SDK registered one before the cache was made; else nothing', async () => {
    const early = newCache({ localCache: false });
    expect(early.shared.context.metrics.active).toBe(false); // the API alone is a no-op: nothing to do per call
    const otel = newTelemetry();
    expect(otelApi.metrics.setGlobalMeterProvider(otel.meterProvider)).toBe(true);
    const late = newCache({ localCache: false });
    const off = newCache({ localCache: false, metrics: false });
    for (const cache of [early, late, off]) await cache.exportPartition({ sessionId: 'nobody' });
    // Only `late` recorded: one read, one miss.
    expect(await otel.changesSince({})).toEqual({
      'cache.misses {"CacheLevel":"L2Cache"}': 1,
      'redis.duration {"db.operation.name":"read"}': 1,
    });
  });

  test('options are checked up front', () => {
    const make = (metrics) => newCache({ metrics });
    expect(() => make('yes')).toThrow(ConfigurationError);
    expect(() => make({ meter: {} })).toThrow(/unknown option "metrics.meter"; metrics takes \{ meterProvider, onEvent \}/);
    expect(() => make({ onEvent: 'log' })).toThrow(/metrics.onEvent must be a function/);
    expect(() => make({ meterProvider: {} })).toThrow(/metrics.meterProvider must be an OpenTelemetry MeterProvider/);
    expect(make({ meterProvider: false }).shared.context.metrics.active).toBe(false);
    expect(make({ meterProvider: false, onEvent: () => {} }).shared.context.metrics.active).toBe(true);
  });

  test('without @opentelemetry/api installed: a sign-in and a silent call work, and onEvent still gets events', () => {
    // A child process in which resolving @opentelemetry/api fails as it does when the package is not installed.
    const app = path.join(__dirname, '..', 'support', 'without-otel-app.js');
    const result = spawnSync(process.execPath, [app, `${prefix}no-otel:`, CLIENT_ID], { encoding: 'utf8', timeout: 60000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout.trim().split('\n').pop())).toEqual({
      resolvable: false,
      fromCache: true,
      // The silent call: an L1 miss, then a Redis hit (no L1 on a Cluster: the Redis hit alone).
      names: [`${NS}cache.hits`, ...(hasLocalCache ? [`${NS}cache.misses`] : []), `${NS}redis.duration`, `${NS}redis.io`],
    });
  }, 60000);
});
