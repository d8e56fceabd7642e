'use strict';
// End to end: real ConfidentialClientApplications (msal-node) against the in-process fake identity provider,
// caching through the wasm core into a real redis-server.

const crypto = require('node:crypto');
const Redis = require('../../support/ioredis');
const { newRedis, keysAll } = require('../../support/redis-client');
const { RedisTokenCache, CacheStoreError } = require('../../../js');
const { resolvePartition } = require('../../../js/msal/partitions');
const { createKeyring } = require('../../../js/storage/keyring');
const { seal, readHeader, TYPE } = require('../../../js/storage/stored-value');
const { encodeLegacyValue } = require('../../../js/storage/legacy-value');
const { createFakeIdentityProvider } = require('../../support/fake-identity-provider');
const { testSecrets, TEST_KEY_NAME_SECRET } = require('../../support/test-secrets');
const { storedPartition, storedPartitionText, isTombstone, testKeyring } = require('../../support/stored');

const CLIENT_ID = '00000000-0000-4000-8000-00000000c0de';
const SCOPES = ['user.read'];
const REDIRECT_URI = 'http://localhost/auth/redirect';

let redis;
let prefix;
let idp;
let warnings;
let tokenCache;
const newTokenCache = (options = {}) =>
  new RedisTokenCache({ redis, prefix, logger: { warn: (m) => warnings.push(m) }, ...testSecrets(), ...options });

/** The Redis key of a partition, as every RedisTokenCache with the test secrets names it. */
const keyOf = (selector, clientId) => prefix + resolvePartition(selector, clientId, testKeyring).partitionKey;

beforeAll(() => {
  redis = newRedis();
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

const storedCache = (key) => storedPartition(redis, key);

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
  const key = keyOf({ sessionId: 'session-a' });
  expect(key).toBe(`${prefix}session:{${testKeyring.name('session', 'session-a')}}`);
  expect(key).not.toContain('session-a'); // the session id is never in clear in a key name
  // The partition, and the admin indexes that list it (js/admin/partition-index.js). The count is updated after the write,
  // not awaited by it: wait for it (close() does too), since this test lists keys on another connection.
  await tokenCache.shared.context.index.settle();
  expect((await keysAll(redis, `${prefix}*`)).sort()).toEqual(
    [key, `${prefix}index:count:session`, `${prefix}index:user:${testKeyring.name('user', result.account.homeAccountId)}`].sort(),
  );
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
  const key = keyOf({ sessionId: 'session-a' });
  const stored = await storedPartitionText(redis, key);
  expect(stored).toBe(serialized);
  // Encrypted at rest: no token, and not the user's name, in clear in Redis.
  const raw = await redis.getBuffer(key);
  const [accessToken] = Object.values(JSON.parse(serialized).AccessToken);
  expect(raw.includes(accessToken.secret)).toBe(false);
  expect(raw.includes('Zoë Ångström')).toBe(false);
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
  const stored = await storedCache(keyOf({ sessionId: 'session-a' }));
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

describe('Redis calls of a refresh (no in-process cache)', () => {
  const { PartitionStore } = require('../../../js/storage/partition-store');
  let byStore; // PartitionStore (one per RedisTokenCache) -> its calls
  const callsOf = (cache) => byStore.get(cache.shared.context.store) || [];
  beforeEach(() => {
    byStore = new Map();
    for (const method of ['read', 'compareAndSet']) {
      const original = PartitionStore.prototype[method];
      jest.spyOn(PartitionStore.prototype, method).mockImplementation(function counted(...args) {
        byStore.set(this, [...(byStore.get(this) || []), method]);
        return original.apply(this, args);
      });
    }
  });
  afterEach(() => jest.restoreAllMocks());

  test('one read and one compare-and-set: the write is based on the load msal made before the token request', async () => {
    const store = newTokenCache({ localCache: false });
    const alice = idp.addUser();
    const { account } = await signIn(alice, 'session-a', store);
    byStore.clear();
    const refreshed = await clientFor({ sessionId: 'session-a' }, store).acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true });
    expect(refreshed.fromCache).toBe(false);
    expect(callsOf(store)).toEqual(['read', 'compareAndSet']);
    expect(Object.values((await storedCache(keyOf({ sessionId: 'session-a' }))).AccessToken).map((t) => t.secret)).toEqual([refreshed.accessToken]);
  });

  test('another server writing during the token request: the compare-and-set finds out, and both writes are kept', async () => {
    const store = newTokenCache({ localCache: false });
    const alice = idp.addUser();
    const { account } = await signIn(alice, 'session-a', store);
    // While this server's refresh waits on the identity provider, another server stores a token for another scope.
    const otherScopes = ['api://other/Read'];
    let otherToken = null;
    const { networkClient } = idp.msalConfig().system;
    const interrupted = {
      ...idp.msalConfig(),
      system: {
        networkClient: {
          ...networkClient,
          async sendPostRequestAsync(url, options) {
            otherToken = (await clientFor({ sessionId: 'session-a' }, newTokenCache({ localCache: false }))
              .acquireTokenSilent({ account, scopes: otherScopes })).accessToken;
            return networkClient.sendPostRequestAsync(url, options);
          },
        },
      },
    };
    byStore.clear();
    const refreshed = await store.createClientApplication(interrupted, { sessionId: 'session-a' })
      .acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true });
    expect(callsOf(store)).toEqual(['read', 'compareAndSet', 'compareAndSet']); // a conflict, merged, then stored

    const secrets = Object.values((await storedCache(keyOf({ sessionId: 'session-a' }))).AccessToken).map((t) => t.secret);
    expect(secrets.sort()).toEqual([refreshed.accessToken, otherToken].sort());
  });

  test('a client reused long after its load reads again before writing', async () => {
    let now = Date.now();
    const store = newTokenCache({ localCache: false, clock: () => now });
    const alice = idp.addUser();
    const { account } = await signIn(alice, 'session-a', store);
    const client = clientFor({ sessionId: 'session-a' }, store);
    await client.getTokenCache().getAllAccounts(); // loads
    now += 60000;
    byStore.clear();
    await client.acquireTokenByCode({ code: idp.issueCode(alice, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
    expect(callsOf(store)).toEqual(['read', 'compareAndSet']);
    expect(account.homeAccountId).toBe(alice.homeAccountId);
  });
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
    const key = keyOf({ tenantId }, CLIENT_ID);
    expect(key).not.toContain(tenantId);
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
    const stored = await storedCache(keyOf({ sessionId: `session-${i}` }));
    expect(Object.keys(stored.Account)).toHaveLength(1);
    expect([...homeAccountIdsIn(stored)]).toEqual([user.homeAccountId]);
  }
  expect(warnings).toEqual([]);
});

