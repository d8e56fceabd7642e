'use strict';
// A Sentinel failover under load. A Sentinel group of this file's own (tests/support/redis-sentinel.js: a master, a
// replica, three sentinels that call a master dead after 1 s), three servers in their own processes
// (tests/support/race-worker.js: Sentinel clients of the run's client with its defaults, as an app has them, L1 on)
// loop over silent calls (every REFRESH_EVERY-th a forced refresh, so a write), while this process signs users in on
// one server and checks from another that the sign-in was stored, and signs sessions out as a tool would (a
// Sentinel client of the run's client too: ioredis, or node-redis's createSentinel). Then the master is SIGKILLed:
// the sentinels promote the replica, the clients find it through them.
//
// The targets (issue 16): 0 silent calls that report "no account" or "no tokens" for a signed-in user (readFailure
// "closed": a read that fails is a CacheStoreError, or the last copy this server saw); 0 sign-outs lost (the tool's
// sign-outs wait for the replica, signOutReplicas "auto": every sign-out reported done has its partition unreadable
// on the promoted master); every call that stays in the cache (no identity provider) answered within commandTimeoutMs
// plus scheduling.
//
// What must hold: no server crashes or reports an unhandled error; every failure a caller sees during the switch is
// a clear one (a CacheStoreError from the package's own calls; the token cache's two warnings, outage and "answers
// again"); sign-ins are stored and silent calls succeed again within RECOVERED_WITHIN_MS of the promotion; the L1
// suspends when its tracking connection drops and tracks again on the new master (a write on one server is then
// seen by another server's next read); no partition is corrupted (every value under the prefix opens, every
// partition parses, every session of the load still serves its user). The numbers go to
// test-output/sentinel-failover.json.
//
// First, the replica is stopped for a moment: a sign-out then fails closed (it waits for the replica, within a bound).
//
// It runs on the sentinel pass (jest.config.js), and starts its own group: killing the run's master would fail the
// other suites.

const { RedisTokenCache, CacheStoreError } = require('../../../js');
const { nodeRedis } = require('../../support/node-redis');
const { open, TYPE } = require('../../../js/storage/stored-value');
const redisSentinel = require('../../support/redis-sentinel');
const { sentinelEnv, newRedisOfSentinel } = require('../../support/redis-client');
const { startSharedIdentityProvider } = require('../../support/shared-identity-provider');
const { startRaceWorkers, stopRaceWorkers, callWorker: call } = require('../../support/race-workers');
const { reportCounts } = require('../../support/race-helpers');
const {
  SCHEDULING_MS, now, sleep, round, failoverSecrets, loop, signInHere, signInAndCheck, signOutLoop,
  failoverCalls, lostSignOuts,
} = require('../../support/failover-load');

const CLIENT_ID = '00000000-0000-4000-8000-0000005e4f01';
const SCOPES = ['api://failover/Load.Read'];
const WORKERS = 3;
const SESSIONS = 6; // read (cache hits, Redis reads)
const REFRESH_SESSIONS = 3; // also refreshed, so written, during the failover
const CONCURRENCY = 2; // loops per server
const REFRESH_EVERY = 10;
const PAUSE_MS = 5;
const PROMOTED_WITHIN_MS = 15000; // down-after-milliseconds 1000, then the vote and the promotion: ~2-3 s here
const SIGN_OUTS = 150; // sessions signed in before the load, then signed out one every 100 ms during it
const RECOVERED_WITHIN_MS = 5000; // after the promotion: ioredis's reconnect back-off, the breaker's 1 s probe
const LOAD_AFTER_PROMOTION_MS = 6000; // the load goes on this long after the promotion
const prefix = 'failover:';

const { secrets, keyring } = failoverSecrets();

let group;
let redis; // this process's app client (a Sentinel client; its ioredis side under node-redis for the checks below)
let appErrors = 0; // its 'error' events: expected while the master is down, never unhandled
let tool; // this process's token cache: sign-ins, and sign-outs as a tool makes them
let toolWarnings = [];
let shared;
let workers;
let targets;
let refreshTargets;
let signOutTargets;
const summary = {};

