'use strict';
// RedisSessionStore against the real redis-server of the Jest run: keys, encryption, TTLs shared with the
// token-cache partition, destroy, corrupt values, and express-session driving it.

const crypto = require('node:crypto');
const express = require('express');
const session = require('express-session');
const request = require('supertest');
const Redis = require('../../support/ioredis');
const { newRedis, masters } = require('../../support/redis-client');
const { RedisSessionStore } = require('../../../js/session/session-store');
const { RedisTokenCache } = require('../../../js/redis-token-cache');
const { ConfigurationError, CacheStoreError, CacheFormatError } = require('../../../js/errors');
const { resolvePartition } = require('../../../js/msal/partitions');
const { createKeyring } = require('../../../js/storage/keyring');
const { seal, tombstone, readHeader, TYPE } = require('../../../js/storage/stored-value');
const { testSecrets, TEST_KEY_NAME_SECRET } = require('../../support/test-secrets');
const { storedValue, storedSession, storedPartition, isTombstone, testKeyring } = require('../../support/stored');
const { typicalUserCache } = require('../../support/cache-fixtures');

const DAY = 86400;
const TOMBSTONE_SECONDS = 600; // RedisTokenCache's default tombstoneSeconds
let redis;
let prefix;
let warnings;
let now;
const logger = { warn: (m) => warnings.push(m) };
const nowSeconds = () => Math.floor(now / 1000);

// A real token cache (the store tombstones partitions through its writer), on the test clock.
const newTokenCache = (options = {}) =>
  new RedisTokenCache({ redis, prefix: `${prefix}msal:`, logger, clock: () => now, ...testSecrets(), ...options });

/** A store with the test secrets (its own, or its token cache's). */
function newStore(options = {}) {
  const secrets = options.tokenCache || options.insecurePlaintextStorage ? {} : testSecrets();
  return new RedisSessionStore({ redis, prefix: `${prefix}sess:`, logger, clock: () => now, ...secrets, ...options });
}

const cookie = (maxAgeSeconds) => ({
  originalMaxAge: maxAgeSeconds * 1000, expires: new Date(now + maxAgeSeconds * 1000).toISOString(), httpOnly: true, path: '/',
});

/** A token-cache partition value as the token cache would store it at `key` (only its header matters here). */
const partitionValue = (key, createdAt, body = '{}', notAfter = nowSeconds() + 2 * DAY) =>
  seal(testKeyring, key, { type: TYPE.partition, createdAt, notAfter, meta: 'owner-oid.owner-tid', body }).value;

const flip = (value, index) => {
  const copy = Buffer.from(value);
  copy[index] ^= 0x01;
  return copy;
};

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One user's msal cache, to import as a session partition. */
const userCache = () => JSON.stringify(typicalUserCache({ now: nowSeconds() }).cache);

beforeAll(() => {
  redis = newRedis();
});
afterAll(() => redis.quit());
beforeEach(() => {
  prefix = `store:${expect.getState().currentTestName.replace(/\W+/g, '-')}:`;
  warnings = [];
  now = Date.now();
});

test('keys a session as <prefix>{<HMAC of sid>} and its partition as <token prefix>session:{<same>}: one hash slot', async () => {
  const tokenCache = newTokenCache();
  const store = newStore({ tokenCache });
  const tag = testKeyring.name('session', 'abc');
  expect(store.sessionKey('abc')).toBe(`${prefix}sess:{${tag}}`);
  expect(store.partitionKey('abc')).toBe(`${prefix}msal:session:{${tag}}`);
  // The very key the token cache uses for { sessionId }.
  expect(store.partitionKey('abc')).toBe(`${prefix}msal:${resolvePartition({ sessionId: 'abc' }, undefined, testKeyring).partitionKey}`);
  expect(newStore().partitionKey('abc')).toBeNull();
  expect(newStore().sessionKey('abc')).toBe(store.sessionKey('abc')); // same keyNameSecret, same names
  // Redis Cluster hashes only the part between the first "{" and the next "}" when it is not empty.
  const hashTag = (key) => /\{([^}]+)\}/.exec(key)[1];
  expect(hashTag(store.sessionKey('abc'))).toBe(tag);
  expect(hashTag(store.partitionKey('abc'))).toBe(tag);
  expect(store.sessionKey('abc')).not.toMatch(/abc/);
  expect(store.sessionKey('abd')).not.toBe(store.sessionKey('abc'));
  // Another keyNameSecret, other names: key names cannot be computed without the secret.
  const otherSecret = crypto.randomBytes(32).toString('base64');
  expect(newStore({ keyNameSecret: otherSecret }).sessionKey('abc')).not.toBe(store.sessionKey('abc'));
});

