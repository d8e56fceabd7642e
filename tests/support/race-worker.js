'use strict';
// One server of a multi-server app, in its own process (started by race-workers.js with child_process.fork): its
// own ioredis client, its own RedisTokenCache, and one new ConfidentialClientApplication per operation, as a web
// app creates one per request. It reaches the identity provider only through the shared one over HTTP.
//
// It stays up for a whole test file and does one operation per IPC message, so hundreds of race trials cost
// milliseconds each instead of a process start each:
//   parent -> { id, op, args }
//   child  -> { id, ok: true, result, warnings } | { id, ok: false, error: { name, message, errorCode }, warnings }
// `warnings` are what the token cache logged during the operation (e.g. a refused foreign account).
//
// Environment: the run's Redis (redis-client.js: TEST_REDIS_TOPOLOGY and its variables), TEST_ENCRYPTION_KEY,
// TEST_KEY_NAME_SECRET (one app's secrets: every process of the test gets the same), RACE_IDP_URL (the shared
// identity provider), RACE_MSAL_AUTH (msal's `auth` section, JSON). Optional (race-workers.js sets them from its
// options): RACE_REDIS_URL (a standalone Redis of the test's own, instead of the run's), RACE_REDIS_OPTIONS (the
// ioredis options, JSON; "{index}" in connectionName becomes the worker's index), RACE_WORKER_INDEX, RACE_MONITOR_PROBLEMS=1 (record unhandled rejections, uncaught exceptions, console.error
// lines such as ioredis's "Unhandled error event", and process warnings, for the `problems` operation, instead of
// crashing on them).
//
// Beyond sign-in, silent and sign-out, the operations serve tests of the in-process cache and of Redis faults:
// configure (a token cache with chosen options), close, stats, waitStats (wait in the child for a counter to move,
// and say when), observe (what a fresh client finds, never calling the identity provider), ping, startLoad/stopLoad
// (a background loop of acquireTokenSilent calls, each timed in the child), problems.

const { monitorEventLoopDelay } = require('node:perf_hooks');
const { newRedis, newRedisAt } = require('./redis-client');
const { RedisTokenCache } = require('../../js');
const { forwardingNetworkClient } = require('./shared-identity-provider');
const { observePartition } = require('./race-helpers');

// Wall-clock time with sub-millisecond resolution, comparable across the processes of one machine.
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const workerIndex = process.env.RACE_WORKER_INDEX ?? '0';
const problems = [];
const appClientErrors = { count: 0, last: null };
if (process.env.RACE_MONITOR_PROBLEMS === '1') {
  const note = (kind, err) => problems.push({ kind, at: now(), message: String((err && err.stack) || err).slice(0, 2000) });
  process.on('unhandledRejection', (reason) => note('unhandledRejection', reason));
  process.on('uncaughtException', (err) => note('uncaughtException', err));
  process.on('warning', (warning) => note('processWarning', warning));
  const consoleError = console.error.bind(console);
  console.error = (...args) => {
    note('console.error', args.map(String).join(' '));
    consoleError(...args);
  };
}

const redisOptions = JSON.parse(process.env.RACE_REDIS_OPTIONS || '{"maxRetriesPerRequest":2}');
if (typeof redisOptions.connectionName === 'string') {
  redisOptions.connectionName = redisOptions.connectionName.replace('{index}', workerIndex);
}
// The run's client (TEST_REDIS_CLIENT, inherited from the test): ioredis or node-redis.
const redis = process.env.RACE_REDIS_URL ? newRedisAt(process.env.RACE_REDIS_URL, redisOptions) : newRedis(redisOptions);
if (process.env.RACE_MONITOR_PROBLEMS === '1') {
  // The app's own client: an app listens to its errors (a Redis outage is expected in these tests).
  redis.on('error', (err) => {
    appClientErrors.count += 1;
    appClientErrors.last = String(err && err.message);
  });
}
// Connections the token caches open from the app's client (their invalidation connections): counted, with when.
const duplicates = [];
const duplicate = redis.duplicate.bind(redis);
redis.duplicate = (...args) => {
  duplicates.push(now());
  return duplicate(...args);
};
const msalAuth = JSON.parse(process.env.RACE_MSAL_AUTH);
const msalConfig = {
  auth: msalAuth,
  system: { networkClient: forwardingNetworkClient(process.env.RACE_IDP_URL) },
};