beforeAll(async () => {
  group = await redisSentinel.start();
  redis = newRedisOfSentinel(group); // under node-redis a twin: the package gets the node-redis side
  redis.on('error', () => { appErrors += 1; });
  if (redis.nodeRedisClient) await redis.connect(); // an app connects a node-redis client before handing it over
  tool = new RedisTokenCache({
    redis,
    prefix,
    localCache: false,
    logger: { warn: (message) => toolWarnings.push(String(message)) },
    encryptionKeys: [secrets.encryptionKey],
    keyNameSecret: secrets.keyNameSecret,
  });
  shared = await startSharedIdentityProvider({ clientId: CLIENT_ID });
  workers = await startRaceWorkers(WORKERS, {
    idpUrl: shared.url,
    msalAuth: shared.msalAuth(),
    secrets,
    redisEnv: sentinelEnv(group),
    redisOptions: { connectionName: 'failover-{index}' }, // otherwise ioredis's defaults
    monitorProblems: true,
  });
  targets = [];
  for (let i = 0; i < SESSIONS; i += 1) targets.push(await signIn(`load-${i}`));
  refreshTargets = [];
  for (let i = 0; i < REFRESH_SESSIONS; i += 1) refreshTargets.push(await signIn(`refresh-${i}`));
  signOutTargets = [];
  for (let i = 0; i < SIGN_OUTS; i += 1) signOutTargets.push(await signIn(`sign-out-${i}`));
  for (const worker of workers) {
    for (const target of [...targets, ...refreshTargets]) await call(worker, 'observe', { prefix, ...target });
    await untilTracking(worker);
  }
}, 60000);

afterAll(async () => {
  await stopRaceWorkers(workers);
  if (shared) await shared.close();
  if (tool) await tool.close();
  if (redis) redis.disconnect();
  if (group) await group.stop();
  reportCounts('sentinel-failover', { workers: WORKERS, concurrency: CONCURRENCY, refreshEvery: REFRESH_EVERY }, summary);
}, 30000);

const signIn = (sessionId) => signInHere(tool, shared, sessionId, SCOPES);

/** Waits until a worker's L1 tracks (a read starts its listener) and its circuit breaker is closed. */
async function untilTracking(worker, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await worker.call('observe', { prefix, ...targets[0] });
    const stats = await call(worker, 'stats', { prefix });
    if (stats.localCache.coherent && stats.redis.breaker === 'closed') return;
    if (Date.now() > deadline) throw new Error(`worker ${worker.index} is not tracking: ${JSON.stringify(stats)}`);
    await sleep(50);
  }
}

/** Polls the sentinels until they name another master than `old`; resolves it. */
async function untilPromoted(old) {
  const deadline = now() + PROMOTED_WITHIN_MS;
  for (;;) {
    const master = await redisSentinel.masterOf(group.sentinels, group.name);
    if (master && master.port !== old.port) return master;
    if (now() > deadline) throw new Error(`the sentinels did not promote the replica within ${PROMOTED_WITHIN_MS} ms`);
    await sleep(50);
  }
}