test('set then get round-trips the session, encrypted, with the cookie maxAge as TTL', async () => {
  const store = newStore();
  const data = { cookie: cookie(3600), user: { name: 'Alice' } };
  await store.set('s1', data);
  expect(await store.get('s1')).toEqual(data);
  const key = store.sessionKey('s1');
  const ttl = await redis.ttl(key);
  expect(ttl).toBeGreaterThan(3590);
  expect(ttl).toBeLessThanOrEqual(3600);
  expect(await storedSession(redis, key)).toEqual(data);
  const opened = await storedValue(redis, key);
  expect([opened.type, opened.meta]).toEqual([TYPE.session, 's1']);
  expect(opened.keyId).toBe(testKeyring.current.id);
  expect((await redis.getBuffer(key)).includes('Alice')).toBe(false);
  expect(warnings).toEqual([]);
});

test('insecurePlaintextStorage stores sessions readable but still bound to their key', async () => {
  // Plain SHA-256 key names without a keyNameSecret; with it, the same names as the encrypting store's.
  expect(newStore({ insecurePlaintextStorage: true }).sessionKey('s1')).not.toBe(newStore().sessionKey('s1'));
  const store = newStore({ insecurePlaintextStorage: true, keyNameSecret: TEST_KEY_NAME_SECRET });
  expect(store.sessionKey('s1')).toBe(newStore().sessionKey('s1'));
  const encrypting = newStore();
  warnings = [];
  const data = { cookie: cookie(60), user: 'Alice' };
  await store.set('s1', data);
  expect(await store.get('s1')).toEqual(data);
  const raw = await redis.getBuffer(store.sessionKey('s1'));
  expect(raw.toString('latin1')).toMatch(/^mrc2 s \S{16} \d+ \d+ plain\n/);
  // A store that encrypts refuses it.
  expect(await encrypting.get('s1')).toBeNull();
  expect(warnings).toEqual([expect.stringMatching(/stored unencrypted .*refused/)]);
});

test('a session without cookie expiry lives ttlSeconds', async () => {
  const store = newStore({ ttlSeconds: 120 });
  await store.set('s1', { cookie: { path: '/' } });
  expect(await redis.ttl(store.sessionKey('s1'))).toBe(120);
  await newStore().set('s2', { cookie: { path: '/' } });
  expect(await redis.ttl(store.sessionKey('s2'))).toBe(DAY);
});

test('callbacks get express-session\'s arguments: (null, null) for a missing session', async () => {
  const store = newStore();
  const result = await new Promise((resolve) => store.get('missing', (...args) => resolve(args)));
  expect(result).toEqual([null, null]);
  const saved = await new Promise((resolve) => store.set('s1', { cookie: cookie(60) }, (...args) => resolve(args)));
  expect(saved).toEqual([null, undefined]);
});

