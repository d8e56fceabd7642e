'use strict';
// Encryption at rest, end to end against the Jest run's redis-server with real msal-node clients: what someone who
// can read Redis sees, what someone who can write it (without the key) can do, key rotation, the upgrade from 0.1
// values, export and import.

const crypto = require('node:crypto');
const { newRedis, keysAll } = require('../../support/redis-client');
const { driverFor } = require('../../../js/redis/driver');
const session = require('express-session');
const { RedisTokenCache, RedisSessionStore, CacheFormatError } = require('../../../js');
const { encodeLegacyValue } = require('../../../js/storage/legacy-value');
const { resolvePartition } = require('../../../js/msal/partitions');
const core = require('../../../js/core');
const { createFakeIdentityProvider } = require('../../support/fake-identity-provider');

const CLIENT_ID = '00000000-0000-4000-8000-0000000e4c00';
const SCOPES = ['user.read'];
const newKey = () => crypto.randomBytes(32).toString('base64');
const NAME_SECRET = newKey();

let redis;
let prefix;
let idp;
let warnings;
const logger = { warn: (m) => warnings.push(m) };
const tokenCacheWith = (encryptionKeys, options = {}) =>
  new RedisTokenCache({ redis, prefix, logger, encryptionKeys, keyNameSecret: NAME_SECRET, ...options });

beforeAll(() => {
  redis = newRedis();
});
afterAll(() => redis.quit());
beforeEach(() => {
  prefix = `enc:${expect.getState().currentTestName.replace(/\W+/g, '-').slice(0, 50)}:`;
  idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
  warnings = [];
});

const client = (cache, selector) => cache.createClientApplication(idp.msalConfig(), selector);
const tokenRequests = () => idp.requests.filter((r) => r.method === 'POST').length;

async function signIn(cache, user, selector) {
  return client(cache, selector).acquireTokenByCode({ code: idp.issueCode(user, { scopes: SCOPES }), scopes: SCOPES, redirectUri: 'http://localhost/r' });
}

/** A silent token for `account` through a new client: { fromCache } or null when the cache has no account. */
async function silent(cache, selector, account) {
  const c = client(cache, selector);
  const accounts = await c.getTokenCache().getAllAccounts();
  if (!accounts.some((a) => a.homeAccountId === account.homeAccountId)) return null;
  return c.acquireTokenSilent({ account, scopes: SCOPES });
}

async function keysAndValues() {
  const keys = await keysAll(redis, `${prefix}*`);
  // A sorted set (the admin indexes, js/admin/partition-index.js) is read as its members: key names.
  const valueOf = async (key) => {
    const type = await redis.type(key);
    if (type === 'zset') return Buffer.from((await redis.zrange(key, 0, -1)).join('\n'));
    return type === 'string' ? redis.getBuffer(key) : Buffer.alloc(0);
  };
  return Promise.all(keys.map(async (key) => ({ key, value: await valueOf(key) })));
}

/** Every way a secret could show: the raw bytes, and base64/base64url decodings of the value and its fields. */
function readableForms(buffer) {
  const text = buffer.toString('latin1');
  const pieces = [text, ...text.split(/[\s]+/)];
  return pieces.flatMap((piece) => [piece, Buffer.from(piece, 'base64').toString('latin1'), Buffer.from(piece, 'base64url').toString('latin1')]);
}