let warnings = [];
const allWarnings = []; // every warning since start (operations running in the background reset nothing)
const logger = {
  warn: (message) => {
    warnings.push(String(message));
    allWarnings.push(String(message));
  },
};

// One RedisTokenCache per key prefix (each test uses its own prefix), made once: as one per app.
const tokenCaches = new Map();
function createTokenCache(prefix, options = {}) {
  return new RedisTokenCache({
    redis,
    prefix,
    logger,
    encryptionKeys: [process.env.TEST_ENCRYPTION_KEY],
    keyNameSecret: process.env.TEST_KEY_NAME_SECRET,
    ...options,
  });
}
function tokenCacheFor(prefix) {
  if (!tokenCaches.has(prefix)) tokenCaches.set(prefix, createTokenCache(prefix));
  return tokenCaches.get(prefix);
}

const clientFor = (prefix, sessionId) => tokenCacheFor(prefix).createClientApplication(msalConfig, { sessionId });

/** The value at a dotted path of an object ("localCache.invalidations"). */
const valueAt = (object, path) => path.split('.').reduce((value, name) => (value == null ? value : value[name]), object);

// The background load of startLoad/stopLoad.
let load = null;

async function loadSlot(state, slot, { prefix, targets, refreshTargets, refreshEvery, pauseMs }) {
  let n = 0;
  // The loops (and the servers) refresh at staggered moments, not in lockstep.
  const phase = Math.floor((slot * refreshEvery) / state.slots) + Number(workerIndex) * 7;
  while (state.running) {
    const refresh = refreshEvery > 0 && (n + phase) % refreshEvery === refreshEvery - 1;
    const list = refresh && refreshTargets ? refreshTargets : targets;
    const target = list[(slot + n * state.slots) % list.length];
    n += 1;
    const start = now();
    let ok = 0;
    let fromCache = 0;
    let error = null;
    try {
      const result = await clientFor(prefix, target.sessionId)
        .acquireTokenSilent({ account: target.account, scopes: target.scopes, forceRefresh: refresh });
      ok = 1;
      fromCache = result.fromCache ? 1 : 0;
    } catch (err) {
      error = String((err && (err.errorCode || err.name)) || err);
      if (state.errorSamples.length < 5) state.errorSamples.push(`${error}: ${String(err && err.message).slice(0, 300)}`);
    }
    // [start (ms, wall clock), duration (ms), refresh (0/1), ok (0/1), fromCache (0/1), error code or null]
    state.records.push([start, now() - start, refresh ? 1 : 0, ok, fromCache, error]);
    // An L1 hit completes without any I/O: without a turn of the event loop, the loop would starve IPC messages.
    if (pauseMs > 0) await sleep(pauseMs);
    else await new Promise((resolve) => setImmediate(resolve));
  }
}

