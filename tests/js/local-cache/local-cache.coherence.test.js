'use strict';
// Coherence of the in-process cache (L1) between servers: two real Node processes (tests/support/race-worker.js),
// each with its own ioredis client and RedisTokenCache (L1 on, the default), on a redis-server this file starts
// for itself (so that it can kill, flush and restart it without disturbing other suites). A write on one server is
// seen by the next read on the other.
//
// On the sentinel and cluster passes (TEST_REDIS_TOPOLOGY) it runs on the run's Sentinel group or Cluster instead (the
// L1 tracks on the master, or on every master of the Cluster), which other suites share: the tests that freeze, flush
// or restart Redis, or kill every pub/sub connection, run on the standalone pass only (sentinel-failover.test.js kills
// a Sentinel master of its own; local-cache.cluster.test.js fails over and reshards a Cluster of its own).
//
// Redis tells every L1 about a change asynchronously (an invalidation message), so a user can be served the old
// copy for as long as that message takes. The tests allow for it the way a user would see it: after a write on A,
// they wait (in B) until B's invalidation counter has moved, and record when it did, relative to the end of A's call;
// then B must never serve the old copy. The wait is bounded by WAIT_MS; the nominal bound a user would notice is
// BOUND_MS, and the trials where B took longer are counted ("late": on a loaded 2-core machine B's process can be
// starved of CPU for longer than that, which nothing in B can shorten). The latencies are printed and written to
// test-output/local-cache-coherence.json.
//
// What B finds is observed as an app would see it: a fresh client's getAllAccounts() and acquireTokenSilent(),
// whose network client refuses and counts every call (race-helpers observePartition), compared with what a server
// without an L1 (localCache: false, in this process) finds at the same moment ("the truth").

const crypto = require('node:crypto');
const Redis = require('../../support/ioredis');
const { newRedis, topology, onEveryMaster } = require('../../support/redis-client');
const { startSharedIdentityProvider } = require('../../support/shared-identity-provider');
const { startRaceWorkers, stopRaceWorkers, callWorker: call } = require('../../support/race-workers');
const { startRestartableRedis } = require('../../support/restartable-redis');
const { observePartition, reportCounts, truthTokenCache, signInThrough } = require('../../support/race-helpers');

const CLIENT_ID = '00000000-0000-4000-8000-00000000c0e1';
const SIGN_IN_SCOPES = ['api://coherence/Session.Read'];
const BOUND_MS = 100; // how long after a write's end another server may still serve the old copy (nominal)
const WAIT_MS = 1000; // how long the tests wait for the other server to learn of a write before they look
const TRIALS = Number(process.env.COHERENCE_TRIALS || 40);
const RECONNECT_TRIALS = 4; // per way of killing the invalidation connection
const COHERENT_WITHIN_MS = 5000; // the listener reconnects after 100 ms, doubling up to 2 s
const OWN_SERVER = topology === 'standalone'; // else the run's Sentinel group, shared with other suites
const onOwnServer = OWN_SERVER ? test : test.skip; // tests that freeze, flush or restart the server


const secrets = {
  encryptionKey: crypto.randomBytes(32).toString('base64'),
  keyNameSecret: crypto.randomBytes(32).toString('base64'),
};

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let server;
let admin; // FLUSHALL, CLIENT KILL, SAVE: what an operator (or a failure) does
let redis; // this process's own app client
let truthCache; // this process's server, without an L1: what Redis holds
let shared;
let workers;
let prefix;
let scopeCounter = 0;
const summary = {};
const latencies = { writeThroughServer: [], signOut: [], directWrite: [], flush: [], reconnectMs: [], reconnectWithReadMs: [] };

const quietClient = () => {
  const client = server ? new Redis(server.url) : newRedis();
  client.on('error', () => {}); // the tests kill the server on purpose
  return client;
};