test('a reader of Redis sees no token, e-mail, name, object id or home account id, in any key or value', async () => {
  const cache = tokenCacheWith([newKey()]);
  const alice = idp.addUser({ username: 'alice.secret@contoso.example', name: 'Alice Secretname' });
  const bob = idp.addUser({ username: 'bob.secret@contoso.example', name: 'Bob Secretname' });
  const results = [await signIn(cache, alice, { sessionId: 'session-of-alice' }), await signIn(cache, bob, { homeAccountId: bob.homeAccountId })];
  results.push(await client(cache, { tenantId: idp.tenantId }).acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }));
  const assertion = idp.issueAccessToken(alice);
  results.push(await cache.acquireTokenOnBehalfOf(idp.msalConfig(), { oboAssertion: assertion, scopes: SCOPES }));
  const store = new RedisSessionStore({ redis, tokenCache: cache, prefix: `${prefix}sess:` });
  const sessionData = { cookie: { originalMaxAge: 1000, expires: new Date(Date.now() + 100000).toISOString() }, user: { name: alice.name, username: alice.username, homeAccountId: alice.homeAccountId } };
  await store.set('session-of-alice', sessionData);
  expect(await store.get('session-of-alice')).toMatchObject({ user: { username: alice.username } });

  const secrets = [alice.username, bob.username, alice.name, bob.name, alice.oid, bob.oid, alice.homeAccountId, bob.homeAccountId, 'session-of-alice', assertion];
  for (const result of results) secrets.push(result.accessToken, ...(result.idToken ? [result.idToken] : []));
  const stored = await keysAndValues();
  const kinds = stored.filter(({ key }) => !key.startsWith(`${prefix}index:`)).map(({ key }) => key.slice(prefix.length).split(':')[0]);
  expect(kinds.sort()).toEqual(['account', 'app', 'obo', 'sess', 'session']); // 4 partitions and 1 session
  for (const { key, value } of stored) {
    for (const form of [key, ...readableForms(value)]) {
      for (const secret of secrets) expect(form.includes(secret)).toBe(false);
    }
    expect(value.length).toBeGreaterThan(0);
  }
  // And the tokens are all there for a server with the keys.
  expect((await silent(cache, { sessionId: 'session-of-alice' }, results[0].account)).fromCache).toBe(true);
});

