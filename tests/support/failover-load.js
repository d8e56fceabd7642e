'use strict';
// Shared by the failover tests under load (tests/js/redis/sentinel-failover.test.js and cluster-failover.test.js):
// the secrets of their servers, the loops a test runs beside the servers' load (sign-ins, sign-outs), the bound a
// call must answer within, and what the results of one failover add up to. Each test keeps its own topology, its
// own assertions and what it alone measures.

const crypto = require('node:crypto');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { createKeyring } = require('../../js/storage/keyring');

const COMMAND_TIMEOUT_MS = 1000; // the workers' (the default)
const SCHEDULING_MS = 500; // 2 cores, 3 workers and the Redis processes: how late a process may run
const REDIRECT_URI = 'http://localhost/auth/redirect';

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value) => (typeof value === 'number' ? Number(value.toFixed(1)) : value);

/** Fresh secrets for the test's servers, and the keyring they make (to name and open stored values). */
function failoverSecrets() {
  const secrets = {
    encryptionKey: crypto.randomBytes(32).toString('base64'),
    keyNameSecret: crypto.randomBytes(32).toString('base64'),
  };
  const keyring = createKeyring({ encryptionKeys: [secrets.encryptionKey], keyNameSecret: secrets.keyNameSecret });
  return { secrets, keyring };
}

/**
 * A call's bound: commandTimeoutMs, plus scheduling: SCHEDULING_MS, or on a machine so loaded that a worker's event
 * loop ran later than that, twice its worst delay (the guard gives a reply that delay once more: guard.js).
 */
const callBound = (loads) =>
  COMMAND_TIMEOUT_MS + Math.max(SCHEDULING_MS, 2 * Math.max(...loads.map((l) => l.maxLoopDelayMs)));

/** Runs `step(n)` every `everyMs` until stop() is called; stop() resolves the steps' results. */
function loop(step, everyMs) {
  let running = true;
  const results = [];
  const done = (async () => {
    for (let n = 0; running; n += 1) {
      results.push(await step(n));
      await sleep(everyMs);
    }
    return results;
  })();
  return { stop: () => { running = false; return done; } };
}

/** A sign-in through `tool` in this process (its token request is in-process): the target of a later call. */
async function signInHere(tool, shared, sessionId, scopes) {
  const client = tool.createClientApplication(shared.idp.msalConfig(), { sessionId });
  const { account } = await client.acquireTokenByCode({
    code: shared.idp.issueCode(shared.idp.addUser(), { scopes }), scopes, redirectUri: REDIRECT_URI,
  });
  return { sessionId, account, scopes };
}

/**
 * A sign-in on `worker` (a code from the shared identity provider redeemed there), then whether `checker` (another
 * server) finds it stored: a fresh client there serves the session's token from the cache with no token request.
 */
async function signInAndCheck({ worker, checker, shared, prefix, sessionId, scopes }) {
  const startAt = now();
  const code = shared.idp.issueCode(shared.idp.addUser(), { scopes });
  const reply = await worker.call('signIn', { prefix, sessionId, code, scopes, redirectUri: REDIRECT_URI });
  if (!reply.ok) return { startAt, endAt: now(), ok: false, stored: false, error: `${reply.error.name}: ${reply.error.message}` };
  const seen = await checker.call('observe', { prefix, sessionId, account: reply.result.account, scopes });
  const stored = seen.ok && seen.result.silent.ok && seen.result.silent.fromCache && seen.result.networkCalls === 0;
  return { startAt, endAt: now(), ok: true, stored };
}

/**
 * Signs the targets' sessions out through `tool`, one every `everyMs`, as a tool would; records each outcome. The
 * results also say how late this process's event loop ran meanwhile (maxLoopDelayMs): a sign-out's bound is a call's,
 * with this process's scheduling (the test's own, often the busiest).
 */