beforeAll(async () => {
  server = OWN_SERVER ? await startRestartableRedis() : null;
  admin = quietClient();
  redis = quietClient();
  shared = await startSharedIdentityProvider({ clientId: CLIENT_ID });
  workers = await startRaceWorkers(2, {
    idpUrl: shared.url,
    msalAuth: shared.msalAuth(),
    secrets,
    redisUrl: server ? server.url : undefined, // undefined: the run's Redis
    redisOptions: { maxRetriesPerRequest: 2, connectionName: 'coherence-{index}' },
    monitorProblems: true,
  });
}, 60000);

afterAll(async () => {
  await stopRaceWorkers(workers);
  if (shared) await shared.close();
  if (truthCache) await truthCache.close();
  if (redis) redis.disconnect();
  if (admin) admin.disconnect();
  if (server) await server.stop();
  const stats = (values) => {
    const sorted = [...values].sort((x, y) => x - y);
    const at = (q) => (sorted.length ? Number(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)].toFixed(3)) : null);
    return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1) };
  };
  const measured = Object.fromEntries(Object.entries(latencies).map(([name, values]) => [name, stats(values)]));
  reportCounts('local-cache-coherence', { boundMs: BOUND_MS, waitMs: WAIT_MS, trials: TRIALS }, { ...summary, latenciesMs: measured });
}, 30000);

beforeEach(async () => {
  const name = expect.getState().currentTestName.replace(/\W+/g, '-').slice(0, 40);
  prefix = `coh:${name}:${crypto.randomBytes(4).toString('hex')}:`;
  if (truthCache) await truthCache.close();
  truthCache = truthTokenCache(redis, prefix, secrets);
  // Every test starts with both servers' L1 tracking (it connects on first use).
  for (const worker of workers) {
    await call(worker, 'stats', { prefix });
    await call(worker, 'observe', { prefix, sessionId: 'warm-up', account: null, scopes: SIGN_IN_SCOPES });
    await untilCoherent(worker);
  }
});

// One token cache per worker at a time: a worker's invalidation connection is then the only pub/sub connection
// named after it (CLIENT KILL ID below).
afterEach(async () => {
  for (const worker of workers) await call(worker, 'close', { prefix });
});

async function untilCoherent(worker, timeoutMs = COHERENT_WITHIN_MS) {
  const seen = await call(worker, 'waitStats', { prefix, path: 'localCache.coherent', equals: true, timeoutMs });
  if (!seen.reached) throw new Error(`worker ${worker.index}: its L1 did not track again within ${timeoutMs} ms`);
  return seen;
}

async function untilReachable(worker, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await worker.call('ping', {});
    if (reply.ok) return;
    if (Date.now() > deadline) throw new Error(`worker ${worker.index} does not reach Redis: ${reply.error.message}`);
    await sleep(20);
  }
}

const newScopes = () => [`api://coherence/Scope${(scopeCounter += 1)}.Read`];

/** Sign-in in this process (its token request is in-process). */
const signIn = (sessionId) => signInThrough(truthCache, shared, sessionId, SIGN_IN_SCOPES);

const observe = (worker, sessionId, account, scopes) => call(worker, 'observe', { prefix, sessionId, account, scopes });
const truth = (sessionId, account, scopes) => observePartition(truthCache, shared.msalAuth(), sessionId, account, scopes);

/** The part of an observation that must agree between a server with an L1 and Redis itself. */
const view = (seen) => ({
  accounts: seen.accounts.map((a) => a.homeAccountId).sort(),
  silent: seen.silent.ok
    ? { ok: true, fromCache: seen.silent.fromCache, accessToken: seen.silent.accessToken }
    : { ok: false },
  networkCalls: seen.networkCalls,
});

/**
 * Reads the session on `worker` until its L1 serves it (an observation reads it twice: the second read is then an L1
 * hit). The invalidation of the write that stored it may reach the worker after its first read, and drop that copy:
 * hence a few attempts.
 */
async function warm(worker, sessionId, account, scopes = SIGN_IN_SCOPES) {
  for (let attempt = 1; ; attempt += 1) {
    const seen = await observe(worker, sessionId, account, scopes);
    expect(seen.silent).toMatchObject({ ok: true, fromCache: true });
    if (seen.localHits >= 1) return seen;
    if (attempt === 10) throw new Error(`worker ${worker.index}: its L1 never served the session`);
    await sleep(5);
  }
}

