'use strict';
// Fixed: a server's own write and another server's sign-out of the same partition run by Redis in one event-loop
// cycle. With CLIENT TRACKING BCAST, Redis gathers the keys changed during a cycle and sends one invalidation message
// per key (beforeSleep), so both changes arrive at the writer as one message. The writer used to take it for its
// own write's and ignore it, then served the signed-out partition from memory until its TTL (24 h sliding by
// default). Now that message leaves its entry unconfirmed, and the next lookup checks the etag Redis holds first
// (js/local-cache/local-cache.js).
//
// Two real Node processes (tests/support/race-worker.js), each with its own client of the run's kind
// (TEST_REDIS_CLIENT) and RedisTokenCache, on a redis-server this file starts for itself (on the cluster pass, a
// Cluster of 3 masters of its own: one tracking connection per master): CLIENT PAUSE WRITE holds every write, the
// writer's token refresh is queued first and the other server's sign-out after it, and CLIENT UNPAUSE lets Redis run
// both in one cycle. Then the writer, as an app would, must find no account. (The Sentinel pass leaves it out: its
// L1 tracks on the master as on a standalone server.)

const crypto = require('node:crypto');
const Redis = require('../../support/ioredis');
const { startSharedIdentityProvider } = require('../../support/shared-identity-provider');
const { startRaceWorkers, stopRaceWorkers, callWorker: call } = require('../../support/race-workers');
const { startRestartableRedis } = require('../../support/restartable-redis');
const redisCluster = require('../../support/redis-cluster');
const { topology } = require('../../support/redis-client');
const { partitionIsBack, reportCounts, truthTokenCache, signInThrough } = require('../../support/race-helpers');

const CLIENT_ID = '00000000-0000-4000-8000-00000000c0e2';
const SIGN_IN_SCOPES = ['api://same-cycle/Session.Read'];
// Before the fix the writer kept serving the signed-out partition in about 3 trials of 5: 8 trials all pass on that
// code about once in 1,500 runs.
const TRIALS = Number(process.env.SAME_CYCLE_TRIALS || 8);
const WRITE_QUEUED_MS = 300; // for the writer's token request and its write to reach the paused Redis
const SIGN_OUT_QUEUED_MS = 150;

