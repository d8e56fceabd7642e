'use strict';
// Two instances of the example on two ports, sharing one Redis (and, in dev mode, one identity provider, as two
// servers share Entra ID): they behave as one app. A user signed in on one is served from the cache on the other.

const Redis = require('../../support/ioredis');
const request = require('supertest');
const { createDevIdentityProvider } = require('../../../examples/dev-identity-provider/tokens');
const { DEV_CLIENT_ID } = require('../../../examples/express/config');
const { startExample, signIn, sessionCookie, sessionIdOf, tokenRequests } = require('./helpers');
const { isTombstone } = require('../../support/stored');

let redis;
let idp;
let a;
let b;

beforeEach(async () => {
  redis = new Redis(process.env.TEST_REDIS_URL);
  idp = createDevIdentityProvider({ clientId: DEV_CLIENT_ID });
  a = await startExample({ name: 'instance-a', redis, identityProvider: idp });
  // Same key prefixes and session secret as A: one app, two processes' worth of state.
  b = await startExample({ name: 'instance-b', redis, identityProvider: idp, sessionPrefix: a.prefixes.sessionPrefix, tokenCacheOptions: { prefix: a.prefixes.tokenPrefix } });
});
afterEach(async () => {
  await a.close();
  await b.close();
  await redis.quit();
});

test('a user signed in on one instance is served /api/call from the cache on the other', async () => {
  expect(a.url).not.toBe(b.url);
  const { response } = await signIn(a.agent());
  const cookie = `sid=${sessionCookie(response)}`;
  const before = tokenRequests(idp).length;

  const onB = await request(b.url).get('/api/call').set('Cookie', cookie).set('accept', 'application/json').expect(200);
  expect(onB.body.token.fromCache).toBe(true);
  expect(onB.body.api.user.username).toBe('alice@contoso.example');
  expect(tokenRequests(idp).length).toBe(before); // no token request reached the identity provider

  await request(b.url).get('/profile').set('Cookie', cookie).expect(200, /alice@contoso\.example/);
  const cache = await request(b.url).get('/cache').set('Cookie', cookie).set('accept', 'application/json').expect(200);
  expect(cache.body.partition.accounts.map((account) => account.username)).toEqual(['alice@contoso.example']);
});

test('a refresh on one instance is seen by the other, and sign-out on one signs out of both', async () => {
  idp.setAccessTokenLifetime(200); // expired for msal: the first API call refreshes
  const { response } = await signIn(a.agent());
  idp.setAccessTokenLifetime(3600);
  const cookie = `sid=${sessionCookie(response)}`;
  const sid = sessionIdOf(sessionCookie(response));

  const refreshedOnB = await request(b.url).get('/api/call').set('Cookie', cookie).set('accept', 'application/json').expect(200);
  expect(refreshedOnB.body.token.fromCache).toBe(false);
  const count = tokenRequests(idp).length;
  const onA = await request(a.url).get('/api/call').set('Cookie', cookie).set('accept', 'application/json').expect(200);
  expect(onA.body.token.fromCache).toBe(true);
  expect(tokenRequests(idp).length).toBe(count);

  await request(b.url).post('/auth/signout').set('Cookie', cookie).expect(303);
  expect(await redis.exists(a.sessionKey(sid))).toBe(0);
  expect(await isTombstone(redis, a.partitionKey(sid))).toBe(true);
  await request(a.url).get('/api/call').set('Cookie', cookie).expect(401);
});