describe('a writer without the key', () => {
  async function setUp() {
    const cache = tokenCacheWith([newKey()]);
    const alice = idp.addUser();
    const mallory = idp.addUser();
    const result = await signIn(cache, alice, { sessionId: 'alice' });
    await signIn(cache, mallory, { sessionId: 'mallory' });
    const keyOf = (sid) => prefix + resolvePartition({ sessionId: sid }, undefined, cache.settings.keyring).partitionKey;
    return { cache, alice, account: result.account, keyOf };
  }

  async function expectRefused(cache, account, reason) {
    const requestsBefore = tokenRequests();
    expect(await silent(cache, { sessionId: 'alice' }, account)).toBeNull(); // never served: no account in the cache
    expect(tokenRequests()).toBe(requestsBefore);
    expect(warnings.join('\n')).toMatch(reason);
  }

  test('cannot move another session\'s value into this session', async () => {
    const { cache, account, keyOf } = await setUp();
    await redis.set(keyOf('alice'), await redis.getBuffer(keyOf('mallory')));
    await expectRefused(cache, account, /does not decrypt/);
  });

  test('cannot flip a byte anywhere', async () => {
    const { cache, account, keyOf } = await setUp();
    const original = await redis.getBuffer(keyOf('alice'));
    for (const position of [7, 30, original.length - 100, original.length - 1]) {
      const changed = Buffer.from(original);
      changed[position] ^= 0x01;
      await redis.set(keyOf('alice'), changed);
      await expectRefused(cache, account, /does not decrypt|not a msal-redis-cache value/);
    }
  });

  test('cannot plant a forged 0.1 (mrc1) value with a recomputed digest, nor an unencrypted mrc2 one', async () => {
    const { cache, account, keyOf } = await setUp();
    const forged = JSON.stringify({ Account: {}, AccessToken: {} });
    await redis.set(keyOf('alice'), encodeLegacyValue(keyOf('alice'), { createdAt: 1, owner: account.homeAccountId }, Buffer.from(forged)));
    await expectRefused(cache, account, /an mrc1 value/);
    const head = `mrc2 c ${crypto.randomBytes(12).toString('base64url')} 1 4102444800 plain`;
    const payload = Buffer.from(`${encodeURIComponent(account.homeAccountId)}\n${forged}`);
    const digest = crypto.createHash('sha256').update(`${keyOf('alice')}\n${head}`).update(payload).digest();
    await redis.set(keyOf('alice'), Buffer.concat([Buffer.from(`${head}\n`), payload, digest]));
    await expectRefused(cache, account, /stored unencrypted/);
  });

  const DAY_MS = 86400 * 1000;
  const clockAt = (offsetMs) => () => Date.now() + offsetMs;

  test('cannot keep a partition past its lifetime by lifting its TTL (PERSIST): its notAfter is inside the value', async () => {
    const key = newKey();
    // Signed in 30 days ago (absoluteSeconds is 14 days); Redis would have dropped it, but its TTL was lifted.
    const then = tokenCacheWith([key], { clock: clockAt(-30 * DAY_MS) });
    const { account } = await signIn(then, idp.addUser(), { sessionId: 'alice' });
    const keyOf = prefix + resolvePartition({ sessionId: 'alice' }, undefined, then.settings.keyring).partitionKey;
    expect(await redis.persist(keyOf)).toBe(1);
    const requestsBefore = tokenRequests();
    expect(await silent(tokenCacheWith([key]), { sessionId: 'alice' }, account)).toBeNull();
    expect(tokenRequests()).toBe(requestsBefore);
    expect(warnings.join('\n')).toMatch(/expired \d+ s ago \(its notAfter\)/);
  });

  test('a partition older than absoluteSeconds is refused, even when its notAfter is later (absoluteSeconds lowered since)', async () => {
    const key = newKey();
    const long = { slidingSeconds: 40 * 86400, absoluteSeconds: 40 * 86400 };
    const then = tokenCacheWith([key], { ...long, clock: clockAt(-20 * DAY_MS) });
    const { account } = await signIn(then, idp.addUser(), { sessionId: 'alice' });
    expect((await silent(tokenCacheWith([key], long), { sessionId: 'alice' }, account)).fromCache).toBe(true);
    expect(await silent(tokenCacheWith([key]), { sessionId: 'alice' }, account)).toBeNull(); // default: 14 days
    expect(warnings.join('\n')).toMatch(/older than absoluteSeconds \(1209600 s\)/);
  });

  test("a copy put back after a sign-out: refused once past its own notAfter (within it, what remains possible)", async () => {
    const key = newKey();
    const yesterday = tokenCacheWith([key], { clock: clockAt(-DAY_MS - 120 * 1000), slidingSeconds: 86400 });
    const { account } = await signIn(yesterday, idp.addUser(), { sessionId: 'alice' });
    const keyOf = prefix + resolvePartition({ sessionId: 'alice' }, undefined, yesterday.settings.keyring).partitionKey;
    const copy = await redis.getBuffer(keyOf);
    const today = tokenCacheWith([key]);
    await today.removePartition({ sessionId: 'alice' });
    await redis.set(keyOf, copy); // a Redis writer without the keys undoes the sign-out: refused, its day is over
    expect(await silent(today, { sessionId: 'alice' }, account)).toBeNull();
    expect(warnings.join('\n')).toMatch(/its notAfter/);
    // A copy taken within its lifetime is intact and opens: README.md says so, and what to pair the sign-out with.
    const fresh = await signIn(today, idp.addUser(), { sessionId: 'bob' });
    const bobKey = prefix + resolvePartition({ sessionId: 'bob' }, undefined, today.settings.keyring).partitionKey;
    const bobCopy = await redis.getBuffer(bobKey);
    await today.removePartition({ sessionId: 'bob' });
    await redis.set(bobKey, bobCopy);
    expect((await silent(today, { sessionId: 'bob' }, fresh.account)).fromCache).toBe(true);
  });

  test('a value under a key not in the ring is a miss naming the key id, and the user signs in again', async () => {
    const { account, keyOf } = await setUp();
    const other = tokenCacheWith([newKey()]);
    await expectRefused(other, account, /encrypted under key id [\w-]{11}, which is not in encryptionKeys/);
    const again = await signIn(other, idp.addUser(), { sessionId: 'alice' });
    expect((await silent(other, { sessionId: 'alice' }, again.account)).fromCache).toBe(true);
    expect(await redis.exists(keyOf('alice'))).toBe(1);
  });
});

