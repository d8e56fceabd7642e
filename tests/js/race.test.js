'use strict';
// Many servers, one partition: real processes racing on one session's token-cache partition in one Redis.
//
// Each "server" is a long-lived child process (tests/support/race-worker.js) with its own ioredis client and
// RedisTokenCache; all share one fake identity provider (tests/support/shared-identity-provider.js), which holds
// token responses so that the servers' cache writes really overlap. The test process is one more server: it signs
// users in, signs them out, and looks at the result only as an app would, through a fresh client's
// getAllAccounts() and acquireTokenSilent() (whose network client refuses and counts every call, so a check never
// changes what it checks). Raw Redis values are never read: they are an implementation detail (and encrypted).
//
// The counts of every scenario are printed and written to test-output/race-summary.json.

const crypto = require('node:crypto');
const { newRedis } = require('../support/redis-client');
const { RedisTokenCache } = require('../../js');
const { startSharedIdentityProvider } = require('../support/shared-identity-provider');
const { startRaceWorkers, stopRaceWorkers } = require('../support/race-workers');
const { pause, observePartition, servedFromCache, partitionIsBack, reportCounts } = require('../support/race-helpers');

const CLIENT_ID = '00000000-0000-4000-8000-0000000ace01';
const SIGN_IN_SCOPES = ['api://race/Session.Read'];
const REFRESH_SCOPES = ['api://race/Refresh.Read'];
const REDIRECT_URI = 'http://localhost/auth/redirect';
const scopesOfServer = (i) => [`api://race/Server${i}.Read`]; // distinct per server, none a prefix of another
const TRIALS = Number(process.env.RACE_TRIALS || 200);
const SERVERS = 8;
const JITTER_MS = 3; // odd trials: responses leave 0-3 ms apart instead of in one tick

// The app's secrets, the same in every process (they encrypt values and hash key names once that lands).
const secrets = {
  encryptionKey: crypto.randomBytes(32).toString('base64'),
  keyNameSecret: crypto.randomBytes(32).toString('base64'),
};

let redis;
let shared;
let workers;
let prefix;
let tokenCache; // the test process's own server
let warnings;
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
  reportCounts('race-summary', { trialsPerScenario: TRIALS, servers: SERVERS }, summary);
});

beforeEach(() => {
  const name = expect.getState().currentTestName.replace(/\W+/g, '-').slice(0, 40);
  prefix = `race:${name}:${crypto.randomBytes(4).toString('hex')}:`;
  warnings = [];
  sampleWarning = null;
  tokenCache = new RedisTokenCache({
    redis,
    prefix,
    logger: { warn: (message) => warnings.push(message) },
    encryptionKeys: [secrets.encryptionKey],
    keyNameSecret: secrets.keyNameSecret,
  });
});

/** Sign-in on the test process's server. Its token request is in-process, so a hold never delays it. */
async function signIn(user, sessionId) {
  const client = tokenCache.createClientApplication(shared.idp.msalConfig(), { sessionId });
  return client.acquireTokenByCode({
    code: shared.idp.issueCode(user, { scopes: SIGN_IN_SCOPES }),
    scopes: SIGN_IN_SCOPES,
    redirectUri: REDIRECT_URI,
  });
}

const observe = (sessionId, account, scopes) => observePartition(tokenCache, shared.msalAuth(), sessionId, account, scopes);

// Warnings of the test process's own token cache count too (e.g. a partition refused as another account's).
// The first warning of a scenario (from any process) is kept in the summary, to say why without a debugger.
let sampleWarning = null;
function noteWarnings(list) {
  sampleWarning = sampleWarning || list[0] || null;
  return list.length;
}
function record(name, counts) {
  summary[name] = { ...counts, parentWarnings: warnings.length, sampleWarning: sampleWarning || warnings[0] || null };
}

// ---- lost tokens: N servers refresh different scopes of one session at the same moment -----------------------