test('an unreadable session value (corrupt, undecryptable, another key) is no session, with a warning, never an error', async () => {
  const store = newStore();
  const sealed = (sid, body, { keyring = testKeyring, type = TYPE.session } = {}) =>
    seal(keyring, store.sessionKey(sid), { type, createdAt: nowSeconds(), notAfter: nowSeconds() + 3600, meta: sid, body }).value;
  const intact = (sid) => sealed(sid, JSON.stringify({ cookie: cookie(60) }));
  const otherKeyring = createKeyring({ encryptionKeys: [crypto.randomBytes(32)], keyNameSecret: TEST_KEY_NAME_SECRET });
  const plainKeyring = createKeyring({ insecurePlaintextStorage: true });
  // [what, value for the session id, reason in the warning]
  const values = [
    // Intact and decrypted, but not an express-session session.
    ['bad JSON', (sid) => sealed(sid, '{not json'), /JSON/],
    ['null', (sid) => sealed(sid, 'null'), /not an express-session session/],
    ['a number', (sid) => sealed(sid, '42'), /not an express-session session/],
    ['a string', (sid) => sealed(sid, '"text"'), /not an express-session session/],
    ['no cookie', (sid) => sealed(sid, '{"user":"no cookie"}'), /not an express-session session/],
    ['a cookie that is not an object', (sid) => sealed(sid, '{"cookie":"not an object"}'), /not an express-session session/],
    // Not this package's value, or not one that opens.
    ['a session in clear JSON', () => JSON.stringify({ cookie: cookie(60) }), /not a msal-redis-cache value/],
    ['garbage', () => 'garbage', /not a msal-redis-cache value/],
    ['a flipped byte', (sid) => flip(intact(sid), intact(sid).length - 20), /does not decrypt/],
    ['a flipped tag byte', (sid) => { const v = intact(sid); return flip(v, v.length - 1); }, /does not decrypt/],
    ['a truncated value', (sid) => { const v = intact(sid); return v.subarray(0, v.length - 5); }, /does not decrypt/],
    ['a value under an unknown key', (sid) => sealed(sid, JSON.stringify({ cookie: cookie(60) }), { keyring: otherKeyring }), /not in encryptionKeys/],
    ['an unencrypted value', (sid) => sealed(sid, JSON.stringify({ cookie: cookie(60) }), { keyring: plainKeyring }), /stored unencrypted .*refused/],
    ['a token-cache partition', (sid) => sealed(sid, '{"cookie":{}}', { type: TYPE.partition }), /not a session/],
    ['a tombstone', (sid) => tombstone(testKeyring, store.sessionKey(sid), nowSeconds(), nowSeconds() + 60).value, /not a session/],
  ];
  for (const [i, [what, valueFor]] of values.entries()) {
    await redis.set(store.sessionKey(`bad${i}`), valueFor(`bad${i}`));
    const args = await new Promise((resolve) => store.get(`bad${i}`, (...a) => resolve(a)));
    expect([what, args]).toEqual([what, [null, null]]);
  }
  expect(warnings).toHaveLength(values.length);
  values.forEach(([what, , reason], i) => {
    const start = new RegExp(`^msal-redis-cache: ignoring unreadable session "${escapeRegExp(store.sessionKey(`bad${i}`))}" \\(treated as no session\\): `);
    expect([what, warnings[i]]).toEqual([what, expect.stringMatching(start)]);
    expect([what, warnings[i]]).toEqual([what, expect.stringMatching(reason)]);
    expect(warnings[i]).not.toContain(`bad${i}`);
  });
  // The same value intact is a session: the failures above are the corruption, not the test's sealing.
  await redis.set(store.sessionKey('good'), intact('good'));
  expect(await store.get('good')).toEqual({ cookie: cookie(60) });
  expect(warnings).toHaveLength(values.length);
});

test('a session value copied to another session\'s key is refused', async () => {
  for (const [mode, options, reason] of [
    ['encrypted', {}, /does not decrypt \(altered, truncated, or copied from another key\)/],
    ['insecurePlaintextStorage', { insecurePlaintextStorage: true }, /integrity check failed \(corrupted, truncated, or copied from another key\)/],
  ]) {
    const store = newStore({ prefix: `${prefix}${mode}:`, ...options });
    warnings = [];
    const alice = { cookie: cookie(600), user: 'alice' };
    await store.set('alice-sid', alice);
    await store.set('mallory-sid', { cookie: cookie(600), user: 'mallory' });
    await redis.set(store.sessionKey('mallory-sid'), await redis.getBuffer(store.sessionKey('alice-sid')));

    const args = await new Promise((resolve) => store.get('mallory-sid', (...a) => resolve(a)));
    expect([mode, args]).toEqual([mode, [null, null]]);
    expect([mode, warnings]).toEqual([mode, [expect.stringMatching(reason)]]);
    expect(warnings[0]).toContain(store.sessionKey('mallory-sid'));
    expect(await store.get('alice-sid')).toEqual(alice);
    // Nor does all() list it (as alice's or anyone's).
    expect((await store.all()).map((s) => [s.id, s.user])).toEqual([['alice-sid', 'alice']]);
  }
});