test('rotation: [k1] writes, [k2, k1] reads and rewrites under k2, [k2] reads, [k3] misses with a warning', async () => {
  const [k1, k2, k3] = [newKey(), newKey(), newKey()];
  const alice = idp.addUser();
  const { account } = await signIn(tokenCacheWith([k1]), alice, { sessionId: 's' });
  const keyIdIn = async () => (await redis.getBuffer((await keysAll(redis, `${prefix}session:*`))[0])).toString('latin1').split('\n')[0].split(' ')[5];
  const id = (key) => tokenCacheWith([key]).settings.keyring.current.id;
  expect(await keyIdIn()).toBe(id(k1));

  const rotating = tokenCacheWith([k2, k1]);
  expect((await silent(rotating, { sessionId: 's' }, account)).fromCache).toBe(true);
  // The next write (here: a token for another scope) re-encrypts under k2.
  await client(rotating, { sessionId: 's' }).acquireTokenSilent({ account, scopes: ['other.read'] });
  expect(await keyIdIn()).toBe(id(k2));

  expect((await silent(tokenCacheWith([k2]), { sessionId: 's' }, account)).fromCache).toBe(true);
  expect(warnings).toEqual([]);
  expect(await silent(tokenCacheWith([k3]), { sessionId: 's' }, account)).toBeNull();
  expect(warnings.join()).toContain(`key id ${id(k2)}`);
});