function signOutLoop(tool, signOutTargets, everyMs) {
  const delays = monitorEventLoopDelay({ resolution: 10 });
  delays.enable();
  const signOuts = loop(async (n) => {
    const startAt = now();
    const { sessionId } = signOutTargets[n % signOutTargets.length];
    try {
      await tool.removePartition({ sessionId });
      return { startAt, endAt: now(), ok: true, sessionId };
    } catch (err) {
      return { startAt, endAt: now(), ok: false, error: err, sessionId };
    }
  }, everyMs);
  return {
    stop: async () => {
      const results = await signOuts.stop();
      delays.disable();
      return Object.assign(results, { maxLoopDelayMs: delays.max / 1e6 });
    },
  };
}

/**
 * What the servers' loads, the sign-ins and the sign-outs of one failover add up to. A load's records are
 * [start, duration, refresh, ok, fromCache, error] per silent call. The bound is asserted on the calls that do not
 * leave the cache: a refresh also waits on the identity provider (another busy process), whose time is reported.
 */
function failoverCalls({ loads, signInResults, signOutResults, killedAt }) {
  const records = loads.flatMap((load) => load.records);
  const failedCalls = records.filter((r) => r[3] === 0);
  const callErrors = {};
  for (const r of failedCalls) callErrors[r[5]] = (callErrors[r[5]] || 0) + 1;
  const lastFailure = Math.max(
    0,
    ...failedCalls.map(([start, duration]) => start + duration),
    ...signInResults.filter((r) => !r.stored).map((r) => r.endAt),
    ...signOutResults.filter((r) => !r.ok).map((r) => r.endAt),
  );
  return {
    lastFailure,
    summary: {
      calls: records.length,
      failedCalls: failedCalls.length,
      callErrors,
      callErrorSamples: loads.flatMap((load) => load.errorSamples).slice(0, 3),
      callsAfterRecovery: records.filter(([start]) => start > lastFailure).length,
      slowestCallMs: round(Math.max(0, ...records.map(([, duration]) => duration))),
      maxLoopDelayMs: round(Math.max(...loads.map((load) => load.maxLoopDelayMs))),
      callsOverBound: records.filter(([, duration, refresh]) => !refresh && duration >= callBound(loads)).length,
      slowestRefreshMs: round(Math.max(0, ...records.filter(([, , refresh]) => refresh).map(([, duration]) => duration))),
      // [ms after the kill, duration, refresh, ok, fromCache, error]
      slowCalls: records.filter(([, duration]) => duration >= COMMAND_TIMEOUT_MS)
        .map(([start, ...rest]) => [round(start - killedAt), ...rest.map(round)]),
      signIns: signInResults.length,
      signInsNotStored: signInResults.filter((r) => !r.stored).length,
      signOuts: signOutResults.length,
      signOutsFailed: signOutResults.filter((r) => !r.ok).length,
      slowestSignOutMs: round(Math.max(0, ...signOutResults.map((r) => r.endAt - r.startAt))),
      signOutBoundMs: round(callBound([...loads, { maxLoopDelayMs: signOutResults.maxLoopDelayMs || 0 }])),
    },
  };
}

/**
 * The sign-outs reported done whose partition can be read again (through `tool`, from whichever master now holds
 * it): lost ones. 0 is the target.
 */
async function lostSignOuts(tool, signOutResults) {
  const done = [...new Set(signOutResults.filter((r) => r.ok).map((r) => r.sessionId))];
  const lost = [];
  for (const sessionId of done) {
    if ((await tool.exportPartition({ sessionId })) !== null) lost.push(sessionId);
  }
  return { signOutsDone: done.length, signOutsLost: lost.length };
}

module.exports = {
  COMMAND_TIMEOUT_MS,
  SCHEDULING_MS,
  now,
  sleep,
  round,
  failoverSecrets,
  callBound,
  loop,
  signInHere,
  signInAndCheck,
  signOutLoop,
  failoverCalls,
  lostSignOuts,
};