/** Resolves `promise`'s value, or `late` once the wall clock passes `until`. */
async function byDeadline(promise, until, late) {
  let timer;
  const deadline = new Promise((resolve) => { timer = setTimeout(() => resolve(late), Math.max(0, until - now())); });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Makes `write` (an operation on the writing server that resolves { endAt }) and waits, at most until WAIT_MS after
 * its end, for the reader's invalidation counter to move. Resolves { written, latency() }; latency() resolves
 * { latencyMs, late } (late: over BOUND_MS, or never seen).
 */
async function writeAndWait(reader, write) {
  const before = (await call(reader, 'stats', { prefix })).localCache.invalidations;
  const invalidated = call(reader, 'waitStats', { prefix, path: 'localCache.invalidations', above: before, timeoutMs: 3000 });
  invalidated.catch(() => {});
  const written = await write();
  await byDeadline(invalidated, written.endAt + WAIT_MS, null);
  return {
    written,
    /** When the reader saw the invalidation, relative to the end of the write (its clock), once it has. */
    async latency() {
      const seen = await invalidated;
      const latencyMs = seen.reached ? seen.at - written.endAt : null;
      return { latencyMs, late: latencyMs === null || latencyMs > BOUND_MS };
    },
  };
}

// ---- a write on one server is seen by the next read on the other --------------------------------------------

test(`a token acquired on one server is served from cache on the other, no token request (${TRIALS} trials)`, async () => {
  const counts = { trials: TRIALS, stale: 0, late: 0, invalidationBeforeWriteReturned: 0, l1HitsAfter: 0 };
  let firstStale = null;
  for (let t = 0; t < TRIALS; t += 1) {
    const [writer, reader] = t % 2 ? [workers[1], workers[0]] : [workers[0], workers[1]];
    const sessionId = `write-${t}`;
    const { account } = await signIn(sessionId);
    await warm(reader, sessionId, account);
    await warm(writer, sessionId, account);

    const scopes = newScopes();
    const tokenRequests = shared.tokenRequestCount();
    const outcome = await writeAndWait(reader, () => call(writer, 'silent', { prefix, sessionId, account, scopes }));
    expect(outcome.written.fromCache).toBe(false); // a new scope: the writer redeemed the refresh token
    expect(shared.tokenRequestCount()).toBe(tokenRequests + 1);

    const seen = await observe(reader, sessionId, account, scopes);
    const ok = seen.silent.ok && seen.silent.fromCache && seen.networkCalls === 0
      && seen.silent.accessToken === outcome.written.accessToken;
    if (!ok) {
      counts.stale += 1;
      firstStale = firstStale || { trial: t, seen: view(seen), truth: view(await truth(sessionId, account, scopes)) };
    }
    expect(shared.tokenRequestCount()).toBe(tokenRequests + 1); // the reader asked nobody
    // And the reader's L1 holds the new version: the next read is a hit.
    if ((await observe(reader, sessionId, account, scopes)).localHits > 0) counts.l1HitsAfter += 1;
    const { latencyMs, late } = await outcome.latency();
    if (late) counts.late += 1;
    if (latencyMs !== null) latencies.writeThroughServer.push(latencyMs);
    if (latencyMs !== null && latencyMs <= 0) counts.invalidationBeforeWriteReturned += 1;
  }
  summary.writeSeenByOtherServer = counts;
  expect({ ...counts, firstStale }).toEqual({ ...counts, stale: 0, firstStale: null, l1HitsAfter: TRIALS });
}, 90000);

test(`writes on both servers in turn: each serves its own write from its L1, and the other's next write replaces it (${TRIALS} trials)`, async () => {
  // A server keeps what it wrote and ignores the one invalidation its own write causes (js/local-cache/local-cache.js). The
  // other server's write, right after, must still evict it: A must never keep serving its own older version.
  const counts = { trials: TRIALS, stale: 0, ownWriteFromL1: 0, ownTokenLost: 0 };
  let firstStale = null;
  for (let t = 0; t < TRIALS; t += 1) {
    const [first, second] = t % 2 ? [workers[1], workers[0]] : [workers[0], workers[1]];
    const sessionId = `in-turn-${t}`;
    const { account } = await signIn(sessionId);
    await warm(first, sessionId, account);
    await warm(second, sessionId, account);

    const firstScopes = newScopes();
    const mine = await call(first, 'silent', { prefix, sessionId, account, scopes: firstScopes });
    expect(mine.fromCache).toBe(false);
    const own = await observe(first, sessionId, account, firstScopes);
    expect(own.silent).toMatchObject({ ok: true, fromCache: true, accessToken: mine.accessToken });
    if (own.localHits === 2) counts.ownWriteFromL1 += 1; // both of the observation's loads: no Redis read

    const secondScopes = newScopes();
    const outcome = await writeAndWait(first, () => call(second, 'silent', { prefix, sessionId, account, scopes: secondScopes }));
    expect(outcome.written.fromCache).toBe(false);
    const seen = await observe(first, sessionId, account, secondScopes);
    const ok = seen.silent.ok && seen.silent.fromCache && seen.networkCalls === 0
      && seen.silent.accessToken === outcome.written.accessToken;
    if (!ok) {
      counts.stale += 1;
      firstStale = firstStale || { trial: t, seen: view(seen), truth: view(await truth(sessionId, account, secondScopes)) };
    }
    // The second server's write merged the first one's token in: both servers serve it.
    const kept = await observe(second, sessionId, account, firstScopes);
    if (!(kept.silent.ok && kept.silent.accessToken === mine.accessToken)) counts.ownTokenLost += 1;
  }
  summary.writesInTurn = counts;
  expect({ ...counts, firstStale }).toEqual({ ...counts, stale: 0, ownTokenLost: 0, firstStale: null });
  // Nearly always (an invalidation of an earlier write still under way may evict it: then it is only a miss).
  expect(counts.ownWriteFromL1).toBeGreaterThanOrEqual(Math.ceil(TRIALS * 0.8));
}, 120000);

test(`a sign-out on one server: the other finds no account (${TRIALS} trials)`, async () => {
  const counts = { trials: TRIALS, stillSignedIn: 0, late: 0 };
  for (let t = 0; t < TRIALS; t += 1) {
    const [writer, reader] = t % 2 ? [workers[1], workers[0]] : [workers[0], workers[1]];
    const sessionId = `signout-${t}`;
    const { account } = await signIn(sessionId);
    await warm(reader, sessionId, account);
    const outcome = await writeAndWait(reader, async () => {
      await call(writer, 'removePartition', { prefix, sessionId });
      return { endAt: now() };
    });
    const seen = await observe(reader, sessionId, account, SIGN_IN_SCOPES);
    if (seen.accounts.length > 0 || seen.silent.ok || seen.networkCalls > 0) counts.stillSignedIn += 1;
    const { latencyMs, late } = await outcome.latency();
    if (late) counts.late += 1;
    if (latencyMs !== null) latencies.signOut.push(latencyMs);
  }
  summary.signOutSeenByOtherServer = counts;
  expect(counts).toEqual({ ...counts, stillSignedIn: 0 });
}, 90000);

test('invalidation latency of a write made directly in Redis (200 writes)', async () => {
  // The transport alone: a SET of a partition-shaped key (<prefix>session:..., tracked) from an admin connection,
  // timed from just before the command is sent until the reader's counter moves.
  // Only that every invalidation arrives is asserted: its latency is recorded (on a loaded machine a scheduling
  // stall of the reader can exceed BOUND_MS; what a user could then see is what the tests above check).
  const reader = workers[1];
  let late = 0;
  let missing = 0;
  for (let i = 0; i < 200; i += 1) {
    const before = (await call(reader, 'stats', { prefix })).localCache.invalidations;
    const invalidated = call(reader, 'waitStats', { prefix, path: 'localCache.invalidations', above: before, timeoutMs: 2000 });
    await sleep(1); // the reader is waiting before the write is sent
    const sentAt = now();
    await admin.set(`${prefix}session:{probe${i % 8}}`, String(i));
    const seen = await invalidated;
    if (!seen.reached) missing += 1;
    else {
      latencies.directWrite.push(seen.at - sentAt);
      if (seen.at - sentAt > BOUND_MS) late += 1;
    }
  }
  summary.directWrite = { writes: 200, missing, lateOverBound: late };
  expect(missing).toBe(0);
  // Keys beside the partitions (the admin operations' indexes) are not tracked: writing them tells no server.
  const before = (await call(reader, 'stats', { prefix })).localCache.invalidations;
  for (let i = 0; i < 20; i += 1) await admin.set(`${prefix}index:probe:${i}`, String(i));
  await admin.set(`${prefix}session:{probe-last}`, 'x'); // then one that is tracked, to know the others had their turn
  const seen = await call(reader, 'waitStats', { prefix, path: 'localCache.invalidations', above: before, timeoutMs: 2000 });
  expect(seen.reached).toBe(true);
  expect((await call(reader, 'stats', { prefix })).localCache.invalidations).toBe(before + 1);
}, 60000);

test('reads racing a stream of writes: once the writes stop, the reader serves the last version', async () => {
  // B reads the session in a loop (two loops, no pause) while A stores 30 new tokens in a row: every one of B's
  // reads may be overtaken by an invalidation, and a read that was must not be cached.
  const [writer, reader] = workers;
  const sessionId = 'churn';
  const { account } = await signIn(sessionId);
  await warm(reader, sessionId, account);
  const invalidationsBefore = (await call(reader, 'stats', { prefix })).localCache.invalidations;
  await call(reader, 'startLoad', { prefix, targets: [{ sessionId, account, scopes: SIGN_IN_SCOPES }], concurrency: 2, pauseMs: 0 });
  const written = [];
  const writes = (async () => {
    for (let i = 0; i < 30; i += 1) {
      const scopes = newScopes();
      written.push({ scopes, ...(await call(writer, 'silent', { prefix, sessionId, account, scopes })) });
    }
  })();
  await writes.catch(() => {}); // the load stops either way; a failed write fails the test just below
  const load = await call(reader, 'stopLoad', {});
  await writes;
  const readsDuringWrites = load.records.length;
  const failedReads = load.records.filter((r) => !r[3]).length;
  // The reader has learnt of every write (one invalidation each), or WAIT_MS has passed.
  await call(reader, 'waitStats', { prefix, path: 'localCache.invalidations', above: invalidationsBefore + written.length - 1, timeoutMs: WAIT_MS });
  let stale = 0;
  for (const { scopes, accessToken } of written) {
    const seen = await observe(reader, sessionId, account, scopes);
    if (!(seen.silent.ok && seen.silent.fromCache && seen.networkCalls === 0 && seen.silent.accessToken === accessToken)) stale += 1;
  }
  const stats = await call(reader, 'stats', { prefix });
  summary.readsRacingWrites = { writes: written.length, readsDuringWrites, failedReads, stale, readerL1: stats.localCache };
  expect({ stale, failedReads }).toEqual({ stale: 0, failedReads: 0 });
  expect(readsDuringWrites).toBeGreaterThan(30);
}, 60000);

// ---- across a reconnect of the reader's invalidation connection ----------------------------------------------

/**
 * Kills a worker's invalidation connection (its pub/sub connection, named after the worker) by CLIENT KILL ID: on a
 * Cluster, its connection to every master (each tracks that master's keys). Resolves how many were killed.
 */
async function killListenerOf(worker) {
  const killed = await onEveryMaster(admin, async (node) => {
    const list = await node.client('LIST', 'TYPE', 'pubsub');
    const lines = list.split('\n').filter((l) => l.includes(` name=coherence-${worker.index} `));
    if (lines.length !== 1) throw new Error(`not one invalidation connection of worker ${worker.index} in CLIENT LIST:\n${list}`);
    return Number(await node.client('KILL', 'ID', /^id=(\d+)/.exec(lines[0])[1]));
  });
  return killed.reduce((sum, n) => sum + n, 0);
}

// On a shared Redis (the sentinel pass) only the reader's listener is killed: killing every pub/sub connection would
// hit the other suites' listeners.
const LISTENER_KILLS = [
  ['CLIENT KILL TYPE pubsub (every server\'s listener)', 'type'],
  ['CLIENT KILL ID (the reader\'s listener only)', 'id'],
].filter(([, how]) => OWN_SERVER || how === 'id');

test.each(LISTENER_KILLS)('a write while the reader\'s invalidation connection is down is not missed: %s', async (_, how) => {
  const counts = {
    trials: RECONNECT_TRIALS, readsWhileDown: 0, staleWhileDown: 0, readsBeforeKillNoticed: 0, staleBeforeKillNoticed: 0,
    staleAfterReconnect: 0, staleAfterNextWrite: 0, late: 0,
  };
  for (let t = 0; t < RECONNECT_TRIALS; t += 1) {
    const [writer, reader] = workers;
    const sessionId = `reconnect-${how}-${t}`;
    const { account } = await signIn(sessionId);
    await warm(reader, sessionId, account);

    const killedAt = now();
    const killed = how === 'type' ? await admin.client('KILL', 'TYPE', 'pubsub') : await killListenerOf(reader);
    expect(Number(killed)).toBeGreaterThanOrEqual(1);
    // The writer stores a new token at once: the reader's listener is down (it reconnects after 100 ms), so Redis
    // cannot tell it.
    const scopes = newScopes();
    const v2 = await call(writer, 'silent', { prefix, sessionId, account, scopes });
    const matches = (seen, token) => seen.silent.ok && seen.silent.fromCache && seen.networkCalls === 0 && seen.silent.accessToken === token;
    if (t % 2 === 1) {
      // Odd trials read while the listener is still down: from Redis, not the L1. A busy reader may not have read
      // its socket's close yet and still look coherent: to it the write's invalidation is simply in flight (as for
      // any write: README, "In-process cache and outages"), so such a read is reported, not asserted.
      const seen = await observe(reader, sessionId, account, scopes);
      if (seen.coherent) {
        counts.readsBeforeKillNoticed += 1;
        if (!matches(seen, v2.accessToken)) counts.staleBeforeKillNoticed += 1;
      } else {
        counts.readsWhileDown += 1;
        if (!matches(seen, v2.accessToken)) counts.staleWhileDown += 1;
      }
    }
    const coherent = await untilCoherent(reader);
    // The listener reconnects after 100 ms; a read meanwhile (odd trials) makes it reconnect at once.
    latencies[t % 2 ? 'reconnectWithReadMs' : 'reconnectMs'].push(coherent.at - killedAt);
    // After the reconnect (even trials: the first read since the kill) the copy from before the kill is not served.
    if (!matches(await observe(reader, sessionId, account, scopes), v2.accessToken)) counts.staleAfterReconnect += 1;
    await warm(reader, sessionId, account, scopes); // the L1 serves hits again

    // Tracking is on again: the next write is invalidated as usual.
    const scopes3 = newScopes();
    const outcome = await writeAndWait(reader, () => call(writer, 'silent', { prefix, sessionId, account, scopes: scopes3 }));
    if (!matches(await observe(reader, sessionId, account, scopes3), outcome.written.accessToken)) counts.staleAfterNextWrite += 1;
    if ((await outcome.latency()).late) counts.late += 1;
    await untilCoherent(writer); // CLIENT KILL TYPE pubsub took the writer's listener down too
  }
  summary[`reconnect.${how}`] = counts;
  expect(counts).toEqual({ ...counts, staleWhileDown: 0, staleAfterReconnect: 0, staleAfterNextWrite: 0 });
}, 60000);

onOwnServer('a sign-out missed during a reconnect does not come back when Redis later fails', async () => {
  // The reader's listener is down (CLIENT KILL ID) when the writer signs the user out: the invalidation is lost. The
  // listener reconnects; the reader does not read the session again. Redis then hangs (SIGSTOP): the reader's read
  // times out and falls back to its last copy from before the reconnect, the signed-out session's tokens, served
  // from cache. (A read between the reconnect and the outage would have replaced the copy with the tombstone.)
  // Fix: LocalCache.resume() drops the entries of older epochs (any of them may have missed an invalidation, and
  // they can no longer be served as hits anyway); and endRead removes the older copy when a successful read is not
  // stored (see local-cache.test.js).
  const [writer, reader] = workers;
  const sessionId = 'signout-missed';
  const { account } = await signIn(sessionId);
  await warm(reader, sessionId, account);
  await killListenerOf(reader);
  await call(writer, 'removePartition', { prefix, sessionId });
  // The reader noticed the kill and tracks again: its entries from before are dropped on resume (a busy reader may
  // still look coherent for a moment after the kill, before it has read the socket's close).
  const dropped = await call(reader, 'waitStats', { prefix, path: 'localCache.entries', equals: 0, timeoutMs: COHERENT_WITHIN_MS });
  expect(dropped.reached).toBe(true);
  await untilCoherent(reader);
  expect(view(await truth(sessionId, account, SIGN_IN_SCOPES))).toEqual({ accounts: [], silent: { ok: false }, networkCalls: 0 });
  server.signal('SIGSTOP');
  // With no copy to fall back to, the read of this user partition fails closed (readFailure "closed", the default):
  // a CacheStoreError, never the signed-out session's tokens.
  let seen;
  try {
    seen = view(await observe(reader, sessionId, account, SIGN_IN_SCOPES));
  } catch (err) {
    seen = { error: /CacheStoreError: .*could not be read/.test(err.message) ? 'CacheStoreError' : err.message };
  } finally {
    server.signal('SIGCONT');
  }
  await untilReachable(reader);
  summary.bugSignOutMissedDuringReconnect = { duringOutage: seen };
  expect(seen).toEqual({ error: 'CacheStoreError' });
}, 20000);

// ---- across a FLUSHALL -----------------------------------------------------------------------------------------

(OWN_SERVER ? test : test.skip).each([
  ['FLUSHALL', ['FLUSHALL']],
  ['FLUSHDB', ['FLUSHDB']],
  ['FLUSHALL ASYNC', ['FLUSHALL', 'ASYNC']],
])('after %s the other server finds no account', async (_, command) => {
  const reader = workers[1];
  const sessionId = `flush-${command.join('-')}`;
  const { account } = await signIn(sessionId);
  await warm(reader, sessionId, account);
  const before = (await call(reader, 'stats', { prefix })).localCache.flushes;
  const flushed = call(reader, 'waitStats', { prefix, path: 'localCache.flushes', above: before, timeoutMs: 3000 });
  await sleep(1);
  const sentAt = now();
  await admin.call(...command);
  const doneAt = now();
  const seen = await byDeadline(flushed, doneAt + WAIT_MS, null);
  if (seen && seen.reached) latencies.flush.push(seen.at - sentAt);
  const after = await observe(reader, sessionId, account, SIGN_IN_SCOPES);
  summary[`flush.${command.join(' ')}`] = {
    flushSeenWithinBound: Boolean(seen && seen.reached && seen.at - sentAt <= BOUND_MS),
    after: view(after),
  };
  expect(view(after)).toEqual({ accounts: [], silent: { ok: false }, networkCalls: 0 });
  await flushed;
});

// ---- across a Redis restart ------------------------------------------------------------------------------------

onOwnServer('Redis restarted empty: the other server does not serve its copy from before the restart', async () => {
  const [writer, reader] = workers;
  const sessionId = 'restart-empty';
  const { account } = await signIn(sessionId);
  await warm(reader, sessionId, account);

  await server.kill();
  await server.start({ keepData: false });
  const restartedAt = now();
  await untilReachable(reader);
  // Redis says the key is gone: the first read after the restart (the L1 may still be reconnecting) is a miss.
  const first = await observe(reader, sessionId, account, SIGN_IN_SCOPES);
  const coherent = await untilCoherent(reader);
  const afterTracking = await observe(reader, sessionId, account, SIGN_IN_SCOPES);
  for (const seen of [first, afterTracking]) {
    expect(view(seen)).toEqual({ accounts: [], silent: { ok: false }, networkCalls: 0 });
  }
  expect(first.localHits).toBe(0);

  // Tracking works on the new server: a new sign-in, cached by the reader, then a write on the writer.
  await untilReachable(writer);
  await untilCoherent(writer);
  const again = await signIn('restart-empty-2');
  await warm(reader, 'restart-empty-2', again.account);
  const scopes = newScopes();
  const outcome = await writeAndWait(reader, () => call(writer, 'silent', { prefix, sessionId: 'restart-empty-2', account: again.account, scopes }));
  const seen = await observe(reader, 'restart-empty-2', again.account, scopes);
  summary.restartEmpty = {
    readerTrackingAtFirstRead: first.coherent,
    trackingAgainMsAfterRestart: Number((coherent.at - restartedAt).toFixed(1)),
    nextWriteLate: (await outcome.latency()).late,
  };
  expect(seen.silent).toEqual({ ok: true, fromCache: true, accessToken: outcome.written.accessToken });
  expect(seen.networkCalls).toBe(0);
}, 30000);

onOwnServer('Redis restarted from an older snapshot: the other server serves what Redis holds, not its newer copy', async () => {
  // SAVE, then a new token (not in the snapshot) that the reader caches; SIGKILL; restart from the snapshot. The
  // reader must now serve what Redis holds (the older version), as a server without an L1 does.
  const [writer, reader] = workers;
  const sessionId = 'restart-snapshot';
  const { account, accessToken } = await signIn(sessionId);
  await warm(reader, sessionId, account);
  await admin.save();
  const scopes = newScopes();
  const v2 = (await writeAndWait(reader, () => call(writer, 'silent', { prefix, sessionId, account, scopes }))).written;
  expect((await observe(reader, sessionId, account, scopes)).silent).toEqual({ ok: true, fromCache: true, accessToken: v2.accessToken });
  await warm(reader, sessionId, account, scopes); // the reader's L1 holds the version with v2's token

  await server.kill();
  await server.start({ keepData: true });
  const restartedAt = now();
  await untilReachable(reader);
  const checks = [];
  checks.push(['first read after the restart', await observe(reader, sessionId, account, scopes), await truth(sessionId, account, scopes)]);
  const coherent = await untilCoherent(reader);
  checks.push(['after tracking resumed', await observe(reader, sessionId, account, scopes), await truth(sessionId, account, scopes)]);
  // The snapshot's version: the sign-in token is there, v2's is not.
  expect((await truth(sessionId, account, SIGN_IN_SCOPES)).silent).toEqual({ ok: true, fromCache: true, accessToken });
  for (const [when, seen, expected] of checks) {
    expect({ when, ...view(seen) }).toEqual({ when, ...view(expected) });
  }
  expect(view(checks[0][1]).silent.ok).toBe(false); // v2's token is gone with the restart

  // And a write after the restart reaches the reader's L1 as usual.
  await untilCoherent(writer);
  await warm(reader, sessionId, account);
  const scopes3 = newScopes();
  const outcome = await writeAndWait(reader, () => call(writer, 'silent', { prefix, sessionId, account, scopes: scopes3 }));
  const seen = await observe(reader, sessionId, account, scopes3);
  summary.restartFromSnapshot = {
    readerTrackingAtFirstRead: checks[0][1].coherent,
    trackingAgainMsAfterRestart: Number((coherent.at - restartedAt).toFixed(1)),
    nextWriteLate: (await outcome.latency()).late,
  };
  expect(seen.silent).toEqual({ ok: true, fromCache: true, accessToken: outcome.written.accessToken });
}, 30000);

test('no server process crashed or reported an unhandled error', async () => {
  const reports = [];
  for (const worker of workers) {
    expect(worker.alive).toBe(true);
    reports.push(await call(worker, 'problems', {}));
  }
  summary.workerProblems = reports.map((r) => ({ problems: r.problems.length, appClientErrors: r.appClientErrors.count, warnings: r.warningCount }));
  expect(reports.flatMap((r) => r.problems)).toEqual([]);
});