test('the session id never appears in clear in Redis: not in key names, not in values', async () => {
  const tokenCache = newTokenCache();
  const store = newStore({ tokenCache });
  // Like express-session's ids (uid-safe: base64url), with a marker that is no accident.
  const sid = `SiD-${crypto.randomBytes(24).toString('base64url')}`;
  const forms = [sid, encodeURIComponent(sid), Buffer.from(sid).toString('base64'), Buffer.from(sid).toString('base64url'),
    Buffer.from(sid).toString('hex')];
  /** True when the bytes hold the id in clear, or base64 that decodes (at any alignment) to bytes holding it. */
  const reveals = (bytes) => {
    const text = bytes.toString('latin1');
    if (forms.some((form) => text.includes(form))) return true;
    for (const [run] of text.matchAll(/[A-Za-z0-9+/_-]{8,}/g)) {
      for (let shift = 0; shift < 4; shift++) {
        if (Buffer.from(run.slice(shift), 'base64').includes(sid)) return true;
      }
    }
    return false;
  };
  // The check finds what version 0.1 stored, and base64 within other text.
  expect(reveals(Buffer.from(`sess:{${sid}}`))).toBe(true);
  expect(reveals(Buffer.from(`x:${Buffer.from(JSON.stringify({ id: sid })).toString('base64')}.y`))).toBe(true);
  expect(reveals(Buffer.from(`.${Buffer.from(`ab${sid}`).toString('base64url')}`))).toBe(true);

  async function expectNoSessionIdInRedis(expectedKeys) {
    const keys = [];
    for (const node of await masters(redis)) { // every master of a Cluster
      let cursor = '0';
      do {
        const [next, found] = await node.scanBuffer(cursor, 'MATCH', `${prefix}*`, 'COUNT', 100);
        cursor = next.toString();
        keys.push(...found);
      } while (cursor !== '0');
    }
    // The token cache's admin indexes (partition-index.js): sorted sets of key names, checked member by member.
    const indexes = keys.filter((key) => String(key).startsWith(`${prefix}msal:index:`));
    expect(keys.filter((key) => !indexes.includes(key)).map(String).sort()).toEqual([...expectedKeys].sort());
    for (const key of keys) {
      expect([String(key), reveals(key)]).toEqual([String(key), false]);
      if (indexes.includes(key)) {
        for (const member of await redis.zrangeBuffer(key, 0, -1)) expect([String(member), reveals(member)]).toEqual([String(member), false]);
        continue;
      }
      expect(await redis.type(key)).toBe('string');
      const value = await redis.getBuffer(key);
      expect([String(key), reveals(value)]).toEqual([String(key), false]);
    }
  }

  await store.set(sid, { cookie: cookie(600), user: 'alice', note: `I am ${sid}` });
  expect(await tokenCache.importPartition({ sessionId: sid }, userCache())).toBe('stored');
  await store.touch(sid, { cookie: cookie(900), user: 'alice', note: `I am ${sid}` });
  expect((await store.all()).map((s) => s.id)).toEqual([sid]); // the id is stored, encrypted
  await expectNoSessionIdInRedis([store.sessionKey(sid), store.partitionKey(sid)]);

  await store.destroy(sid);
  expect(await isTombstone(redis, store.partitionKey(sid))).toBe(true);
  await expectNoSessionIdInRedis([store.partitionKey(sid)]);
  expect(warnings).toEqual([]);
});

test('touch extends the session and its token partition to the same TTL', async () => {
  const store = newStore({ tokenCache: newTokenCache() });
  await store.set('s1', { cookie: cookie(60) });
  const partitionKey = store.partitionKey('s1');
  await redis.set(partitionKey, partitionValue(partitionKey, nowSeconds()), 'EX', 30);

  await store.touch('s1', { cookie: cookie(7200) });

  const [sessionTtl, partitionTtl] = await Promise.all([redis.ttl(store.sessionKey('s1')), redis.ttl(partitionKey)]);
  expect(sessionTtl).toBeGreaterThan(7190);
  expect(partitionTtl).toBe(sessionTtl);

  // But never past the notAfter sealed into the partition: only a write of the partition moves that.
  await redis.set(partitionKey, partitionValue(partitionKey, nowSeconds(), '{}', nowSeconds() + 100), 'EX', 30);
  await store.touch('s1', { cookie: cookie(7200) });
  expect(await redis.ttl(store.sessionKey('s1'))).toBeGreaterThan(7190);
  expect(await redis.ttl(partitionKey)).toBeLessThanOrEqual(100);
  expect(await redis.ttl(partitionKey)).toBeGreaterThan(90);
});

