'use strict';
// End to end: real ConfidentialClientApplications (msal-node) against the in-process fake identity provider,
// caching through the wasm core into a real redis-server.

const Redis = require('ioredis');
const { RedisTokenCache, CacheStoreError } = require('../../js');
const { decodeEnvelope } = require('../../js/envelope');
const { createFakeIdentityProvider } = require('../support/fake-identity-provider');

const CLIENT_ID = '00000000-0000-4000-8000-00000000c0de';
const SCOPES = ['user.read'];
const REDIRECT_URI = 'http://localhost/auth/redirect';

let redis;
let prefix;
let idp;
let warnings;
let tokenCache;
const newTokenCache = (options = {}) =>
  new RedisTokenCache({ redis, prefix, logger: { warn: (m) => warnings.push(m) }, ...options });

beforeAll(() => {
  redis = new Redis(process.env.TEST_REDIS_URL);
});
afterAll(() => redis.quit());

beforeEach(() => {
  prefix = `e2e:${expect.getState().currentTestName.replace(/\W+/g, '-')}:`;
  idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
  warnings = [];
  tokenCache = newTokenCache();
});

const clientFor = (selector, cache = tokenCache) => cache.createClientApplication(idp.msalConfig(), selector);
const tokenRequests = () => idp.requests.filter((r) => r.method === 'POST');

async function signIn(user, sessionId, cache = tokenCache) {
  const result = await clientFor({ sessionId }, cache).acquireTokenByCode({
    code: idp.issueCode(user, { scopes: SCOPES }),
    scopes: SCOPES,
    redirectUri: REDIRECT_URI,
  });
  return result;
}

async function storedCache(key) {
  const value = await redis.getBuffer(key);
  return value && JSON.parse(decodeEnvelope(key, value).body.toString('utf8'));
}

const homeAccountIdsIn = (cache) =>
  new Set(
    ['Account', 'IdToken', 'AccessToken', 'RefreshToken'].flatMap((section) =>
      Object.values(cache[section] || {}).map((entry) => entry.home_account_id),
    ),
  );

test('sign-in by code writes the session partition with a TTL', async () => {
  const alice = idp.addUser({ username: 'alice@contoso.example' });
  const result = await signIn(alice, 'session-a');

  expect(result.account.homeAccountId).toBe(alice.homeAccountId);
  const key = `${prefix}session:{session-a}`;
  const stored = await storedCache(key);
  expect(Object.keys(stored.RefreshToken)).toHaveLength(1);
  expect(Object.values(stored.AccessToken)[0].secret).toBe(result.accessToken);
  expect([...homeAccountIdsIn(stored)]).toEqual([alice.homeAccountId]);
  const ttl = await redis.ttl(key);
  expect(ttl).toBeGreaterThan(24 * 3600 - 10);
  expect(ttl).toBeLessThanOrEqual(24 * 3600);
});