test('a corrupt or foreign value in Redis is a cache miss with a warning and does not break sign-in', async () => {
  const key = keyOf({ sessionId: 'session-a' });
  const bob = idp.addUser();
  const bobsSignIn = await signIn(bob, 'session-b');
  const bobsKey = keyOf({ sessionId: 'session-b' });
  const bobsValue = await redis.getBuffer(bobsKey);
  const bobsCache = await storedPartitionText(redis, bobsKey);
  const flip = (value, index) => {
    const copy = Buffer.from(value);
    copy[index] ^= 0x01;
    return copy;
  };
  const withHeader = (value, change) => {
    const { head, bodyStart } = readHeader(value);
    return Buffer.concat([Buffer.from(`${change(head.split(' ')).join(' ')}\n`, 'latin1'), value.subarray(bodyStart)]);
  };
  // Bob's tokens, sealed for session-a's key by someone without the encryption key (or with another one).
  const bobsCacheSealedWith = (keyring) =>
    seal(keyring, key, { type: TYPE.partition, createdAt: Math.floor(Date.now() / 1000), notAfter: Math.floor(Date.now() / 1000) + 3600, meta: bob.homeAccountId, body: bobsCache }).value;
  const otherKeyring = createKeyring({ encryptionKeys: [crypto.randomBytes(32)], keyNameSecret: TEST_KEY_NAME_SECRET });
  const plainKeyring = createKeyring({ insecurePlaintextStorage: true });

  // [what, value to store (given what session-a holds now: a valid partition after the first sign-in), reason]
  const corruptValues = [
    ['garbage', () => 'garbage', /not a msal-redis-cache value/],
    ['a corrupt version 0.1 value', () => 'mrc1 1700000000 - x\n{"Account": [', /an mrc1 value/],
    [
      'an intact version 0.1 value',
      () => encodeLegacyValue(key, { createdAt: Math.floor(Date.now() / 1000), owner: bob.homeAccountId }, Buffer.from(bobsCache)),
      /an mrc1 value \(from version 0\.1\)/,
    ],
    ['binary bytes', () => Buffer.from([0xff, 0x00, 0x13]), /not a msal-redis-cache value/],
    ['a value copied from another key', () => bobsValue, /does not decrypt \(altered, truncated, or copied from another key\)/],
    ['a flipped byte in the ciphertext', (current) => flip(current, current.length - 20), /does not decrypt/],
    ['a flipped byte in the tag', (current) => flip(current, current.length - 1), /does not decrypt/],
    ['a changed createdAt', (current) => withHeader(current, (f) => [...f.slice(0, 3), String(Number(f[3]) + 1000), ...f.slice(4)]), /does not decrypt/],
    ['a later notAfter', (current) => withHeader(current, (f) => [...f.slice(0, 4), String(Number(f[4]) + 99999), f[5]]), /does not decrypt/],
    [
      'a value past its notAfter (a TTL lifted with PERSIST, a copy put back)',
      () => seal(testKeyring, key, { type: TYPE.partition, createdAt: 1, notAfter: Math.floor(Date.now() / 1000) - 3600, meta: bob.homeAccountId, body: bobsCache }).value,
      /expired \d+ s ago \(its notAfter\)/,
    ],
    ['a truncated value', (current) => current.subarray(0, current.length - 1), /does not decrypt/],
    ['a value under an unknown key', () => bobsCacheSealedWith(otherKeyring), /encrypted under key id .* not in encryptionKeys/],
    ['an unencrypted value', () => bobsCacheSealedWith(plainKeyring), /stored unencrypted .*refused/],
    [
      'a session value at a partition key',
      () => seal(testKeyring, key, { type: TYPE.session, createdAt: 1, notAfter: Math.floor(Date.now() / 1000) + 3600, meta: 'session-a', body: bobsCache }).value,
      /holds a session, not a token cache/,
    ],
    ['a Redis hash', null, /holds a Redis hash, not a string/],
  ];
  const signedIn = [];
  for (const [what, corrupt] of corruptValues) {
    const current = await redis.getBuffer(key);
    await redis.del(key);
    if (corrupt) await redis.set(key, corrupt(current));
    else await redis.hset(key, 'Account', bobsCache);
    const alice = idp.addUser();
    const result = await signIn(alice, 'session-a');
    expect([what, result.account.homeAccountId]).toEqual([what, alice.homeAccountId]);
    expect([what, [...homeAccountIdsIn(await storedCache(key))]]).toEqual([what, [alice.homeAccountId]]);
    signedIn.push(alice);
  }
  expect(warnings).toHaveLength(corruptValues.length);
  corruptValues.forEach(([what, , reason], i) => {
    expect([what, warnings[i]]).toEqual([what, expect.stringContaining(`unreadable cache partition "${key}" (treated as a cache miss)`)]);
    expect([what, warnings[i]]).toEqual([what, expect.stringMatching(reason)]);
    expect(warnings[i]).not.toContain('session-a');
  });
  // Bob's own partition was only read, never changed.
  expect(await redis.getBuffer(bobsKey)).toEqual(bobsValue);
  expect(signedIn.map((user) => user.homeAccountId)).not.toContain(bobsSignIn.account.homeAccountId);
});