async function lostTokenTrials(name, servers) {
  const counts = { trials: TRIALS, lostTokens: 0, trialsWithLoss: 0, failedCalls: 0, barrierTimeouts: 0, workerWarnings: 0 };
  const byRelease = { together: { trials: 0, lostTokens: 0 }, jittered: { trials: 0, lostTokens: 0 } };
  let firstError = null;
  for (let t = 0; t < TRIALS; t += 1) {
    const sessionId = `lost-${servers}-${t}`;
    const { account } = await signIn(shared.idp.addUser(), sessionId);
    // Every server misses its scope and redeems the refresh token; the answers leave together (or within a few ms),
    // so each server's read-modify-write of the partition overlaps the others'.
    const release = t % 2 ? 'jittered' : 'together';
    const hold = shared.hold({ count: servers, jitterMs: release === 'jittered' ? JITTER_MS : 0 });
    const calls = await Promise.all(workers.slice(0, servers).map((worker, i) =>
      worker.call('silent', { prefix, sessionId, account, scopes: scopesOfServer(i) })));
    if ((await hold.arrived).timedOut) counts.barrierTimeouts += 1;
    let lost = 0;
    for (const [i, call] of calls.entries()) {
      counts.workerWarnings += noteWarnings(call.warnings);
      if (!call.ok) {
        counts.failedCalls += 1;
        firstError = firstError || call.error;
        continue;
      }
      // Every server's new token must be in the shared cache: another request for that scope needs no network.
      if (!servedFromCache(await observe(sessionId, account, scopesOfServer(i)), call.result.accessToken)) lost += 1;
    }
    counts.lostTokens += lost;
    if (lost > 0) counts.trialsWithLoss += 1;
    byRelease[release].trials += 1;
    byRelease[release].lostTokens += lost;
  }
  record(name, { ...counts, ...byRelease });
  expect({ ...counts, firstError }).toEqual({ ...counts, lostTokens: 0, trialsWithLoss: 0, failedCalls: 0, barrierTimeouts: 0, firstError: null });
}

test(`2 servers refresh different scopes of one session at once: no token is lost (${TRIALS} trials)`, async () => {
  await lostTokenTrials('lostTokens.2servers', 2);
}, 90000);

test(`8 servers refresh different scopes of one session at once: no token is lost (${TRIALS} trials)`, async () => {
  await lostTokenTrials('lostTokens.8servers', 8);
}, 120000);

// ---- sign-out against an in-flight refresh -------------------------------------------------------------------

// When the sign-out lands relative to the refresh: while its token response is held; in the same tick as the
// release; or a random 0-4 ms after it (around and after the refreshing server's read and write of the partition).
const SIGN_OUT_MOMENTS = ['while-held', 'at-release', 'after-release'];

test(`a sign-out during another server's refresh stays signed out (${TRIALS} trials)`, async () => {
  const counts = { trials: TRIALS, partitionsBack: 0, barrierTimeouts: 0, failedSignOuts: 0, workerWarnings: 0 };
  for (const moment of SIGN_OUT_MOMENTS) counts[moment] = { trials: 0, partitionsBack: 0 };
  for (let t = 0; t < TRIALS; t += 1) {
    const sessionId = `signout-${t}`;
    const moment = SIGN_OUT_MOMENTS[t % SIGN_OUT_MOMENTS.length];
    const { account } = await signIn(shared.idp.addUser(), sessionId);

    const hold = shared.hold({ count: 1, autoRelease: false });
    const refreshing = workers[t % SERVERS].call('silent', { prefix, sessionId, account, scopes: REFRESH_SCOPES });
    if ((await hold.arrived).timedOut) counts.barrierTimeouts += 1;
    // Half the sign-outs come from this process's server, half from another child process.
    const signOut = t % 2
      ? () => workers[(t + 1) % SERVERS].call('removePartition', { prefix, sessionId }).then((r) => r.ok)
      : () => tokenCache.removePartition({ sessionId }).then(() => true);
    let signedOut;
    if (moment === 'while-held') {
      signedOut = await signOut();
      hold.release();
    } else if (moment === 'at-release') {
      hold.release();
      signedOut = await signOut();
    } else {
      hold.release();
      await pause(Math.random() * 4);
      signedOut = await signOut();
    }
    const refresh = await refreshing; // its outcome may be success or failure; only the cache's state matters
    counts.workerWarnings += noteWarnings(refresh.warnings);
    if (!signedOut) counts.failedSignOuts += 1;

    const seen = await observe(sessionId, account, REFRESH_SCOPES);
    counts[moment].trials += 1;
    if (partitionIsBack(seen)) {
      counts.partitionsBack += 1;
      counts[moment].partitionsBack += 1;
    }
  }
  record('signOutDuringRefresh', counts);
  expect(counts).toEqual({ ...counts, partitionsBack: 0, barrierTimeouts: 0, failedSignOuts: 0 });
}, 90000);

// ---- a new sign-in right after a sign-out on the same session ------------------------------------------------

const SIGN_IN_AGAIN_TRIALS = Math.max(10, Math.round(TRIALS / 4));