const secrets = {
  encryptionKey: crypto.randomBytes(32).toString('base64'),
  keyNameSecret: crypto.randomBytes(32).toString('base64'),
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const ON_CLUSTER = topology === 'cluster';
let server; // a redis-server, or a Cluster
let admins; // one connection per master: CLIENT PAUSE / UNPAUSE
let redis;
let truthCache; // this process's server, without an L1: signs users in, and says what Redis holds
let shared;
let workers;
const prefix = `same-cycle:${crypto.randomBytes(4).toString('hex')}:`;
let scopeCounter = 0;

beforeAll(async () => {
  server = ON_CLUSTER ? await redisCluster.start({ masters: 3 }) : await startRestartableRedis();
  admins = ON_CLUSTER ? server.nodes.map(({ host, port }) => new Redis({ host, port })) : [new Redis(server.url)];
  redis = ON_CLUSTER ? new Redis.Cluster(server.nodes) : new Redis(server.url);
  truthCache = truthTokenCache(redis, prefix, secrets);
  shared = await startSharedIdentityProvider({ clientId: CLIENT_ID });
  workers = await startRaceWorkers(2, {
    idpUrl: shared.url,
    msalAuth: shared.msalAuth(),
    secrets,
    ...(ON_CLUSTER
      ? { redisEnv: { TEST_REDIS_TOPOLOGY: 'cluster', TEST_REDIS_CLUSTER_NODES: server.nodes.map(({ host, port }) => `${host}:${port}`).join(',') } }
      : { redisUrl: server.url }),
    monitorProblems: true,
  });
  for (const worker of workers) {
    await call(worker, 'stats', { prefix }); // makes its token cache, whose first read starts its listener
    await call(worker, 'observe', { prefix, sessionId: 'warm-up', account: null, scopes: SIGN_IN_SCOPES });
    const seen = await call(worker, 'waitStats', { prefix, path: 'localCache.coherent', equals: true, timeoutMs: 5000 });
    if (!seen.reached) throw new Error(`worker ${worker.index}: its L1 did not start tracking`);
  }
}, 60000);

afterAll(async () => {
  await unpause().catch(() => {});
  await stopRaceWorkers(workers);
  if (shared) await shared.close();
  if (truthCache) await truthCache.close();
  if (redis) redis.disconnect();
  for (const admin of admins || []) admin.disconnect();
  if (server) await server.stop();
}, 30000);

const pause = () => Promise.all(admins.map((admin) => admin.call('CLIENT', 'PAUSE', '10000', 'WRITE')));
const unpause = () => Promise.all((admins || []).map((admin) => admin.call('CLIENT', 'UNPAUSE')));

/** Sign-in in this process (its token request is in-process). */
const signIn = (sessionId) => signInThrough(truthCache, shared, sessionId, SIGN_IN_SCOPES);

const observe = (worker, sessionId, account, scopes) => call(worker, 'observe', { prefix, sessionId, account, scopes });
const statsOf = (worker) => call(worker, 'stats', { prefix });

test(`fixed: a write and another server's sign-out in one Redis cycle (one invalidation message): the writer serves no signed-out partition (${TRIALS} trials)`, async () => {
  const counts = { trials: TRIALS, stillSignedIn: 0, writesStored: 0, signOuts: 0 };
  let firstBack = null;
  for (let t = 0; t < TRIALS; t += 1) {
    const [writer, other] = t % 2 ? [workers[1], workers[0]] : [workers[0], workers[1]];
    const sessionId = `same-cycle-${t}`;
    const { account } = await signIn(sessionId);
    // The writer holds the session in its L1 (its own read, then a hit).
    await observe(writer, sessionId, account, SIGN_IN_SCOPES);
    const before = await statsOf(writer);

    await pause();
    let writing;
    let signingOut;
    try {
      // A new scope: the writer redeems its refresh token and writes the partition (queued by the pause).
      writing = call(writer, 'silent', { prefix, sessionId, account, scopes: [`api://same-cycle/Scope${(scopeCounter += 1)}.Read`] });
      await sleep(WRITE_QUEUED_MS);
      signingOut = call(other, 'removePartition', { prefix, sessionId });
      await sleep(SIGN_OUT_QUEUED_MS);
    } finally {
      await unpause();
    }
    const written = await writing; // callWorker throws if it failed
    await signingOut;
    counts.signOuts += 1;
    const afterWrite = await statsOf(writer);
    if (!written.fromCache && afterWrite.failedWrites === before.failedWrites) counts.writesStored += 1;
    // The one message (or two) reaches the writer's listener.
    await call(writer, 'waitStats', { prefix, path: 'localCache.invalidations', above: before.localCache.invalidations, timeoutMs: 2000 });

    const truth = await truthCache.exportPartition({ sessionId });
    expect(truth).toBeNull(); // the sign-out came last: Redis holds its tombstone
    const seen = await observe(writer, sessionId, account, SIGN_IN_SCOPES);
    if (partitionIsBack(seen)) {
      counts.stillSignedIn += 1;
      firstBack = firstBack || { trial: t, accounts: seen.accounts.length, silentOk: seen.silent.ok };
    }
  }
  reportCounts('local-cache-same-cycle', { trials: TRIALS }, counts);
  expect({ ...counts, firstBack }).toEqual({ ...counts, stillSignedIn: 0, firstBack: null });
  // The pause did what it is for: the writer's write reached Redis before the sign-out (else the trial shows nothing).
  expect(counts.writesStored).toBeGreaterThanOrEqual(Math.ceil(TRIALS * 0.75));
}, 120000);

test('no server process crashed or reported an unhandled error', async () => {
  for (const worker of workers) {
    const { problems } = await call(worker, 'problems', {});
    expect(problems).toEqual([]);
  }
});