test('a session carries its own notAfter: a touch seals it again before the new TTL would pass it, keeping what is stored', async () => {
  const store = newStore();
  const sessionKey = store.sessionKey('s1');
  const headerOf = async () => readHeader(await redis.getBuffer(sessionKey));
  await store.set('s1', { cookie: cookie(600), note: 'first' });
  const first = await headerOf();
  expect(first.notAfter).toBe(nowSeconds() + 1200); // twice the TTL: room for touches
  // Another request saved meanwhile; this touch carries an older copy of the session.
  await store.set('s1', { cookie: cookie(600), note: 'second' });
  const saved = await headerOf();
  // Early touches only move Redis's TTL.
  now += 300 * 1000;
  await store.touch('s1', { cookie: cookie(600), note: 'first' });
  expect((await headerOf()).etag).toBe(saved.etag);
  // Once now + TTL passes notAfter, the stored session (not the touch's copy) is sealed again with a later one.
  now += 400 * 1000;
  await store.touch('s1', { cookie: cookie(600), note: 'first' });
  const resealed = await headerOf();
  expect(resealed.etag).not.toBe(saved.etag);
  expect(resealed.notAfter).toBe(nowSeconds() + 1200);
  expect(await store.get('s1')).toMatchObject({ note: 'second' });
  expect(await redis.ttl(sessionKey)).toBeGreaterThan(590);
  // Past its notAfter a session is no session, whatever Redis's TTL says (PERSIST).
  await redis.persist(sessionKey);
  now += 1300 * 1000;
  warnings = [];
  expect(await store.get('s1')).toBeNull();
  expect(warnings.join()).toMatch(/expired .* \(its notAfter\)/);
});

test('touch never creates a partition for a session that has none', async () => {
  const store = newStore({ tokenCache: newTokenCache() });
  await store.set('s1', { cookie: cookie(60) });
  await store.touch('s1', { cookie: cookie(600) });
  expect(await redis.exists(store.partitionKey('s1'))).toBe(0);
  expect(await redis.ttl(store.sessionKey('s1'))).toBeGreaterThan(590);
});

test('saving a session also aligns its partition TTL', async () => {
  const store = newStore({ tokenCache: newTokenCache() });
  const partitionKey = store.partitionKey('s1');
  await redis.set(partitionKey, partitionValue(partitionKey, nowSeconds()), 'EX', DAY);
  await store.set('s1', { cookie: cookie(1800) });
  const ttl = await redis.ttl(store.sessionKey('s1'));
  expect(ttl).toBeGreaterThan(1790);
  expect(await redis.ttl(partitionKey)).toBe(ttl);
});

test('neither outlives the partition\'s absolute lifetime (its createdAt, from the mrc2 header)', async () => {
  const store = newStore({ tokenCache: newTokenCache({ absoluteSeconds: 1000, slidingSeconds: 1000 }) });
  const createdAt = nowSeconds() - 400; // 600 s of its absolute lifetime left
  const partitionKey = store.partitionKey('s1');
  await redis.set(partitionKey, partitionValue(partitionKey, createdAt), 'EX', 100);
  await store.set('s1', { cookie: cookie(DAY) });
  for (const key of [store.sessionKey('s1'), partitionKey]) {
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  }

  // Past it, the session is over: deleted, and its partition removed (a tombstone).
  const partitionKey2 = store.partitionKey('s2');
  await redis.set(partitionKey2, partitionValue(partitionKey2, createdAt - 1000), 'EX', 100);
  await store.set('s2', { cookie: cookie(DAY) });
  expect(await redis.exists(store.sessionKey('s2'))).toBe(0);
  expect(await isTombstone(redis, partitionKey2)).toBe(true);
  expect(await storedPartition(redis, partitionKey2)).toBeNull();
});

test('an unreadable partition header does not stop the session from being saved', async () => {
  const store = newStore({ tokenCache: newTokenCache() });
  await redis.set(store.partitionKey('s1'), 'garbage', 'EX', 100);
  await store.set('s1', { cookie: cookie(900) });
  expect(await redis.ttl(store.sessionKey('s1'))).toBeGreaterThan(890);
  expect(await redis.ttl(store.partitionKey('s1'))).toBeGreaterThan(890);
});