test(`a new sign-in right after a sign-out on the same session is cached at once (${SIGN_IN_AGAIN_TRIALS} trials)`, async () => {
  const counts = { trials: SIGN_IN_AGAIN_TRIALS, notCached: 0, wrongAccounts: 0, failedCalls: 0 };
  let firstError = null;
  for (let t = 0; t < SIGN_IN_AGAIN_TRIALS; t += 1) {
    const sessionId = `again-${t}`;
    const first = shared.idp.addUser();
    await signIn(first, sessionId);
    const signOut = await workers[1].call('removePartition', { prefix, sessionId });
    // The same user signing in again, or someone else on the same browser session.
    const next = t % 2 ? first : shared.idp.addUser();
    const code = shared.idp.issueCode(next, { scopes: SIGN_IN_SCOPES });
    const signInAgain = await workers[0].call('signIn', { prefix, sessionId, code, scopes: SIGN_IN_SCOPES, redirectUri: REDIRECT_URI });
    if (!signOut.ok || !signInAgain.ok) {
      counts.failedCalls += 1;
      firstError = firstError || signOut.error || signInAgain.error;
      continue;
    }
    const seen = await observe(sessionId, signInAgain.result.account, SIGN_IN_SCOPES);
    if (!servedFromCache(seen, signInAgain.result.accessToken)) counts.notCached += 1;
    if (seen.accounts.map((a) => a.homeAccountId).join() !== next.homeAccountId) counts.wrongAccounts += 1;
  }
  record('signInAfterSignOut', counts);
  expect({ ...counts, firstError }).toEqual({ ...counts, notCached: 0, wrongAccounts: 0, failedCalls: 0, firstError: null });
}, 60000);

test(`a refresh begun before a sign-out never overwrites the next user's sign-in (${SIGN_IN_AGAIN_TRIALS} trials)`, async () => {
  // Alice's refresh is in flight on one server; she signs out and Bob signs in on the same session id on another;
  // then Alice's refresh answer arrives. Bob's partition must still be Bob's, with his token.
  const counts = { trials: SIGN_IN_AGAIN_TRIALS, nextUserLost: 0, staleAccountWritten: 0, barrierTimeouts: 0, workerWarnings: 0 };
  for (let t = 0; t < SIGN_IN_AGAIN_TRIALS; t += 1) {
    const sessionId = `stale-${t}`;
    const alice = await signIn(shared.idp.addUser(), sessionId);
    const hold = shared.hold({ count: 1, autoRelease: false });
    const refreshing = workers[t % SERVERS].call('silent', { prefix, sessionId, account: alice.account, scopes: REFRESH_SCOPES });
    if ((await hold.arrived).timedOut) counts.barrierTimeouts += 1;
    await tokenCache.removePartition({ sessionId });
    const bob = await signIn(shared.idp.addUser(), sessionId); // in-process: not held
    hold.release();
    counts.workerWarnings += noteWarnings((await refreshing).warnings);

    const seen = await observe(sessionId, bob.account, SIGN_IN_SCOPES);
    if (!servedFromCache(seen, bob.accessToken)) counts.nextUserLost += 1;
    if (seen.accounts.some((a) => a.homeAccountId === alice.account.homeAccountId)) counts.staleAccountWritten += 1;
  }
  record('staleRefreshAfterNewSignIn', counts);
  expect(counts).toEqual({ ...counts, nextUserLost: 0, staleAccountWritten: 0, barrierTimeouts: 0 });
}, 60000);

// ---- a sign-out wins over every request that started before it -----------------------------------------------
// A sign-in whose code redemption waits on the identity provider when its session signs out must not bring the
// session back; with session ids reused by the next user (apps that do not regenerate the id), no token of the
// signed-out user may reach the next one. 4 of the servers; the identity provider holds or delays the answers.

const SCOPES = SIGN_IN_SCOPES;
const SIGN_OUT_SERVERS = 4;
const SIGN_OUT_TRIALS = Math.max(20, Math.round(TRIALS / 4));
const SESSIONS = Number(process.env.RACE_SIGNOUT_SESSIONS || 2000);
const IN_FLIGHT = 48; // sessions raced at once
const LATENCY_MS = 20; // each token response leaves 0-20 ms after its request arrived

/** A sign-in on a worker: the code is issued here, redeemed there (over HTTP, through the shared provider). */
function signInOn(worker, user, sessionId) {
  const code = shared.idp.issueCode(user, { scopes: SCOPES });
  const redeemed = shared.whenRedeemed(code);
  const call = worker.call('signIn', { prefix, sessionId, code, scopes: SCOPES, redirectUri: REDIRECT_URI });
  return { call, redeemed };
}

const homeAccountIds = (seen) => seen.accounts.map((account) => account.homeAccountId);
const signOutWorkers = () => workers.slice(0, SIGN_OUT_SERVERS);

