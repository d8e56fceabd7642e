'use strict';
// A sign-out wins over every request that started before it, with real processes on one Redis: a sign-in whose
// code redemption is waiting on the identity provider when the session signs out must not bring the session back,
// and with session ids reused by the next user (apps that do not regenerate the id), no token of the signed-out user
// may ever reach the next one. Each "server" is a child process (tests/support/race-worker.js); the shared fake
// identity provider holds or delays token responses so that the sign-in's write lands after the sign-out. The test
// process looks at each session as an app would (a fresh client's getAllAccounts() and acquireTokenSilent()).
//
// The counts are printed and written to test-output/race-signout-summary.json.

const crypto = require('node:crypto');
const { newRedis } = require('../support/redis-client');
const { RedisTokenCache } = require('../../js');
const { startSharedIdentityProvider } = require('../support/shared-identity-provider');
const { startRaceWorkers, stopRaceWorkers } = require('../support/race-workers');
const { pause, observePartition, servedFromCache, partitionIsBack, reportCounts } = require('../support/race-helpers');

const CLIENT_ID = '00000000-0000-4000-8000-0000000ace02';
const SCOPES = ['api://race/Session.Read'];
const REDIRECT_URI = 'http://localhost/auth/redirect';
const TRIALS = Math.max(20, Math.round(Number(process.env.RACE_TRIALS || 200) / 4));
const SERVERS = 4;
const SESSIONS = Number(process.env.RACE_SIGNOUT_SESSIONS || 2000);
const IN_FLIGHT = 48; // sessions raced at once
const LATENCY_MS = 20; // each token response leaves 0-20 ms after its request arrived

const secrets = {
  encryptionKey: crypto.randomBytes(32).toString('base64'),
  keyNameSecret: crypto.randomBytes(32).toString('base64'),
};

let redis;
let shared;
let workers;
let prefix;
let tokenCache; // the test process's own server: it only looks
const summary = {};

beforeAll(async () => {
  redis = newRedis();
  shared = await startSharedIdentityProvider({ clientId: CLIENT_ID });
  workers = await startRaceWorkers(SERVERS, { idpUrl: shared.url, msalAuth: shared.msalAuth(), secrets });
}, 60000);

afterAll(async () => {
  await stopRaceWorkers(workers);
  if (shared) await shared.close();
  if (redis) await redis.quit();
  reportCounts('race-signout-summary', { servers: SERVERS }, summary);
});

beforeEach(() => {
  const name = expect.getState().currentTestName.replace(/\W+/g, '-').slice(0, 40);
  prefix = `race-signout:${name}:${crypto.randomBytes(4).toString('hex')}:`;
  shared.setLatency(0);
  tokenCache = new RedisTokenCache({
    redis,
    prefix,
    logger: { warn: () => {} },
    encryptionKeys: [secrets.encryptionKey],
    keyNameSecret: secrets.keyNameSecret,
  });
});

const observe = (sessionId, account) => observePartition(tokenCache, shared.msalAuth(), sessionId, account, SCOPES);

/** A sign-in on a worker: the code is issued here, redeemed there (over HTTP, through the shared provider). */
function signInOn(worker, user, sessionId) {
  const code = shared.idp.issueCode(user, { scopes: SCOPES });
  const redeemed = shared.whenRedeemed(code);
  const call = worker.call('signIn', { prefix, sessionId, code, scopes: SCOPES, redirectUri: REDIRECT_URI });
  return { call, redeemed };
}

const homeAccountIds = (seen) => seen.accounts.map((account) => account.homeAccountId);

test(`a sign-in waiting on the identity provider when its session signs out does not come back (${TRIALS} trials)`, async () => {
  const counts = { trials: TRIALS, partitionsBack: 0, failedSignOuts: 0, barrierTimeouts: 0 };
  for (let t = 0; t < TRIALS; t += 1) {
    const sessionId = `in-flight-${t}`;
    const user = shared.idp.addUser();
    const hold = shared.hold({ count: 1, autoRelease: false });
    const { call } = signInOn(workers[t % SERVERS], user, sessionId);
    if ((await hold.arrived).timedOut) counts.barrierTimeouts += 1;
    // The sign-out comes from another server, or from this process: either way it is done before the answer.
    const signedOut = t % 2
      ? (await workers[(t + 1) % SERVERS].call('removePartition', { prefix, sessionId })).ok
      : await tokenCache.removePartition({ sessionId }).then(() => true);
    if (!signedOut) counts.failedSignOuts += 1;
    hold.release();
    await call; // msal still returns the tokens to that request; only what is stored counts
    if (partitionIsBack(await observe(sessionId, null))) counts.partitionsBack += 1;
  }
  summary.signInDuringSignOut = counts;
  expect(counts).toEqual({ ...counts, partitionsBack: 0, failedSignOuts: 0, barrierTimeouts: 0 });
}, 120000);