test('a session whose cookie already expired is deleted, not stored', async () => {
  const store = newStore({ tokenCache: newTokenCache() });
  await store.set('s1', { cookie: cookie(60) });
  await store.set('s1', { cookie: cookie(-5) });
  expect(await redis.exists(store.sessionKey('s1'))).toBe(0);
  // Destroyed as by destroy(): its partition (none yet) is a tombstone, so no sign-in still in flight can create it.
  expect(await isTombstone(redis, store.partitionKey('s1'))).toBe(true);
});

test('destroy deletes the session and tombstones its token partition', async () => {
  const tokenCache = newTokenCache();
  const store = newStore({ tokenCache });
  await store.set('s1', { cookie: cookie(60) });
  expect(await tokenCache.importPartition({ sessionId: 's1' }, userCache())).toBe('stored');
  expect(await tokenCache.importPartition({ sessionId: 's2' }, userCache())).toBe('stored');
  const otherSession = await redis.getBuffer(store.partitionKey('s2'));
  await redis.set(store.partitionKey('s3'), 'x'); // a foreign value is removed too

  await new Promise((resolve, reject) => store.destroy('s1', (err) => (err ? reject(err) : resolve())));
  await store.destroy('s3');

  expect(await redis.exists(store.sessionKey('s1'))).toBe(0);
  for (const sid of ['s1', 's3']) {
    expect([sid, await isTombstone(redis, store.partitionKey(sid))]).toEqual([sid, true]);
    const ttl = await redis.ttl(store.partitionKey(sid));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(TOMBSTONE_SECONDS);
  }
  expect(await tokenCache.exportPartition({ sessionId: 's1' })).toBeNull();
  expect(await redis.getBuffer(store.partitionKey('s2'))).toEqual(otherSession);
  expect(await tokenCache.exportPartition({ sessionId: 's2' })).not.toBeNull();
});

test('all, length and clear see only this prefix, even with glob characters in it', async () => {
  const tokenCache = newTokenCache();
  const store = newStore({ prefix: `${prefix}s*[x]:`, tokenCache });
  const neighbour = newStore({ prefix: `${prefix}s-other:` });
  await store.set('a', { cookie: cookie(60), n: 1 });
  await store.set('b', { cookie: cookie(60), n: 2 });
  await neighbour.set('c', { cookie: cookie(60) });
  expect(await tokenCache.importPartition({ sessionId: 'a' }, userCache())).toBe('stored');

  expect(await store.length()).toBe(2);
  const all = await store.all();
  expect(all.map((s) => [s.id, s.n]).sort()).toEqual([['a', 1], ['b', 2]]);

  await store.clear();
  expect(await store.length()).toBe(0);
  expect(await isTombstone(redis, store.partitionKey('a'))).toBe(true);
  expect(await tokenCache.exportPartition({ sessionId: 'a' })).toBeNull();
  expect(await neighbour.length()).toBe(1);
  expect(await neighbour.get('c')).toEqual({ cookie: cookie(60) });
});

test('Redis errors reach express-session as errors', async () => {
  const down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  const store = new RedisSessionStore({ redis: down, logger, ...testSecrets() });
  const [err] = await new Promise((resolve) => store.get('s1', (...args) => resolve(args)));
  expect(err).toBeInstanceOf(CacheStoreError);
  await expect(store.set('s1', { cookie: cookie(60) })).rejects.toThrow(CacheStoreError);
  expect(warnings).toEqual([expect.stringMatching(/^msal-redis-cache: Redis GET failed/)]);
  down.disconnect();
});

test('options are checked', () => {
  expect(() => new RedisSessionStore({})).toThrow(ConfigurationError);
  expect(() => newStore({ ttlSeconds: 0 })).toThrow(/ttlSeconds/);
  expect(() => newStore({ tokenCache: {} })).toThrow(/RedisTokenCache/);
  // Sessions are encrypted: keys (or the token cache's), or an explicit choice of plaintext.
  expect(() => new RedisSessionStore({ redis })).toThrow(ConfigurationError);
  expect(() => new RedisSessionStore({ redis })).toThrow(/encryptionKeys is required/);
  const { encryptionKeys } = testSecrets();
  expect(() => new RedisSessionStore({ redis, encryptionKeys })).toThrow(/keyNameSecret is required/);
  expect(() => new RedisSessionStore({ redis, encryptionKeys: ['too short'], keyNameSecret: TEST_KEY_NAME_SECRET })).toThrow(/32 random bytes/);
  expect(() => new RedisSessionStore({ redis, ...testSecrets(), insecurePlaintextStorage: true })).toThrow(/choose one/);
  expect(() => new RedisSessionStore({ redis, logger, insecurePlaintextStorage: true })).not.toThrow();
  expect(() => new RedisSessionStore({ redis, ...testSecrets() })).not.toThrow();
  expect(() => new RedisSessionStore({ redis, tokenCache: newTokenCache() })).not.toThrow();
});