test(`a sign-in waiting on the identity provider when its session signs out does not come back (${SIGN_OUT_TRIALS} trials)`, async () => {
  const counts = { trials: SIGN_OUT_TRIALS, partitionsBack: 0, failedSignOuts: 0, barrierTimeouts: 0 };
  for (let t = 0; t < SIGN_OUT_TRIALS; t += 1) {
    const sessionId = `in-flight-${t}`;
    const user = shared.idp.addUser();
    const hold = shared.hold({ count: 1, autoRelease: false });
    const { call } = signInOn(signOutWorkers()[t % SIGN_OUT_SERVERS], user, sessionId);
    if ((await hold.arrived).timedOut) counts.barrierTimeouts += 1;
    // The sign-out comes from another server, or from this process: either way it is done before the answer.
    const signedOut = t % 2
      ? (await signOutWorkers()[(t + 1) % SIGN_OUT_SERVERS].call('removePartition', { prefix, sessionId })).ok
      : await tokenCache.removePartition({ sessionId }).then(() => true);
    if (!signedOut) counts.failedSignOuts += 1;
    hold.release();
    await call; // msal still returns the tokens to that request; only what is stored counts
    if (partitionIsBack(await observe(sessionId, null, SCOPES))) counts.partitionsBack += 1;
  }
  record('signInDuringSignOut', counts);
  expect(counts).toEqual({ ...counts, partitionsBack: 0, failedSignOuts: 0, barrierTimeouts: 0 });
}, 120000);

test(`a sign-in started after the sign-out is stored at once, in the same session (${SIGN_OUT_TRIALS} trials)`, async () => {
  const counts = { trials: SIGN_OUT_TRIALS, notCached: 0, failedCalls: 0 };
  for (let t = 0; t < SIGN_OUT_TRIALS; t += 1) {
    const sessionId = `after-${t}`;
    await signOutWorkers()[0].call('removePartition', { prefix, sessionId });
    const user = shared.idp.addUser();
    const { call } = signInOn(signOutWorkers()[(t % (SIGN_OUT_SERVERS - 1)) + 1], user, sessionId);
    const result = await call;
    if (!result.ok) {
      counts.failedCalls += 1;
      continue;
    }
    if (!servedFromCache(await observe(sessionId, result.result.account, SCOPES), result.result.accessToken)) counts.notCached += 1;
  }
  record('signInWhileSignedOut', counts);
  expect(counts).toEqual({ ...counts, notCached: 0, failedCalls: 0 });
}, 120000);

// Thousands of sessions, many at once, over 4 servers. In each: Alice's sign-in is redeeming its code (the identity
// provider answers 0-20 ms later) when the session signs out on another server; in half of them Bob then signs in
// with the same session id on a third server (an app that does not regenerate ids). Afterwards the session must hold
// Bob alone (with his token served from the cache), or nothing: never Alice.
test(`${SESSIONS} sessions, sign-ins overlapping sign-outs, ids reused by the next user: no token to the wrong user, no partition back`, async () => {
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
    const [a, b, c] = [n % SIGN_OUT_SERVERS, (n + 1) % SIGN_OUT_SERVERS, (n + 2) % SIGN_OUT_SERVERS].map((i) => signOutWorkers()[i]);
    const alice = shared.idp.addUser();
    const aliceSignIn = signInOn(a, alice, sessionId);
    await aliceSignIn.redeemed; // her request has started, and waits on the identity provider
    await pause(Math.random() * LATENCY_MS * 0.75); // the sign-out lands before or around her answer
    const signOut = await b.call('removePartition', { prefix, sessionId });
    const reuse = n % 2 === 0;
    let bob = null;
    if (reuse) {
      counts.reused += 1;
      bob = await signInOn(c, shared.idp.addUser(), sessionId).call;
    }
    const aliceResult = await aliceSignIn.call;
    for (const call of [signOut, bob].filter(Boolean)) {
      if (!call.ok) {
        counts.failedCalls += 1;
        firstError = firstError || call.error;
      }
    }
    if (!signOut.ok || (bob && !bob.ok)) return;
    const seen = await observe(sessionId, bob ? bob.result.account : (aliceResult.ok ? aliceResult.result.account : null), SCOPES);
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
  shared.setLatency(LATENCY_MS);
  try {
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < SESSIONS) await raceOne(next++);
    }));
  } finally {
    shared.setLatency(0);
  }
  record('signOutLoad', counts);
  expect({ ...counts, firstError }).toEqual({
    ...counts, tokensToWrongUser: 0, partitionsAfterSignOut: 0, nextUserNotCached: 0, failedCalls: 0, firstError: null,
  });
}, 600000);