test('the core stores exactly what msal serialized (byte for byte) when it all belongs to the partition', async () => {
  const alice = idp.addUser({ name: 'Zoë Ångström' });
  const client = clientFor({ sessionId: 'session-a' });
  await client.acquireTokenByCode({ code: idp.issueCode(alice, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
  const serialized = client.getTokenCache().serialize();
  const key = `${prefix}session:{session-a}`;
  const stored = decodeEnvelope(key, await redis.getBuffer(key)).body.toString('utf8');
  expect(stored).toBe(serialized);
});

test('another server (a fresh client) gets acquireTokenSilent from Redis with no network call', async () => {
  const alice = idp.addUser();
  const signedIn = await signIn(alice, 'session-a');
  const before = tokenRequests().length;

  const otherServer = newTokenCache(); // own RedisTokenCache, same Redis: as on another machine
  const silent = await clientFor({ sessionId: 'session-a' }, otherServer).acquireTokenSilent({
    account: signedIn.account,
    scopes: SCOPES,
  });

  expect(silent.accessToken).toBe(signedIn.accessToken);
  expect(silent.fromCache).toBe(true);
  expect(tokenRequests().length).toBe(before);
});

test('an expired access token is refreshed with the cached refresh token and the new tokens are persisted', async () => {
  // msal treats a token as expired 300 s early; the store keeps it (skew 0) so msal must refresh it.
  const store = newTokenCache({ skewSeconds: 0 });
  idp.setAccessTokenLifetime(200);
  const alice = idp.addUser();
  const signedIn = await signIn(alice, 'session-a', store);
  idp.setAccessTokenLifetime(3600);

  const refreshed = await clientFor({ sessionId: 'session-a' }, store).acquireTokenSilent({
    account: signedIn.account,
    scopes: SCOPES,
  });

  expect(tokenRequests().map((r) => r.grantType)).toEqual(['authorization_code', 'refresh_token']);
  expect(refreshed.accessToken).not.toBe(signedIn.accessToken);
  const stored = await storedCache(`${prefix}session:{session-a}`);
  const secrets = Object.values(stored.AccessToken).map((token) => token.secret);
  expect(secrets).toContain(refreshed.accessToken);

  // And a third server now gets the refreshed token without any network call.
  const count = tokenRequests().length;
  const again = await clientFor({ sessionId: 'session-a' }, newTokenCache()).acquireTokenSilent({
    account: signedIn.account,
    scopes: SCOPES,
  });
  expect(again.accessToken).toBe(refreshed.accessToken);
  expect(tokenRequests().length).toBe(count);
});

test('client-credential tokens for several tenants land in separate partitions that expire with the token', async () => {
  const tenants = ['aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002', 'aaaaaaaa-0000-4000-8000-000000000003'];
  const scopes = ['https://graph.microsoft.com/.default'];
  const results = [];
  for (const tenantId of tenants) {
    const client = tokenCache.createClientApplication(idp.msalConfig({ tenantId }), { tenantId });
    results.push(await client.acquireTokenByClientCredential({ scopes }));
  }
  for (const [i, tenantId] of tenants.entries()) {
    const key = `${prefix}app:${CLIENT_ID}:${tenantId}`;
    const stored = await storedCache(key);
    const tokens = Object.values(stored.AccessToken);
    expect(tokens).toHaveLength(1);
    expect(tokens[0].realm).toBe(tenantId);
    expect(tokens[0].secret).toBe(results[i].accessToken);
    const ttl = await redis.ttl(key);
    expect(Math.abs(ttl - (Number(tokens[0].expires_on) - Math.floor(Date.now() / 1000)))).toBeLessThanOrEqual(2);
  }
  // A second app instance is served from Redis.
  const count = tokenRequests().length;
  const client = newTokenCache().createClientApplication(idp.msalConfig({ tenantId: tenants[1] }), { tenantId: tenants[1] });
  const cached = await client.acquireTokenByClientCredential({ scopes });
  expect(cached.accessToken).toBe(results[1].accessToken);
  expect(tokenRequests().length).toBe(count);
});

test('50 concurrent requests for 10 users each get only their own token', async () => {
  const users = Array.from({ length: 10 }, (_, i) => idp.addUser({ username: `user${i}@contoso.example` }));
  const signedIn = await Promise.all(users.map((user, i) => signIn(user, `session-${i}`)));

  const requests = Array.from({ length: 50 }, (_, n) => {
    const i = n % 10;
    return clientFor({ sessionId: `session-${i}` }, newTokenCache())
      .acquireTokenSilent({ account: signedIn[i].account, scopes: SCOPES, forceRefresh: n % 3 === 0 })
      .then((result) => ({ i, result }));
  });
  const results = await Promise.all(requests);

  for (const { i, result } of results) {
    expect(result.account.homeAccountId).toBe(users[i].homeAccountId);
    expect(JSON.parse(Buffer.from(result.accessToken.split('.')[1], 'base64url')).oid).toBe(users[i].oid);
  }
  for (const [i, user] of users.entries()) {
    const stored = await storedCache(`${prefix}session:{session-${i}}`);
    expect(Object.keys(stored.Account)).toHaveLength(1);
    expect([...homeAccountIdsIn(stored)]).toEqual([user.homeAccountId]);
  }
  expect(warnings).toEqual([]);
});

test('a corrupt value in Redis does not break sign-in', async () => {
  const key = `${prefix}session:{session-a}`;
  const bob = idp.addUser();
  await signIn(bob, 'session-b');
  const bobsValue = await redis.getBuffer(`${prefix}session:{session-b}`);
  const flipped = Buffer.from(bobsValue);
  flipped[flipped.length - 20] ^= 0x01;
  const corruptValues = ['garbage', 'mrc1 1700000000 - x\n{"Account": [', Buffer.from([0xff, 0x00, 0x13]), bobsValue, flipped];
  for (const corrupt of corruptValues) {
    await redis.set(key, corrupt);
    const alice = idp.addUser();
    const result = await signIn(alice, 'session-a');
    expect(result.account.homeAccountId).toBe(alice.homeAccountId);
    expect([...homeAccountIdsIn(await storedCache(key))]).toEqual([alice.homeAccountId]);
  }
  expect(warnings).toHaveLength(corruptValues.length);
  expect(warnings[0]).toMatch(/unreadable cache partition .*session-a.* cache miss/);
  expect(warnings[3]).toMatch(/integrity check failed/);
});

test('a client reused for a second user never writes that user into the first session', async () => {
  const alice = idp.addUser();
  const bob = idp.addUser();
  const shared = clientFor({ sessionId: 'session-a' });
  await shared.acquireTokenByCode({ code: idp.issueCode(alice, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
  await shared.acquireTokenByCode({ code: idp.issueCode(bob, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });

  const stored = await storedCache(`${prefix}session:{session-a}`);
  expect([...homeAccountIdsIn(stored)]).toEqual([alice.homeAccountId]);
  expect(warnings.join('\n')).toMatch(/refused to store 1 account/);
});

test('removeAccount and removePartition delete the partition', async () => {
  const alice = idp.addUser();
  const signedIn = await signIn(alice, 'session-a');
  const client = clientFor({ sessionId: 'session-a' });
  await client.getTokenCache().removeAccount(signedIn.account);
  expect(await redis.exists(`${prefix}session:{session-a}`)).toBe(0);

  await signIn(alice, 'session-b');
  expect(await tokenCache.removePartition({ sessionId: 'session-b' })).toBe(true);
  expect(await redis.exists(`${prefix}session:{session-b}`)).toBe(0);
});

test('on-behalf-of tokens are cached per incoming assertion', async () => {
  const alice = idp.addUser();
  const assertion = idp.issueAccessToken(alice);
  const request = { oboAssertion: assertion, scopes: ['https://graph.microsoft.com/user.read'] };
  const first = await tokenCache.acquireTokenOnBehalfOf(idp.msalConfig(), request);
  expect(warnings).toEqual([]); // msal drops userAssertionHash from the refresh token: not a foreign account
  const count = tokenRequests().length;
  const second = await newTokenCache().acquireTokenOnBehalfOf(idp.msalConfig(), request);
  expect(second.accessToken).toBe(first.accessToken);
  expect(tokenRequests().length).toBe(count);
  const keys = await redis.keys(`${prefix}obo:*`);
  expect(keys).toHaveLength(1);
});

test('a Redis outage surfaces as a clear CacheStoreError', async () => {
  const down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  const store = new RedisTokenCache({ redis: down, prefix });
  const alice = idp.addUser();
  await expect(signIn(alice, 'session-a', store)).rejects.toThrow(/msal-redis-cache: Redis GET failed/);
  await expect(signIn(alice, 'session-a', store)).rejects.toBeInstanceOf(CacheStoreError);
  down.disconnect();
});