describe('upgrade from 0.1 (mrc1) values', () => {
  // A 0.1 partition (clear text, unkeyed digest) of the session "old", or of the account, as 0.1 stored it.
  async function plantLegacy(kind = 'account') {
    const alice = idp.addUser();
    const plain = new RedisTokenCache({ redis, prefix: `${prefix}scratch:`, logger, insecurePlaintextStorage: true });
    warnings = [];
    const { account } = await signIn(plain, alice, { sessionId: 'old' });
    const cacheJson = await plain.exportPartition({ sessionId: 'old' });
    const legacyKey = kind === 'session' ? `${prefix}session:{old}` : `${prefix}account:${account.homeAccountId}`;
    const owner = kind === 'session' ? account.homeAccountId : null;
    const createdAt = Math.floor(Date.now() / 1000);
    await redis.set(legacyKey, encodeLegacyValue(legacyKey, { createdAt, owner }, Buffer.from(cacheJson)), 'EX', 3600);
    await plain.close(); // its count update too (sent every 50 ms), before its keys go
    for (const key of await keysAll(redis, `${prefix}scratch:*`)) await redis.del(key); // one by one: a Cluster spreads them over its masters
    return { account, legacyKey, cacheJson };
  }
  const accountOf = (account) => ({ homeAccountId: account.homeAccountId });

  test('are misses unless migrateLegacyValues is set', async () => {
    const { account } = await plantLegacy();
    expect(await silent(tokenCacheWith([newKey()]), accountOf(account), account)).toBeNull();
  });

  test('with migrateLegacyValues: an account partition is served, rewritten encrypted on the next write, and the old key removed', async () => {
    const { account, legacyKey } = await plantLegacy();
    const cache = tokenCacheWith([newKey()], { migrateLegacyValues: true });
    expect((await silent(cache, accountOf(account), account)).fromCache).toBe(true);
    await client(cache, accountOf(account)).acquireTokenSilent({ account, scopes: ['other.read'] });
    expect(await redis.exists(legacyKey)).toBe(0);
    const keys = (await keysAll(redis, `${prefix}*`)).filter((key) => !key.startsWith(`${prefix}index:`)); // not the admin indexes
    expect(keys).toHaveLength(1);
    expect((await redis.getBuffer(keys[0])).toString('latin1')).toMatch(/^mrc2 c /);
    expect((await silent(cache, accountOf(account), account)).fromCache).toBe(true);
  });

  // Clear text is never trusted on a request: a planted 0.1 session partition would decide who a session is.
  test('with migrateLegacyValues: a 0.1 session partition is never read, so it cannot sign a session in', async () => {
    const { account, legacyKey } = await plantLegacy('session');
    const cache = tokenCacheWith([newKey()], { migrateLegacyValues: true });
    const app = client(cache, { sessionId: 'old' });
    expect(await app.getTokenCache().getAllAccounts()).toEqual([]);
    expect(await silent(cache, { sessionId: 'old' }, account)).toBeNull();
    expect(await redis.exists(legacyKey)).toBe(1); // left alone (it expires); importLegacySessions moves it offline
  });

  test('no id in clear reaches a log line or an error: failures on 0.1 keys and connect-redis keys name no key', async () => {
    const { account, legacyKey } = await plantLegacy();
    const failing = newRedis();
    const fail = (original) => function (...args) {
      if (args.some((arg) => typeof arg === 'string' && (arg.includes(account.homeAccountId) || arg.includes('secret-sid')))) {
        return Promise.reject(new Error('connection reset'));
      }
      return original.apply(this, args);
    };
    // Injected in the driver (js/redis/driver.js) the package reaches the client through, whichever client it is.
    const driver = driverFor(failing);
    driver.script = fail(driver.script);
    driver.getRangeAndPttl = fail(driver.getRangeAndPttl);
    driver.get = fail(driver.get);
    driver.getBuffer = fail(driver.getBuffer);
    try {
      const cache = new RedisTokenCache({ redis: failing, prefix, logger, encryptionKeys: [newKey()], keyNameSecret: NAME_SECRET, migrateLegacyValues: true });
      const errors = [];
      await cache.exportPartition(accountOf(account)).catch((err) => errors.push(err.message));
      const store = new RedisSessionStore({ redis: failing, tokenCache: cache, prefix: `${prefix}sess:` });
      await failing.set(`${prefix}old:secret-sid-1`, JSON.stringify({ cookie: {} }), 'EX', 60);
      await failing.set(`${prefix}sess:{secret-sid-2}`, JSON.stringify({ cookie: {} }), 'EX', 60);
      await store.importConnectRedisSessions({ prefix: `${prefix}old:` }).catch((err) => errors.push(err.message));
      await store.importLegacySessions().catch((err) => errors.push(err.message));
      expect(errors).toHaveLength(3);
      expect(errors.slice(1)).toEqual([expect.stringMatching(/a key naming a session id in clear/), expect.stringMatching(/a key naming a session id in clear/)]);
      expect(warnings.join('\n')).toMatch(/Redis GET failed for "\(a version 0\.1 key\)"/);
      for (const text of [...errors, ...warnings]) {
        expect(text).not.toContain(account.homeAccountId);
        expect(text).not.toContain('secret-sid');
      }
      expect(await redis.exists(legacyKey)).toBe(1);
    } finally {
      await failing.quit();
    }
  });

  test('importLegacySessions moves 0.1 sessions and their partitions, offline; a session store never reads them', async () => {
    const { account, legacyKey } = await plantLegacy('session');
    const cache = tokenCacheWith([newKey()], { migrateLegacyValues: true });
    const store = new RedisSessionStore({ redis, tokenCache: cache, prefix: `${prefix}sess:` });
    const legacySessionKey = `${prefix}sess:{old}`;
    const sessionData = { cookie: new session.Cookie({ maxAge: 60000 }).toJSON(), account: { username: 'alice' } };
    await redis.set(legacySessionKey, JSON.stringify(sessionData), 'EX', 3600);
    // On a request: nothing (a planted clear-text session must not sign anyone in), and nothing re-sealed.
    expect(await store.get('old')).toBeNull();
    await store.touch('old', sessionData);
    expect(await store.get('old')).toBeNull();
    // Offline, once: moved, then found again as existing; the clear copies deleted on request.
    expect(await store.importLegacySessions()).toEqual({ imported: 1, existing: 0, unreadable: 0 });
    expect(await store.get('old')).toMatchObject({ account: { username: 'alice' } });
    expect((await silent(cache, { sessionId: 'old' }, account)).fromCache).toBe(true);
    expect(await redis.exists(legacyKey)).toBe(1);
    expect(await store.importLegacySessions({ deleteImported: true })).toEqual({ imported: 0, existing: 1, unreadable: 0 });
    expect(await redis.exists(legacySessionKey)).toBe(0);
    expect(await redis.exists(legacyKey)).toBe(0);
    // A corrupt one is counted and left alone.
    await redis.set(`${prefix}sess:{other}`, '{not json', 'EX', 60);
    expect(await store.importLegacySessions({ deleteImported: true })).toEqual({ imported: 0, existing: 0, unreadable: 1 });
    expect(await redis.exists(`${prefix}sess:{other}`)).toBe(1);
    await expect(store.importLegacySessions({ prefix: 'x' })).rejects.toThrow(/takes \{ deleteImported \}/);
  });
});