test('the replica stopped (SIGSTOP): a sign-out fails closed within signOutReplicas.timeoutMs; continued: it is confirmed', async () => {
  const bound = tool.settings.signOutReplicas.timeoutMs; // the default, 200 ms
  // A tombstone already there (a sign-out over nothing waits for no replica: nothing to lose), so that the sign-out
  // below replaces something and must wait.
  await tool.removePartition({ sessionId: 'replica-stopped' });
  group.signal(group.replica.port, 'SIGSTOP'); // shorter than down-after-milliseconds: the sentinels do not react
  let refused;
  const startAt = now();
  try {
    await tool.removePartition({ sessionId: 'replica-stopped' });
  } catch (err) {
    refused = err;
  } finally {
    group.signal(group.replica.port, 'SIGCONT');
  }
  const ms = now() - startAt;
  expect(refused).toBeInstanceOf(CacheStoreError);
  expect(refused.message).toMatch(/not confirmed: 0 of 1 replica\(s\) acknowledged it within 200 ms/);
  expect(ms).toBeLessThan(bound + SCHEDULING_MS);
  for (let attempt = 1; ; attempt++) { // the replica catches up (one more try on a loaded machine)
    try {
      await tool.removePartition({ sessionId: 'replica-stopped' });
      break;
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
  summary.replicaStopped = { refusedAfterMs: round(ms), signOutReplicas: tool.stats().signOutReplicas };
});

test('node-redis with a pool of master clients (masterPoolSize 3): each tombstone goes through the client its WAIT runs on', async () => {
  // Always node-redis (TEST_NODE_REDIS_MAJOR), whatever the run's client. Sentinel leases a pool client per command,
  // in turn: a tombstone sent through the pool would go to another client than its WAIT's, and a WAIT on a client
  // whose own writes the stopped replica already acknowledged answers at once: a sign-out reported done.
  const client = nodeRedis.createSentinel({ name: group.name, sentinelRootNodes: group.sentinels, masterPoolSize: 3 });
  client.on('error', () => {});
  await client.connect();
  try {
    const pooled = new RedisTokenCache({
      redis: client, prefix: 'pool:', localCache: false, logger: { warn: (m) => toolWarnings.push(String(m)) },
      encryptionKeys: [secrets.encryptionKey], keyNameSecret: secrets.keyNameSecret,
    });
    const sessions = Array.from({ length: 12 }, (_, i) => ({ sessionId: `pool-${i}` }));
    // Tombstones over nothing wait for no replica; over those, one each, in turn over the pool: confirmed.
    for (const session of sessions) await pooled.removePartition(session);
    for (const session of sessions) await pooled.removePartition(session);
    expect(pooled.stats().signOutReplicas.confirmed).toBe(sessions.length);
    const bound = pooled.settings.signOutReplicas.timeoutMs;
    group.signal(group.replica.port, 'SIGSTOP');
    let one;
    let all;
    try {
      one = [];
      for (const session of sessions.slice(0, 4)) { // one after the other: each on the next pool client
        const startAt = now();
        const error = await pooled.removePartition(session).then(() => null, (err) => err);
        one.push({ error, ms: now() - startAt });
      }
      const startAt = now();
      const waitsBefore = pooled.stats().signOutReplicas.waits;
      const errors = await Promise.all(sessions.map((session) => pooled.removePartition(session).then(() => null, (err) => err)));
      all = { errors, ms: now() - startAt, waits: pooled.stats().signOutReplicas.waits - waitsBefore };
    } finally {
      group.signal(group.replica.port, 'SIGCONT');
    }
    for (const { error, ms } of one) {
      expect(error).toBeInstanceOf(CacheStoreError);
      expect(error.message).toMatch(/not confirmed: 0 of 1 replica\(s\) acknowledged it within 200 ms/);
      expect(ms).toBeLessThan(bound + SCHEDULING_MS);
    }
    for (const error of all.errors) expect(error).toBeInstanceOf(CacheStoreError);
    // Concurrent sign-outs share WAITs (at most two per pool client, side by side): two bounds, and scheduling twice.
    expect(all.waits).toBeLessThanOrEqual(2 * 3);
    expect(all.ms).toBeLessThan(2 * (bound + SCHEDULING_MS));
    expect(pooled.stats().signOutReplicas.confirmed).toBe(sessions.length); // none while the replica was stopped
    expect(pooled.stats().redis).toMatchObject({ breaker: 'closed', failures: 0, timeouts: 0 });
    summary.pool = { serialMs: one.map(({ ms }) => round(ms)), concurrentMs: round(all.ms), concurrentWaits: all.waits, signOutReplicas: pooled.stats().signOutReplicas };
  } finally {
    await client.close();
  }
});

test('the master SIGKILLed under load: no crash, clear errors, sign-ins and silent calls work again within seconds', async () => {
  const problemsBefore = await Promise.all(workers.map((worker) => call(worker, 'problems', {})));
  const statsBefore = await Promise.all(workers.map((worker) => call(worker, 'stats', { prefix })));
  toolWarnings = [];
  await Promise.all(workers.map((worker) => call(worker, 'startLoad', {
    prefix, targets, refreshTargets, concurrency: CONCURRENCY, refreshEvery: REFRESH_EVERY, pauseMs: PAUSE_MS,
  })));
  // A user signs in on server 0 every 200 ms, and server 1 checks that the sign-in was stored.
  const signIns = loop((n) => signInAndCheck({
    worker: workers[0], checker: workers[1], shared, prefix, sessionId: `sign-in-${n}`, scopes: SCOPES,
  }), 200);
  // A tool signs a signed-in session out every 100 ms (a sign-out fails closed: it must say why).
  const signOuts = signOutLoop(tool, signOutTargets, 100);

  let killedAt;
  let promotedAt;
  let promoted;
  let suspended;
  let tracking;
  let loads;
  let signInResults;
  let signOutResults;
  try {
    await sleep(1000);
    // Server 1's L1: it must stop serving hits when its tracking connection drops, and track again on the new master.
    const lostTracking = call(workers[1], 'waitStats', { prefix, path: 'localCache.coherent', equals: false, timeoutMs: 10000 }, { timeoutMs: 15000 });
    killedAt = now();
    await group.kill(group.master.port);
    promoted = await untilPromoted(group.master);
    promotedAt = now();
    suspended = await lostTracking;
    tracking = await call(workers[1], 'waitStats', { prefix, path: 'localCache.coherent', equals: true, timeoutMs: 15000 }, { timeoutMs: 20000 });
    await sleep(Math.max(0, promotedAt + LOAD_AFTER_PROMOTION_MS - now()));
  } finally {
    signInResults = await signIns.stop();
    signOutResults = await signOuts.stop();
    loads = await Promise.all(workers.map((worker) => call(worker, 'stopLoad', {}, { timeoutMs: 30000 })));
  }
  const problemsAfter = await Promise.all(workers.map((worker) => call(worker, 'problems', {})));
  const statsAfter = await Promise.all(workers.map((worker) => call(worker, 'stats', { prefix })));

  const { lastFailure, summary: calls } = failoverCalls({ loads, signInResults, signOutResults, killedAt });
  const since = (at) => round(at - promotedAt);
  const result = {
    promotedMsAfterKill: round(promotedAt - killedAt),
    promoted: `${promoted.host}:${promoted.port}`,
    l1SuspendedMsAfterKill: suspended.reached ? round(suspended.at - killedAt) : null,
    l1TrackingAgainMsAfterPromotion: tracking.reached ? since(tracking.at) : null,
    lastFailureMsAfterPromotion: lastFailure > 0 ? since(lastFailure) : null,
    ...calls,
    signInErrors: signInResults.filter((r) => !r.ok).map((r) => r.error).slice(0, 3),
    signOutErrorSample: (signOutResults.find((r) => !r.ok) || {}).error?.message ?? null,
    perWorker: workers.map((worker, i) => ({
      alive: worker.alive,
      newProblems: problemsAfter[i].problems.slice(problemsBefore[i].problems.length),
      appClientErrors: problemsAfter[i].appClientErrors.count - problemsBefore[i].appClientErrors.count,
      warnings: problemsAfter[i].warnings.slice(-Math.max(0, problemsAfter[i].warningCount - problemsBefore[i].warningCount)),
      failedWrites: statsAfter[i].failedWrites - statsBefore[i].failedWrites,
      missedReads: statsAfter[i].missedReads - statsBefore[i].missedReads,
      staleReads: statsAfter[i].staleReads - statsBefore[i].staleReads,
      localHits: statsAfter[i].localCache.hits - statsBefore[i].localCache.hits,
      breakerOpened: statsAfter[i].redis.breakerOpened - statsBefore[i].redis.breakerOpened,
      invalidationConnectionsOpened: problemsAfter[i].connectionsOpened.length - problemsBefore[i].connectionsOpened.length,
    })),
    toolWarnings,
    appClientErrorsHere: appErrors,
    // 0 sign-outs lost: every sign-out reported done left its partition unreadable on the promoted master.
    ...await lostSignOuts(tool, signOutResults),
    signOutReplicas: tool.stats().signOutReplicas,
  };
  summary.failover = result;

  // No crash, nothing unhandled.
  for (const [i, w] of result.perWorker.entries()) {
    expect({ worker: i, alive: w.alive, problems: w.newProblems }).toEqual({ worker: i, alive: true, problems: [] });
  }
  // The switch was noticed (calls failed or fell back) and said clearly: a sign-out that failed is a CacheStoreError
  // saying Redis failed; the token cache warned once that Redis failed and once that it answers again; nothing was
  // unreadable.
  expect(result.perWorker.some((w) => w.failedWrites + w.missedReads + w.staleReads > 0) || result.failedCalls > 0).toBe(true);
  for (const r of signOutResults.filter((s) => !s.ok)) {
    expect(r.error).toBeInstanceOf(CacheStoreError);
    expect(r.error.message).toMatch(
      /^msal-redis-cache: (Redis \w+ (failed|not sent) for|sign-out of) "failover:session:\{[^}]+\}"/,
    );
  }
  // No signed-in user is told to sign in again because Redis hiccuped (readFailure "closed"): a silent call either
  // is served (from Redis, or the last copy this server saw) or fails with a CacheStoreError, within
  // commandTimeoutMs plus scheduling; never "no account" or "no tokens".
  expect(Object.keys(result.callErrors).filter((kind) => kind !== 'CacheStoreError')).toEqual([]);
  expect(result.callsOverBound).toBe(0);
  expect(result.slowestSignOutMs).toBeLessThan(result.signOutBoundMs); // a call's, with this process's scheduling
  // No sign-out reported done came back, and they did wait for the replica.
  expect(result.signOutsDone).toBeGreaterThan(0);
  expect(result.signOutsLost).toBe(0);
  expect(result.signOutReplicas.confirmed).toBeGreaterThan(0);
  const allWarnings = [...toolWarnings, ...result.perWorker.flatMap((w) => w.warnings)];
  expect(allWarnings.filter((m) => /unreadable/.test(m))).toEqual([]);
  if (result.signOutsFailed > 0) {
    expect(toolWarnings).toEqual(expect.arrayContaining([
      expect.stringMatching(/^msal-redis-cache: Redis \w+ failed for .*Until Redis answers again/),
      'msal-redis-cache: Redis answers again.',
    ]));
  }
  // L1: suspended when the master died, tracking again on the new one.
  expect(result.l1SuspendedMsAfterKill).not.toBeNull();
  expect(result.l1TrackingAgainMsAfterPromotion).not.toBeNull();
  // Everything works again within seconds of the promotion, and went on working until the end of the load.
  expect(result.lastFailureMsAfterPromotion ?? 0).toBeLessThanOrEqual(RECOVERED_WITHIN_MS);
  expect(result.callsAfterRecovery).toBeGreaterThan(100);
  const lateSignIns = signInResults.filter((r) => r.startAt > promotedAt + RECOVERED_WITHIN_MS);
  expect(lateSignIns.length).toBeGreaterThan(0);
  expect(lateSignIns.filter((r) => !r.stored)).toEqual([]);
}, 60000);

test('after the failover the L1 tracks on the new master: a write on one server is seen by another server\'s next read', async () => {
  const [writer, reader] = workers;
  for (const worker of workers) await untilTracking(worker);
  const target = await signIn('after-failover');
  // The reader's L1 serves the session (read until a hit: the sign-in's own invalidation may come after a read).
  for (let attempt = 0; ; attempt += 1) {
    if ((await call(reader, 'observe', { prefix, ...target })).localHits > 0) break;
    if (attempt === 20) throw new Error('the reader\'s L1 never served the session');
    await sleep(10);
  }
  const before = (await call(reader, 'stats', { prefix })).localCache.invalidations;
  const invalidated = call(reader, 'waitStats', { prefix, path: 'localCache.invalidations', above: before, timeoutMs: 3000 });
  const scopes = ['api://failover/After.Read']; // a new scope: the writer redeems the refresh token and writes
  const written = await call(writer, 'silent', { prefix, ...target, scopes });
  expect(written.fromCache).toBe(false);
  expect((await invalidated).reached).toBe(true);
  const seen = await call(reader, 'observe', { prefix, ...target, scopes });
  expect(seen.silent).toEqual({ ok: true, fromCache: true, accessToken: written.accessToken });
  expect(seen.networkCalls).toBe(0);
  // And the new version is in the reader's L1: the next read is a hit.
  expect((await call(reader, 'observe', { prefix, ...target, scopes })).localHits).toBeGreaterThan(0);
  summary.afterFailover = { invalidationMsAfterWrite: round((await invalidated).at - written.endAt) };
});

test('no partition is corrupted: every value under the prefix opens, every partition parses, every session still serves', async () => {
  const counts = { partitions: 0, tombstones: 0, otherTypes: {} };
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      // Sorted sets are the admin operations' indexes (js/admin/partition-index.js), not partitions.
      if (type !== 'string') {
        counts.otherTypes[type] = (counts.otherTypes[type] || 0) + 1;
        continue;
      }
      const opened = open(keyring, key, await redis.getBuffer(key)); // throws UnreadableValue if corrupt
      if (opened.type === TYPE.tombstone) counts.tombstones += 1;
      else {
        expect([key, opened.type]).toEqual([key, TYPE.partition]);
        JSON.parse(opened.body.toString('utf8'));
        counts.partitions += 1;
      }
    }
  } while (cursor !== '0');
  summary.stored = counts;
  expect(counts.partitions).toBeGreaterThanOrEqual(SESSIONS + REFRESH_SESSIONS);
  expect(counts.tombstones).toBeGreaterThan(0);
  // Each session of the load still serves its user from the cache, on every server.
  for (const worker of workers) {
    for (const target of [...targets, ...refreshTargets]) {
      const seen = await call(worker, 'observe', { prefix, ...target });
      expect({ worker: worker.index, session: target.sessionId, ok: seen.silent.ok, networkCalls: seen.networkCalls })
        .toEqual({ worker: worker.index, session: target.sessionId, ok: true, networkCalls: 0 });
    }
  }
});