const operations = {
  /** Sign-in: redeems an authorization code the parent had the shared identity provider issue. */
  async signIn({ prefix, sessionId, code, scopes, redirectUri }) {
    const result = await clientFor(prefix, sessionId).acquireTokenByCode({ code, scopes, redirectUri });
    return { account: result.account, accessToken: result.accessToken, endAt: now() };
  },

  /** A request that needs a token: from the cache, or by redeeming the cached refresh token. */
  async silent({ prefix, sessionId, account, scopes, forceRefresh = false }) {
    const startAt = now();
    const result = await clientFor(prefix, sessionId).acquireTokenSilent({ account, scopes, forceRefresh });
    return { accessToken: result.accessToken, fromCache: result.fromCache, startAt, endAt: now() };
  },

  /** Sign-out. */
  async removePartition({ prefix, sessionId }) {
    return tokenCacheFor(prefix).removePartition({ sessionId });
  },

  /** Makes the token cache of `prefix` with these RedisTokenCache options (replacing any earlier one). */
  async configure({ prefix, options = {} }) {
    if (tokenCaches.has(prefix)) await tokenCaches.get(prefix).close();
    tokenCaches.set(prefix, createTokenCache(prefix, options));
    return true;
  },

  /** Closes the token cache of `prefix` (its invalidation connection); a later operation makes a new one. */
  async close({ prefix }) {
    const tokenCache = tokenCaches.get(prefix);
    tokenCaches.delete(prefix);
    if (tokenCache) await tokenCache.close();
    return Boolean(tokenCache);
  },

  /** tokenCache.stats(). */
  async stats({ prefix }) {
    return tokenCacheFor(prefix).stats();
  },

  /**
   * Waits in this process until stats() at `path` is above `above` (or equals `equals`), polling on every turn of
   * the event loop, at most timeoutMs. Resolves { reached, value, at, startAt } (at: when it was seen; startAt: when
   * the wait began; wall clock in ms).
   */
  async waitStats({ prefix, path, above, equals, timeoutMs = 100 }) {
    const tokenCache = tokenCacheFor(prefix);
    const deadline = now() + timeoutMs;
    const test = (value) => (equals !== undefined ? value === equals : value > above);
    const startAt = now();
    for (;;) {
      const value = valueAt(tokenCache.stats(), path);
      const at = now();
      if (test(value)) return { reached: true, value, at, startAt };
      if (at >= deadline) return { reached: false, value, at, startAt };
      // Every turn of the event loop for the first 200 ms (sub-millisecond precision), then every 2 ms.
      if (at - startAt < 200) await new Promise((resolve) => setImmediate(resolve));
      else await sleep(2);
    }
  },

  /**
   * What a fresh client of this server finds for a session (race-helpers observePartition): accounts, and whether
   * acquireTokenSilent for `scopes` is served from the cache. It never calls the identity provider.
   */
  async observe({ prefix, sessionId, account, scopes }) {
    const startAt = now();
    const before = tokenCacheFor(prefix).stats();
    const seen = await observePartition(tokenCacheFor(prefix), msalAuth, sessionId, account, scopes);
    const after = tokenCacheFor(prefix).stats();
    const localHits = after.localCache ? after.localCache.hits - before.localCache.hits : 0;
    // coherent: whether the L1 was tracking when the observation began (false: its listener was reconnecting).
    return { ...seen, localHits, coherent: Boolean(before.localCache && before.localCache.coherent), startAt, endAt: now() };
  },

  /** The app client's PING (whether this server reaches Redis). */
  async ping() {
    return redis.ping();
  },

  /**
   * Starts `concurrency` loops of acquireTokenSilent over `targets` ({ sessionId, account, scopes }), every
   * `refreshEvery`-th call of a loop with forceRefresh (over `refreshTargets` when given), `pauseMs` between a
   * loop's calls. stopLoad ends them.
   */
  async startLoad({ prefix, targets, refreshTargets = null, concurrency = 2, refreshEvery = 0, pauseMs = 5 }) {
    if (load) throw new Error('race worker: a load is already running');
    // How late this process ran its callbacks meanwhile (the "scheduling" part of a call's time on a loaded machine).
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const state = { running: true, slots: concurrency, records: [], errorSamples: [], done: null, loopDelay };
    const options = { prefix, targets, refreshTargets, refreshEvery, pauseMs };
    state.done = Promise.all(Array.from({ length: concurrency }, (_, slot) => loadSlot(state, slot, options)));
    load = state;
    return { startAt: now() };
  },

  /** Stops the load, waits for its calls in flight, and returns every call's record. */
  async stopLoad() {
    if (!load) throw new Error('race worker: no load is running');
    const state = load;
    state.running = false;
    await state.done;
    load = null;
    state.loopDelay.disable();
    const maxLoopDelayMs = state.loopDelay.max / 1e6;
    return { records: state.records, errorSamples: state.errorSamples, stoppedAt: now(), maxLoopDelayMs };
  },

  /**
   * What went wrong outside any operation (RACE_MONITOR_PROBLEMS=1), the app client's errors, the last warnings,
   * and when the token caches opened connections from the app's client (redis.duplicate()).
   */
  async problems() {
    return {
      problems,
      appClientErrors,
      warnings: allWarnings.slice(-50),
      warningCount: allWarnings.length,
      connectionsOpened: duplicates,
    };
  },
};

process.on('message', async ({ id, op, args }) => {
  warnings = [];
  try {
    if (!operations[op]) throw new Error(`race worker: unknown operation "${op}"`);
    const result = await operations[op](args);
    process.send({ id, ok: true, result, warnings });
  } catch (err) {
    const error = { name: err && err.name, message: String(err && err.message), errorCode: err && err.errorCode };
    process.send({ id, ok: false, error, warnings });
  }
});

// The parent went away (test over, or it crashed): nothing left to serve.
process.on('disconnect', () => {
  redis.disconnect();
  process.exit(0);
});

redis.ping().then(
  () => process.send({ ready: true }),
  (err) => {
    process.send({ ready: false, error: String(err && err.message) });
    process.exit(1);
  },
);