test(`a sign-in started after the sign-out is stored at once, in the same session (${TRIALS} trials)`, async () => {
  const counts = { trials: TRIALS, notCached: 0, failedCalls: 0 };
  for (let t = 0; t < TRIALS; t += 1) {
    const sessionId = `after-${t}`;
    await workers[0].call('removePartition', { prefix, sessionId });
    const user = shared.idp.addUser();
    const { call } = signInOn(workers[(t % (SERVERS - 1)) + 1], user, sessionId);
    const result = await call;
    if (!result.ok) {
      counts.failedCalls += 1;
      continue;
    }
    if (!servedFromCache(await observe(sessionId, result.result.account), result.result.accessToken)) counts.notCached += 1;
  }
  summary.signInAfterSignOut = counts;
  expect(counts).toEqual({ ...counts, notCached: 0, failedCalls: 0 });
}, 120000);

// Thousands of sessions, many at once, over 4 servers. In each: Alice's sign-in is redeeming its code (the identity
// provider answers 0-20 ms later) when the session signs out on another server; in half of them Bob then signs in
// with the same session id on a third server (an app that does not regenerate ids). Afterwards the session must hold
// Bob alone (with his token served from the cache), or nothing: never Alice.
test(`${SESSIONS} sessions, sign-ins overlapping sign-outs, ids reused by the next user: no token to the wrong user, no partition back`, async () => {
  shared.setLatency(LATENCY_MS);
  const counts = {
    sessions: SESSIONS,
    reused: 0,
    tokensToWrongUser: 0,
    partitionsAfterSignOut: 0,
    nextUserNotCached: 0,
    failedCalls: 0,
  };
  let firstError = null;
  async function raceOne(n) {
    const sessionId = `load-${n}`;
    const [a, b, c] = [n % SERVERS, (n + 1) % SERVERS, (n + 2) % SERVERS];
    const alice = shared.idp.addUser();
    const aliceSignIn = signInOn(workers[a], alice, sessionId);
    await aliceSignIn.redeemed; // her request has started, and waits on the identity provider
    await pause(Math.random() * LATENCY_MS * 0.75); // the sign-out lands before or around her answer
    const signOut = await workers[b].call('removePartition', { prefix, sessionId });
    const reuse = n % 2 === 0;
    let bob = null;
    if (reuse) {
      counts.reused += 1;
      bob = await signInOn(workers[c], shared.idp.addUser(), sessionId).call;
    }
    const aliceResult = await aliceSignIn.call;
    for (const call of [signOut, bob].filter(Boolean)) {
      if (!call.ok) {
        counts.failedCalls += 1;
        firstError = firstError || call.error;
      }
    }
    if (!signOut.ok || (bob && !bob.ok)) return;
    const seen = await observe(sessionId, bob ? bob.result.account : (aliceResult.ok ? aliceResult.result.account : null));
    const ids = homeAccountIds(seen);
    if (ids.includes(alice.homeAccountId) || (aliceResult.ok && seen.silent.accessToken === aliceResult.result.accessToken)) {
      if (reuse) counts.tokensToWrongUser += 1;
      else counts.partitionsAfterSignOut += 1;
    } else if (!reuse && partitionIsBack(seen)) {
      counts.partitionsAfterSignOut += 1;
    }
    if (reuse && !servedFromCache(seen, bob.result.accessToken)) counts.nextUserNotCached += 1;
  }
  let next = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < SESSIONS) await raceOne(next++);
  }));
  summary.load = counts;
  expect({ ...counts, firstError }).toEqual({
    ...counts, tokensToWrongUser: 0, partitionsAfterSignOut: 0, nextUserNotCached: 0, failedCalls: 0, firstError: null,
  });
}, 600000);