describe('export and import', () => {
  test('export gives the decrypted MSAL cache JSON (null when there is none); import stores one through the checks', async () => {
    const cache = tokenCacheWith([newKey()]);
    const alice = idp.addUser();
    const { account } = await signIn(cache, alice, { sessionId: 's' });
    const exported = await cache.exportPartition({ sessionId: 's' });
    expect(Object.keys(JSON.parse(exported).RefreshToken)).toHaveLength(1);
    expect(await cache.exportPartition({ sessionId: 'none' })).toBeNull();

    expect(await cache.importPartition({ homeAccountId: alice.homeAccountId }, exported)).toBe('stored');
    expect((await silent(cache, { homeAccountId: alice.homeAccountId }, account)).fromCache).toBe(true);
    // Into another user's account partition: nothing of alice belongs there.
    const bob = idp.addUser();
    expect(await cache.importPartition({ homeAccountId: bob.homeAccountId }, exported)).toBe('unchanged');
    expect(await cache.exportPartition({ homeAccountId: bob.homeAccountId })).toBeNull();
    expect(warnings).toEqual([]);
  });

  test('import refuses a malformed cache, and a session cache with two accounts', async () => {
    const cache = tokenCacheWith([newKey()]);
    await expect(cache.importPartition({ sessionId: 's' }, '{"Account": [')).rejects.toThrow(CacheFormatError);
    const exportAfterSignIn = async (sessionId) => {
      await signIn(cache, idp.addUser(), { sessionId });
      return JSON.parse(await cache.exportPartition({ sessionId }));
    };
    const [a, b] = [await exportAfterSignIn('a'), await exportAfterSignIn('b')];
    const both = JSON.stringify(Object.fromEntries(['Account', 'IdToken', 'AccessToken', 'RefreshToken', 'AppMetadata'].map((s) => [s, { ...a[s], ...b[s] }])));
    await expect(cache.importPartition({ sessionId: 'c' }, both)).rejects.toThrow(/exactly one account; this cache holds 2/);
  });

  test('import refuses a cache over maxValueBytes before it reaches the core or Redis', async () => {
    const cache = tokenCacheWith([newKey()], { maxValueBytes: 16384 });
    const alice = idp.addUser();
    await signIn(cache, alice, { sessionId: 's' });
    const exported = await cache.exportPartition({ sessionId: 's' });
    const padded = JSON.stringify({ ...JSON.parse(exported), Padding: 'x'.repeat(16384) });
    const toCore = ['planRead', 'planWrite', 'planMergeWrite'].map((name) => jest.spyOn(core, name));
    const read = jest.spyOn(cache.shared.context.store, 'read');
    try {
      for (const input of [padded, Buffer.from(padded), new TextEncoder().encode(padded)]) {
        await expect(cache.importPartition({ sessionId: 's' }, input)).rejects.toThrow(/over maxValueBytes \(16384\)/);
        await expect(cache.importPartition({ homeAccountId: alice.homeAccountId }, input)).rejects.toThrow(CacheFormatError);
      }
      // Counted in bytes, not characters: 8,200 two-byte characters are 16,400 bytes.
      await expect(cache.importPartition({ sessionId: 's' }, 'é'.repeat(8200))).rejects.toThrow(/16400 bytes/);
      for (const spy of [...toCore, read]) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of [...toCore, read]) spy.mockRestore();
    }
    expect(await cache.exportPartition({ sessionId: 's' })).toBe(exported);
  });
});

test('the session store encrypts sessions with the token cache\'s keys; an undecryptable session is no session', async () => {
  const cache = tokenCacheWith([newKey()]);
  const store = new RedisSessionStore({ redis, tokenCache: cache, prefix: `${prefix}sess:` });
  const data = { cookie: new session.Cookie({ maxAge: 60000 }).toJSON(), secretNote: 'only for this session' };
  await store.set('sid-1', data);
  const [key] = await keysAll(redis, `${prefix}sess:*`);
  expect((await redis.getBuffer(key)).toString('latin1')).not.toContain('only for this session');
  expect((await store.get('sid-1')).secretNote).toBe('only for this session');
  const otherKeys = new RedisSessionStore({ redis, tokenCache: tokenCacheWith([newKey()]), prefix: `${prefix}sess:` });
  expect(await otherKeys.get('sid-1')).toBeNull();
  expect(warnings.join()).toMatch(/unreadable session .* not in encryptionKeys/);
});