describe('maxValueBytes', () => {
  const big = (bytes) => ({ cookie: cookie(60), note: 'x'.repeat(bytes) });

  test('a stored session over it is no session, with a warning, and is not transferred', async () => {
    const store = newStore({ maxValueBytes: 4096 });
    await store.set('small', big(1000));
    // Stored by a store with a larger limit (or another app): 8 KiB at the key.
    await newStore().set('large', big(8000));
    const getBuffer = jest.spyOn(store.driver, 'getBuffer'); // the driver: whichever client is under it
    try {
      expect(await store.get('large')).toBeNull();
      expect(await store.get('small')).toEqual(big(1000));
      expect(getBuffer).not.toHaveBeenCalled(); // read no further than maxValueBytes + 1 bytes (GETRANGE), never fetched whole
    } finally {
      getBuffer.mockRestore();
    }
    expect(warnings).toEqual([expect.stringMatching(/^msal-redis-cache: ignoring unreadable session "[^"]+" \(treated as no session\): value is \d+ bytes, over maxValueBytes$/)]);
    expect(warnings[0]).toContain(store.sessionKey('large'));
    expect(warnings[0]).not.toContain('large"');
    expect((await store.all()).map(({ id }) => id)).toEqual(['small']); // all() skips it too
  });

  test('a session over it is not stored: CacheFormatError, through the callback too, and the stored one is kept', async () => {
    const store = newStore({ maxValueBytes: 4096 });
    await store.set('s1', big(100));
    await expect(store.set('s1', big(5000))).rejects.toThrow(CacheFormatError);
    await expect(store.set('s1', big(5000))).rejects.toThrow(/over maxValueBytes \(4096\); not stored/);
    const [err] = await new Promise((resolve) => store.set('s1', big(5000), (...args) => resolve(args)));
    expect(err).toBeInstanceOf(CacheFormatError);
    expect(err.message).not.toContain('s1');
    expect(await store.get('s1')).toEqual(big(100));
  });

  test("is the token cache's with tokenCache, else the store's option (default 16 MiB)", async () => {
    const store = newStore({ tokenCache: newTokenCache({ maxValueBytes: 4096 }) });
    await expect(store.set('s1', big(5000))).rejects.toThrow(/over maxValueBytes \(4096\)/);
    expect(() => newStore({ tokenCache: newTokenCache(), maxValueBytes: 4096 })).toThrow(ConfigurationError);
    expect(() => newStore({ tokenCache: newTokenCache(), maxValueBytes: 4096 })).toThrow(/tokenCache's maxValueBytes/);
    for (const bad of [0, -1, 1.5, '4096', null]) expect(() => newStore({ maxValueBytes: bad })).toThrow(/maxValueBytes/);
    const unlimited = newStore();
    await unlimited.set('s2', big(100000));
    expect(await unlimited.get('s2')).toEqual(big(100000));
    await expect(unlimited.set('s3', big(16 * 1024 * 1024))).rejects.toThrow(/over maxValueBytes \(16777216\)/);
  });
});

test('a session prefix whose keys could be token-cache keys is refused at construction', () => {
  const tokenCache = newTokenCache(); // prefix `${prefix}msal:`
  const storeWith = (storePrefix) => new RedisSessionStore({ redis, tokenCache, prefix: storePrefix });
  // `<p>session:{<h>}` is the session's own partition key; the other kinds and the indexes share the namespace.
  for (const colliding of ['msal:session:', 'msal:session:x', 'msal:account:', 'msal:app:', 'msal:obo:', 'msal:index:', 'msal:index:user:']) {
    expect(() => storeWith(prefix + colliding)).toThrow(ConfigurationError);
    expect(() => storeWith(prefix + colliding)).toThrow(/token cache/);
  }
  // "{" and "%" are percent-encoded in session keys: no encoding makes or breaks a collision.
  expect(() => storeWith(`${prefix}msal:session:{x`)).toThrow(ConfigurationError);
  // Keys that no token-cache key can equal: the token cache's own prefix ("<p>{<h>}"), a prefix beside it.
  for (const distinct of ['msal:', 'msal:sess:', 'msal:sessions', 'msal:session', 'msal:Session:', 'sess:', 'msal']) {
    expect(() => storeWith(prefix + distinct)).not.toThrow();
  }
  const sessionKey = storeWith(`${prefix}msal:`).sessionKey('abc');
  expect(sessionKey).not.toBe(storeWith(`${prefix}msal:`).partitionKey('abc'));
});

describe('with express-session', () => {
  function app(store) {
    const server = express();
    server.use(session({ store, secret: 'test secret', resave: false, saveUninitialized: false, rolling: true, cookie: { maxAge: 600000 } }));
    server.get('/count', (req, res) => {
      req.session.count = (req.session.count || 0) + 1;
      res.json({ count: req.session.count, id: req.session.id });
    });
    server.get('/peek', (req, res) => res.json({ count: req.session.count ?? null }));
    return server;
  }

  test('keeps a session across requests and touches it when unchanged', async () => {
    const store = newStore({ tokenCache: newTokenCache() });
    const agent = request.agent(app(store));
    await agent.get('/count').expect(200, /"count":1/);
    const { body } = await agent.get('/count').expect(200);
    expect(body.count).toBe(2);
    await redis.expire(store.sessionKey(body.id), 30);
    await agent.get('/peek').expect(200, { count: 2 }); // unchanged: touch, not set
    expect(await redis.ttl(store.sessionKey(body.id))).toBeGreaterThan(590);
  });

  test('a corrupt stored session starts a fresh one instead of failing the request', async () => {
    const store = newStore();
    const agent = request.agent(app(store));
    const { body } = await agent.get('/count').expect(200);
    const key = store.sessionKey(body.id);
    const value = await redis.getBuffer(key);
    await redis.set(key, flip(value, value.length - 20));
    const again = await agent.get('/count').expect(200);
    expect(again.body.count).toBe(1);
    expect(again.body.id).not.toBe(body.id);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ignoring unreadable session .*does not decrypt/);
  });
});

describe('values of another Redis type', () => {
  test('a hash at a session key is no session (a warning), never an error', async () => {
    const warned = [];
    const store = new RedisSessionStore({ redis, prefix: 'wrongtype-a:sess:', logger: { warn: (m) => warned.push(m) }, ...testSecrets() });
    await redis.hset(store.sessionKey('s1'), 'cookie', '{}');
    await expect(store.get('s1')).resolves.toBeNull();
    expect(warned).toEqual([expect.stringMatching(/holds a Redis hash, not a string/)]);
    await store.set('s1', { cookie: { path: '/' } }); // a save replaces it
    expect(await store.get('s1')).toMatchObject({ cookie: { path: '/' } });
  });

  test('a hash at the partition key does not stop a save', async () => {
    const tokenCache = new RedisTokenCache({ redis, prefix: 'wrongtype-b:msal:', logger: { warn() {} }, ...testSecrets() });
    const store = new RedisSessionStore({ redis, prefix: 'wrongtype-b:sess:', tokenCache });
    await redis.hset(store.partitionKey('s1'), 'x', 'y');
    await expect(store.set('s1', { cookie: { path: '/' } })).resolves.toBeUndefined();
  });
});

test('with Redis unreachable every method fails with a CacheStoreError, promptly, and calls its callback', async () => {
  const down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  const store = new RedisSessionStore({ redis: down, logger: { warn() {} }, ...testSecrets() });
  const started = Date.now();
  try {
    for (const call of [(cb) => store.get('s', cb), (cb) => store.set('s', { cookie: {} }, cb), (cb) => store.destroy('s', cb), (cb) => store.length(cb)]) {
      const viaCallback = new Promise((resolve) => call((err) => resolve(err)));
      expect(await viaCallback).toBeInstanceOf(CacheStoreError);
    }
    expect(Date.now() - started).toBeLessThan(1000);
  } finally {
    down.disconnect();
  }
});