test('a client reused for a second user never writes that user into the first session', async () => {
  const alice = idp.addUser();
  const bob = idp.addUser();
  const shared = clientFor({ sessionId: 'session-a' });
  await shared.acquireTokenByCode({ code: idp.issueCode(alice, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
  await shared.acquireTokenByCode({ code: idp.issueCode(bob, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });

  const stored = await storedCache(keyOf({ sessionId: 'session-a' }));
  expect([...homeAccountIdsIn(stored)]).toEqual([alice.homeAccountId]);
  expect(warnings.join('\n')).toMatch(/refused to store 1 account/);
});

test('removeAccount and removePartition leave a tombstone: no server sees the account any more', async () => {
  const accountsSeenByAFreshServer = (sessionId) =>
    clientFor({ sessionId }, newTokenCache()).getTokenCache().getAllAccounts();
  const alice = idp.addUser();
  const signedIn = await signIn(alice, 'session-a');
  expect(await accountsSeenByAFreshServer('session-a')).toHaveLength(1);
  const client = clientFor({ sessionId: 'session-a' });
  await client.getTokenCache().removeAccount(signedIn.account);
  const keyA = keyOf({ sessionId: 'session-a' });
  expect(await isTombstone(redis, keyA)).toBe(true);
  const ttlA = await redis.ttl(keyA);
  expect(ttlA).toBeGreaterThan(0);
  expect(ttlA).toBeLessThanOrEqual(600); // tombstoneSeconds, not the partition's lifetime
  expect(await accountsSeenByAFreshServer('session-a')).toEqual([]);

  await signIn(alice, 'session-b');
  const keyB = keyOf({ sessionId: 'session-b' });
  expect(await accountsSeenByAFreshServer('session-b')).toHaveLength(1);
  expect(await tokenCache.removePartition({ sessionId: 'session-b' })).toBe(true);
  expect(await isTombstone(redis, keyB)).toBe(true);
  expect(await storedCache(keyB)).toBeNull();
  expect(await accountsSeenByAFreshServer('session-b')).toEqual([]);
  expect(await newTokenCache().exportPartition({ sessionId: 'session-b' })).toBeNull();
  // Nothing left to remove.
  expect(await tokenCache.removePartition({ sessionId: 'session-b' })).toBe(false);
  expect(warnings).toEqual([]);
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
  const keys = await keysAll(redis, `${prefix}obo:*`);
  expect(keys).toEqual([keyOf({ userAssertion: assertion }, CLIENT_ID)]);
  expect(keys[0]).not.toContain(alice.oid); // neither the assertion nor its user in clear
});

test('a code redemption leaves for the identity provider only once the partition\'s version is read (a sign-out Redis orders later wins)', async () => {
  const events = [];
  const cache = newTokenCache({ localCache: false });
  // A slow Redis, in the driver the package reaches the client through: the read is asked for, not yet in.
  const { driver } = cache.shared.context;
  const read = driver.getRangeAndPttl.bind(driver);
  driver.getRangeAndPttl = async (...args) => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    try {
      return await read(...args);
    } finally {
      events.push('read');
    }
  };
  {
    const config = idp.msalConfig();
    const { networkClient } = config.system;
    const recording = {
      sendGetRequestAsync: (...args) => networkClient.sendGetRequestAsync(...args),
      sendPostRequestAsync: (...args) => {
        events.push('token request');
        return networkClient.sendPostRequestAsync(...args);
      },
    };
    const client = cache.createClientApplication({ ...config, system: { ...config.system, networkClient: recording } }, { sessionId: 'ordered' });
    await client.acquireTokenByCode({ code: idp.issueCode(idp.addUser(), { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
    expect(events.slice(0, 2)).toEqual(['read', 'token request']);
  }
});

describe('a Redis outage', () => {
  const unreachable = () => new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });

  test('fails writes closed with writeFailure "closed": a clear CacheStoreError', async () => {
    const down = unreachable();
    const store = newTokenCache({ redis: down, writeFailure: 'closed', readFailure: 'open' });
    try {
      const alice = idp.addUser();
      // The read failed first (a miss: readFailure "open"); the write is then refused at once rather than waited on again.
      await expect(signIn(alice, 'session-a', store)).rejects.toThrow(/msal-redis-cache: Redis SET not sent .*failed earlier in this request/);
      await expect(signIn(alice, 'session-a', store)).rejects.toBeInstanceOf(CacheStoreError);
      // One warning for the outage, not one per call.
      expect(warnings.filter((m) => /Redis .* failed/.test(m))).toHaveLength(1);
    } finally {
      await store.close();
      down.disconnect();
    }
  });

  test('by default a user\'s partition Redis cannot read is a CacheStoreError from the msal call, never "sign in"; app tokens miss', async () => {
    const down = unreachable();
    const store = newTokenCache({ redis: down });
    try {
      const started = Date.now();
      const alice = idp.addUser();
      const couldNotRead = /Redis is unavailable: partition ".*session:.*" could not be read.*readFailure "closed"/;
      await expect(signIn(alice, 'session-a', store)).rejects.toThrow(couldNotRead);
      const client = store.createClientApplication(idp.msalConfig(), { sessionId: 'session-a' });
      const account = { homeAccountId: alice.homeAccountId, environment: 'login.microsoftonline.com', tenantId: idp.tenantId, username: alice.username, localAccountId: alice.oid };
      await expect(client.acquireTokenSilent({ account, scopes: ['user.read'] })).rejects.toBeInstanceOf(CacheStoreError);
      await expect(store.createClientApplication(idp.msalConfig(), { homeAccountId: alice.homeAccountId }).getTokenCache().getAllAccounts())
        .rejects.toBeInstanceOf(CacheStoreError);
      // App tokens: a miss, so msal asks the identity provider (harmless); the write then fails open.
      const app = await store.createClientApplication(idp.msalConfig(), { tenantId: idp.tenantId })
        .acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
      expect(app.accessToken).toBeTruthy();
      expect(Date.now() - started).toBeLessThan(store.settings.commandTimeoutMs);
      expect(store.stats()).toMatchObject({ failedReads: 3, missedReads: 1, failedWrites: 1 });
    } finally {
      await store.close();
      down.disconnect();
    }
  });

  test('with readFailure "open": reads miss, the caller gets its token, the write is counted, nothing waits', async () => {
    const down = unreachable();
    const store = newTokenCache({ redis: down, readFailure: 'open' });
    try {
      const started = Date.now();
      const result = await signIn(idp.addUser(), 'session-a', store);
      expect(result.accessToken).toBeTruthy();
      expect(Date.now() - started).toBeLessThan(store.settings.commandTimeoutMs);
      expect(store.stats()).toMatchObject({ missedReads: 1, failedWrites: 1 }); // acquireTokenByCode loads once
    } finally {
      await store.close();
      down.disconnect();
    }
  });

  test('a sign-out always fails closed', async () => {
    const down = unreachable();
    const store = newTokenCache({ redis: down });
    try {
      await expect(store.removePartition({ sessionId: 'session-a' })).rejects.toBeInstanceOf(CacheStoreError);
    } finally {
      await store.close();
      down.disconnect();
    }
  });
});
