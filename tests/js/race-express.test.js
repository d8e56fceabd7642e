'use strict';
// Many servers, one partition, through the Express example: two instances in two processes on one Redis and one
// identity provider (tests/support/example-process.js). The user signs out on instance A (POST /auth/signout)
// while instance B's /api/call is refreshing that session's tokens; afterwards the session's token-cache
// partition must stay empty. The test process holds B's token response (shared-identity-provider.js) to place the
// sign-out before, at or just after the moment B gets its new tokens.
//
// The partition is observed through the public API only (a fresh client of a RedisTokenCache with the app's
// prefix and secrets), never by reading raw Redis values. Counts go to test-output/race-express-summary.json.

const crypto = require('node:crypto');
const { newRedis } = require('../support/redis-client');
const request = require('supertest');
const { RedisTokenCache } = require('../../js');
const { DEV_CLIENT_ID, identityConfig } = require('../../examples/express/config');
const { startSharedIdentityProvider } = require('../support/shared-identity-provider');
const { startExampleProcess } = require('../support/example-process');
const { pause, observePartition, partitionIsBack, reportCounts } = require('../support/race-helpers');
const { sessionCookie, sessionIdOf } = require('./express/helpers');

const TRIALS = Number(process.env.RACE_EXPRESS_TRIALS || 80);
// When the sign-out lands relative to B's refresh: done while B's token response is held; sent, with B's response
// released 0-3 ms later (a sign-out through Express takes a few ms, so this puts its DEL around B's write); sent
// in the same tick as the release; or sent 0-4 ms after it.
const SIGN_OUT_MOMENTS = ['while-held', 'in-flight', 'at-release', 'after-release'];

const secrets = {
  encryptionKey: crypto.randomBytes(32).toString('base64'),
  keyNameSecret: crypto.randomBytes(32).toString('base64'),
};

let redis;
let shared;
let apiScopes;
let tokenCache;
let a;
let b;
const summary = {};

beforeAll(async () => {
  redis = newRedis();
  shared = await startSharedIdentityProvider({ clientId: DEV_CLIENT_ID });
  // msal treats a token as expired 300 s early: with 200 s tokens every /api/call redeems the refresh token.
  shared.idp.setAccessTokenLifetime(200);
  ({ apiScopes } = identityConfig({ identityProvider: shared.idp }));
  const base = `race-express:${crypto.randomBytes(4).toString('hex')}:`;
  const app = {
    idpUrl: shared.url,
    jwks: shared.idp.jwks(),
    sessionPrefix: `${base}sess:`,
    tokenPrefix: `${base}msal:`,
    sessionSecret: crypto.randomBytes(32).toString('base64url'),
    secrets,
  };
  [a, b] = await Promise.all([startExampleProcess(app), startExampleProcess(app)]);
  tokenCache = new RedisTokenCache({
    redis,
    prefix: app.tokenPrefix,
    logger: { warn: () => {} },
    encryptionKeys: [secrets.encryptionKey],
    keyNameSecret: secrets.keyNameSecret,
  });
}, 60000);

afterAll(async () => {
  await Promise.all([a, b].filter(Boolean).map((instance) => instance.stop()));
  if (shared) await shared.close();
  if (redis) await redis.quit();
  reportCounts('race-express-summary', { trials: TRIALS }, summary);
});

/**
 * Signs a user in on an instance: /auth/signin, then the SHARED identity provider signs the user in (its code is
 * redeemable by every instance), then /auth/redirect. Returns the session cookie and id.
 */
async function signInOn(instance, user) {
  const agent = request.agent(instance.url);
  const start = await agent.get('/auth/signin').expect(302);
  const callback = new URL(shared.idp.authorize(start.headers.location, user).location);
  const response = await agent.get(callback.pathname + callback.search).expect(302);
  const cookie = sessionCookie(response);
  return { cookie: `sid=${cookie}`, sid: sessionIdOf(cookie) };
}

const observe = (sid, account) => observePartition(tokenCache, shared.msalAuth(), sid, account, apiScopes);
const apiCall = (instance, cookie) => request(instance.url).get('/api/call').set('Cookie', cookie).set('accept', 'application/json');

test('the harness: a user signed in on A is served /api/call on B (a refresh through the shared provider)', async () => {
  const { cookie, sid } = await signInOn(a, shared.idp.addUser());
  const response = await apiCall(b, cookie).expect(200);
  expect(response.body.token.fromCache).toBe(false); // 200 s tokens: B redeemed the refresh token A stored
  expect(response.body.api.message).toMatch(/valid/); // B's API verified a token of the shared provider
  const { accounts } = await observe(sid, null);
  expect(accounts).toHaveLength(1);
});

test(`a sign-out on A during B's refresh in /api/call stays signed out (${TRIALS} trials)`, async () => {
  const counts = { trials: TRIALS, partitionsBack: 0, barrierTimeouts: 0, failedSignOuts: 0, apiStatuses: {} };
  for (const moment of SIGN_OUT_MOMENTS) counts[moment] = { trials: 0, partitionsBack: 0 };
  for (let t = 0; t < TRIALS; t += 1) {
    const moment = SIGN_OUT_MOMENTS[t % SIGN_OUT_MOMENTS.length];
    const { cookie, sid } = await signInOn(a, shared.idp.addUser());
    const [account] = (await observe(sid, null)).accounts;

    const hold = shared.hold({ count: 1, autoRelease: false });
    const onB = apiCall(b, cookie).then((response) => response.status, () => 'error');
    if ((await hold.arrived).timedOut) counts.barrierTimeouts += 1;
    const signOut = () => request(a.url).post('/auth/signout').set('Cookie', cookie).then((response) => response.status);
    let signOutStatus;
    if (moment === 'while-held') {
      signOutStatus = await signOut();
      hold.release();
    } else if (moment === 'in-flight') {
      const signingOut = signOut();
      await pause(Math.random() * 3);
      hold.release();
      signOutStatus = await signingOut;
    } else if (moment === 'at-release') {
      hold.release();
      signOutStatus = await signOut();
    } else {
      hold.release();
      await pause(Math.random() * 4);
      signOutStatus = await signOut();
    }
    const apiStatus = await onB;
    counts.apiStatuses[apiStatus] = (counts.apiStatuses[apiStatus] || 0) + 1;
    if (signOutStatus !== 303) counts.failedSignOuts += 1;

    counts[moment].trials += 1;
    if (partitionIsBack(await observe(sid, account))) {
      counts.partitionsBack += 1;
      counts[moment].partitionsBack += 1;
    }
  }
  summary.signOutOnADuringRefreshOnB = counts;
  expect(counts).toEqual({ ...counts, partitionsBack: 0, barrierTimeouts: 0, failedSignOuts: 0 });
}, 90000);
