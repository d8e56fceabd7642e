'use strict';
// RedisSessionStore as connect-redis users expect it, against the real redis-server of the Jest run: connect-redis's
// options (ttl as seconds or a function, disableTouch, disableTTL, serializer, scanCount, prefix, client) with
// connect-redis's meaning, ids(), a callback always called once (never a synchronous throw), every Redis failure a
// CacheStoreError, the options checked up front, and the import of connect-redis's sessions.

const crypto = require('node:crypto');
const express = require('express');
const session = require('express-session');
const request = require('supertest');
const Redis = require('../../support/ioredis');
const { newRedis, monitorAll, onEveryMaster, existing, client } = require('../../support/redis-client');
const { RedisSessionStore } = require('../../../js/session/session-store');
const { RedisTokenCache } = require('../../../js/redis-token-cache');
const { ConfigurationError, CacheStoreError } = require('../../../js/errors');
const { testSecrets } = require('../../support/test-secrets');
const { storedValue, isTombstone, testKeyring } = require('../../support/stored');
const { typicalUserCache } = require('../../support/cache-fixtures');

const DAY = 86400;
let redis;
let prefix;
let warnings;
let now;
const logger = { warn: (m) => warnings.push(m) };

// No in-process cache: it would hold a connection of its own open after the tests.
const newTokenCache = (options = {}) =>
  new RedisTokenCache({ redis, prefix: `${prefix}msal:`, logger, localCache: false, ...testSecrets(), ...options });

function newStore(options = {}) {
  const secrets = options.tokenCache ? {} : testSecrets();
  return new RedisSessionStore({ redis, prefix: `${prefix}sess:`, logger, ...secrets, ...options });
}

// Cookies from the test's start time, so that two made in one test are equal.
const cookie = (maxAgeSeconds) => ({
  originalMaxAge: maxAgeSeconds * 1000, expires: new Date(now + maxAgeSeconds * 1000).toISOString(), httpOnly: true, path: '/',
});
const noExpiry = () => ({ originalMaxAge: null, expires: null, httpOnly: true, path: '/' });

/**
 * Calls `method(...args, callback)` and resolves what the callback got, after checking that the method did not
 * throw, that the callback ran exactly once, and that the returned promise settled the same way.
 */
async function viaCallback(store, method, ...args) {
  const calls = [];
  let returned;
  expect(() => {
    returned = store[method](...args, (...got) => calls.push(got));
  }).not.toThrow();
  const settled = await returned.then((value) => ({ value }), (error) => ({ error }));
  await new Promise((resolve) => setTimeout(resolve, 5)); // the callback runs on its own tick
  expect(calls).toHaveLength(1);
  const [err, value] = calls[0];
  expect(settled).toEqual(err ? { error: err } : { value });
  return { err, value };
}

beforeAll(() => {
  redis = newRedis();
});
afterAll(() => redis.quit());
beforeEach(() => {
  prefix = `cr:${expect.getState().currentTestName.replace(/\W+/g, '-')}:`;
  warnings = [];
  now = Date.now();
});

describe('ttl', () => {
  test('a number is the lifetime of a session whose cookie has no expiry; a cookie expiry wins (connect-redis)', async () => {
    const store = newStore({ ttl: 120 });
    await store.set('no-expiry', { cookie: noExpiry() });
    expect(await redis.ttl(store.sessionKey('no-expiry'))).toBe(120);
    await store.set('expires', { cookie: cookie(3600) });
    expect(await redis.ttl(store.sessionKey('expires'))).toBeGreaterThan(3590);
    // The default, as connect-redis's: one day.
    await newStore().set('default', { cookie: noExpiry() });
    expect(await redis.ttl(store.sessionKey('default'))).toBe(DAY);
  });

  test('a function of the session decides alone, on set and on touch, for the session and its partition', async () => {
    const seen = [];
    const ttl = (sess) => {
      seen.push(sess);
      return sess.user === 'admin' ? 300 : 7200.2; // fractions round up
    };
    const tokenCache = newTokenCache();
    const store = newStore({ ttl, tokenCache });
    const admin = { cookie: cookie(DAY), user: 'admin' };
    await store.set('a', admin);
    expect(seen).toEqual([admin]);
    expect(await redis.ttl(store.sessionKey('a'))).toBe(300); // not the cookie's day
    await tokenCache.importPartition({ sessionId: 'b' }, JSON.stringify(typicalUserCache({ now: Math.floor(Date.now() / 1000) }).cache));
    await store.touch('b', { cookie: cookie(60), user: 'bob' }); // no session stored: touch extends the partition only
    await store.set('b', { cookie: cookie(60), user: 'bob' });
    expect(await redis.ttl(store.sessionKey('b'))).toBe(7201);
    await store.touch('a', { ...admin, user: 'bob' });
    expect(await redis.ttl(store.sessionKey('a'))).toBe(7201);
    expect(await redis.ttl(store.partitionKey('b'))).toBe(7201);
  });

  test('a function returning 0 or less destroys the session, as connect-redis; one returning no number is an error', async () => {
    const tokenCache = newTokenCache();
    let next = 600;
    const store = newStore({ ttl: () => next, tokenCache });
    await store.set('s', { cookie: noExpiry() });
    next = 0;
    await store.touch('s', { cookie: noExpiry() });
    expect(await redis.exists(store.sessionKey('s'))).toBe(0);
    expect(await isTombstone(redis, store.partitionKey('s'))).toBe(true);

    for (const bad of [undefined, '600', NaN, Infinity]) {
      next = bad;
      const { err } = await viaCallback(store, 'set', 't', { cookie: noExpiry() });
      expect(err).toBeInstanceOf(ConfigurationError);
      expect(err.message).toMatch(/ttl\(session\) must return a number of seconds/);
    }
    expect(await redis.exists(store.sessionKey('t'))).toBe(0);
  });
});

test('disableTouch: touch changes no TTL, set still does', async () => {
  const tokenCache = newTokenCache();
  const store = newStore({ disableTouch: true, tokenCache });
  await store.set('s', { cookie: cookie(600) });
  expect(await redis.ttl(store.sessionKey('s'))).toBeGreaterThan(590);
  await redis.set(store.partitionKey('s'), 'x', 'EX', 40);
  await redis.expire(store.sessionKey('s'), 30);
  expect(await viaCallback(store, 'touch', 's', { cookie: cookie(7200) })).toEqual({ err: null, value: undefined });
  expect(await redis.ttl(store.sessionKey('s'))).toBeLessThanOrEqual(30);
  expect(await redis.ttl(store.partitionKey('s'))).toBeLessThanOrEqual(40);
  await store.set('s', { cookie: cookie(7200) });
  expect(await redis.ttl(store.sessionKey('s'))).toBeGreaterThan(7190);
});

test('disableTTL: sessions never expire in Redis and touch does nothing; refused with a tokenCache, saying why', async () => {
  const store = newStore({ disableTTL: true });
  await store.set('s', { cookie: cookie(600) });
  expect(await redis.ttl(store.sessionKey('s'))).toBe(-1);
  await store.touch('s', { cookie: cookie(600) });
  expect(await redis.ttl(store.sessionKey('s'))).toBe(-1);
  expect(await store.get('s')).toEqual({ cookie: cookie(600) });
  // A cookie already expired still ends the session (connect-redis computes the TTL first, then destroys).
  await store.set('s', { cookie: cookie(-5) });
  expect(await redis.exists(store.sessionKey('s'))).toBe(0);

  const withTokenCache = () => newStore({ disableTTL: true, tokenCache: newTokenCache() });
  expect(withTokenCache).toThrow(ConfigurationError);
  expect(withTokenCache).toThrow(/disableTTL cannot be combined with tokenCache: a session's tokens expire/);
});

describe('serializer', () => {
  // A serializer whose text is no JSON, so that the test sees which one was used.
  const tagged = {
    stringify: (sess) => `v1|${Buffer.from(JSON.stringify(sess)).toString('base64')}`,
    parse: async (text) => {
      if (!text.startsWith('v1|')) throw new Error('not v1');
      return JSON.parse(Buffer.from(text.slice(3), 'base64').toString());
    },
  };

  test('its text is what gets encrypted, and its parse (sync or async) reads it back, in get and all', async () => {
    const store = newStore({ serializer: tagged });
    const data = { cookie: cookie(600), user: { name: 'Alice' } };
    await store.set('s', data);
    const opened = await storedValue(redis, store.sessionKey('s'));
    expect(opened.body.toString()).toBe(tagged.stringify(data));
    expect((await redis.getBuffer(store.sessionKey('s'))).includes('v1|')).toBe(false); // encrypted
    expect(await store.get('s')).toEqual(data);
    expect(await store.all()).toEqual([{ ...data, id: 's' }]);
    // A store with the default JSON serializer cannot read it: no session, a warning without the session's text.
    expect(await newStore().get('s')).toBeNull();
    expect(warnings).toEqual([expect.stringMatching(/JSON\.parse failed \(SyntaxError\)$/)]);
  });

  test('a value its parse refuses is no session, with a warning that quotes nothing of it', async () => {
    const store = newStore({ serializer: { stringify: JSON.stringify, parse: () => { throw new TypeError('secret-ish detail'); } } });
    await store.set('s', { cookie: cookie(60), token: 'SECRET' });
    expect(await viaCallback(store, 'get', 's')).toEqual({ err: null, value: null });
    expect(warnings).toEqual([expect.stringMatching(/serializer\.parse failed \(TypeError\)$/)]);
    expect(warnings[0]).not.toMatch(/SECRET|secret-ish/);
  });

  test('a session it cannot serialize fails the call (its callback, once), and nothing is written', async () => {
    const store = newStore({ tokenCache: newTokenCache() });
    await store.set('s', { cookie: cookie(60), n: 1 });
    const circular = { cookie: cookie(60) };
    circular.self = circular;
    const { err } = await viaCallback(store, 'set', 's', circular);
    expect(err).toBeInstanceOf(TypeError);
    expect(await store.get('s')).toEqual({ cookie: cookie(60), n: 1 });
    expect(await redis.exists(store.partitionKey('s'))).toBe(0);

    const badText = newStore({ serializer: { parse: JSON.parse, stringify: () => Buffer.from('{}') } });
    const bad = await viaCallback(badText, 'set', 'b', { cookie: cookie(60) });
    expect(bad.err).toBeInstanceOf(ConfigurationError);
    expect(bad.err.message).toMatch(/serializer\.stringify must return a string \(it returned object\)/);
  });
});

test('scanCount is SCAN\'s COUNT in all, ids, length and clear (100 by default)', async () => {
  const monitor = await monitorAll(redis); // every master of a Cluster
  const counts = [];
  monitor.on('monitor', (time, args) => {
    // SCAN <cursor> MATCH <pattern> COUNT <count>
    if (String(args[0]).toLowerCase() === 'scan' && String(args[3]).startsWith(prefix)) counts.push(args[5]);
  });
  try {
    const store = newStore({ scanCount: 7 });
    for (let i = 0; i < 20; i++) await store.set(`s${i}`, { cookie: cookie(60) });
    expect(await store.length()).toBe(20);
    expect(await store.ids()).toHaveLength(20);
    expect(await store.all()).toHaveLength(20);
    await newStore().length();
    await store.clear();
    // MONITOR sees a node's commands in order: once PING's reply is in, every SCAN before it was seen.
    await onEveryMaster(redis, (node) => node.ping());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(counts.length).toBeGreaterThan(4);
    // The default store's length(): COUNT 100, in as many SCAN calls as the keyspace (other suites' keys) takes.
    const others = counts.filter((count) => count !== '7');
    expect(others.length).toBeGreaterThanOrEqual(1);
    expect(new Set(others)).toEqual(new Set(['100']));
  } finally {
    monitor.disconnect();
  }
});

test('ids() lists the id of every readable session, whatever its characters; all() has the same', async () => {
  const store = newStore();
  const ids = ['plain', 'with\nline break', 'üñíçødé 🙂', '{braces}', '}{', '', 'x'.repeat(500)];
  for (const [i, sid] of ids.entries()) await store.set(sid, { cookie: cookie(60), i });
  await redis.set(store.sessionKey('corrupt'), 'garbage');
  const { err, value } = await viaCallback(store, 'ids');
  expect(err).toBeNull();
  expect(value.sort()).toEqual([...ids].sort());
  expect((await store.all()).map((s) => [s.id, s.i]).sort()).toEqual(ids.map((sid, i) => [sid, i]).sort());
  for (const [i, sid] of ids.entries()) expect(await store.get(sid)).toEqual({ cookie: cookie(60), i });
  for (const sid of ids) expect(await viaCallback(store, 'destroy', sid)).toEqual({ err: null, value: undefined });
  expect(await store.ids()).toEqual([]);
  expect(await store.length()).toBe(1); // the corrupt value: a key, not a session
});

test('a session id that is no string (or ill-formed Unicode) is an error through the callback, never a throw', async () => {
  const store = newStore();
  for (const sid of [42, undefined, null, { id: 'x' }, 'lone \uD800 surrogate']) {
    for (const [method, ...args] of [['get'], ['set', { cookie: cookie(60) }], ['touch', { cookie: cookie(60) }], ['destroy']]) {
      const { err } = await viaCallback(store, method, sid, ...args);
      expect([method, sid, err]).toEqual([method, sid, expect.any(ConfigurationError)]);
      expect(err.message).toMatch(/a session id must be a string of well-formed Unicode/);
    }
  }
  expect(await store.length()).toBe(0);
});

// ioredis only: node-redis's keyPrefix is refused (js/redis/driver.js: raw commands would not get it).
const ioredisOnly = client === 'ioredis' ? test : test.skip;
ioredisOnly('a client with ioredis\'s keyPrefix: all, ids, length, clear and the import see the keys it names', async () => {
  const prefixed = newRedis({ keyPrefix: `${prefix}client:` });
  try {
    const store = new RedisSessionStore({ redis: prefixed, prefix: 'sess:', logger, ...testSecrets() });
    await store.set('a', { cookie: cookie(60) });
    await store.set('b', { cookie: cookie(60) });
    await prefixed.set('sess:c', JSON.stringify({ cookie: cookie(60) })); // connect-redis on the same client
    expect(await redis.exists(`${prefix}client:${store.sessionKey('a')}`)).toBe(1);
    expect(await store.length()).toBe(2);
    expect(await store.importConnectRedisSessions({ prefix: 'sess:' })).toEqual({ imported: 1, existing: 0, unreadable: 0 });
    expect((await store.ids()).sort()).toEqual(['a', 'b', 'c']);
    expect(await store.all()).toHaveLength(3);
    await store.clear();
    expect(await store.length()).toBe(0);
    expect(await redis.exists(`${prefix}client:${store.sessionKey('a')}`)).toBe(0);
  } finally {
    prefixed.disconnect();
  }
});

describe('prefix', () => {
  test('"{", "}" and "%" are percent-encoded in key names, so that the hash tag is always the session\'s', async () => {
    const tag = testKeyring.name('session', 'abc');
    const store = newStore({ prefix: `${prefix}a{b}%:` });
    expect(store.prefix).toBe(`${prefix}a{b}%:`);
    expect(store.sessionKey('abc')).toBe(`${prefix}a%7Bb%7D%25:{${tag}}`);
    // Two prefixes never share keys.
    expect(newStore({ prefix: `${prefix}a%7B` }).sessionKey('abc')).not.toBe(newStore({ prefix: `${prefix}a{` }).sessionKey('abc'));
    // Redis Cluster hashes what lies between the first "{" and the next "}".
    const hashTag = (key) => /\{([^}]*)\}/.exec(key)[1];
    for (const odd of ['{', '}', '{}', '}{', 'x{y}z', '{{']) {
      const oddStore = newStore({ prefix: `${prefix}${odd}`, tokenCache: newTokenCache() });
      expect([odd, hashTag(oddStore.sessionKey('abc'))]).toEqual([odd, tag]);
      expect([odd, hashTag(oddStore.partitionKey('abc'))]).toEqual([odd, tag]);
      await oddStore.set('abc', { cookie: cookie(60) });
      expect(await oddStore.get('abc')).toEqual({ cookie: cookie(60) });
      expect(await oddStore.ids()).toEqual(['abc']);
    }
  });

  test('a token cache prefix with "{" is refused: it would take the hash tag away from session partitions', () => {
    const make = () => newStore({ tokenCache: newTokenCache({ prefix: `${prefix}{app}msal:` }) });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(/tokenCache's prefix .* contains "\{": on a Redis Cluster/);
    expect(() => newStore({ tokenCache: newTokenCache({ prefix: `${prefix}app}msal:` }) })).not.toThrow();
  });
});

describe('Redis failures', () => {
  const everyMethod = (store) => [
    ['get', 's'], ['set', 's', { cookie: cookie(60) }], ['touch', 's', { cookie: cookie(60) }], ['destroy', 's'],
    ['all'], ['ids'], ['length'], ['clear'], ['importConnectRedisSessions'], // the callback alone
  ].map(([method, ...args]) => [method, () => viaCallback(store, method, ...args)]);

  test('Redis unreachable: every method calls back with a CacheStoreError', async () => {
    const down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    try {
      const store = new RedisSessionStore({ redis: down, logger, ...testSecrets() });
      for (const [method, call] of everyMethod(store)) {
        const { err } = await call();
        expect([method, err]).toEqual([method, expect.any(CacheStoreError)]);
      }
    } finally {
      // Refused and not retried, it has ended; disconnect() now would leave ioredis's stream timer running.
      if (down.status !== 'end') down.disconnect();
    }
  });

  test('Redis refusing (an ACL without these keys): every method calls back with a CacheStoreError', async () => {
    const username = `cr-noperm-${crypto.randomBytes(4).toString('hex')}`;
    const password = crypto.randomBytes(12).toString('hex');
    // ACL users are per node: on every master of a Cluster.
    await onEveryMaster(redis, (node) => node.acl('SETUSER', username, 'on', `>${password}`, '~elsewhere:*', '+@all'));
    const limited = newRedis({ username, password });
    try {
      const store = new RedisSessionStore({ redis: limited, prefix: `${prefix}sess:`, logger, ...testSecrets() });
      for (const [method, call] of everyMethod(store)) {
        if (['all', 'ids', 'length', 'clear', 'importConnectRedisSessions'].includes(method)) continue; // SCAN needs no key
        const { err } = await call();
        expect([method, err]).toEqual([method, expect.any(CacheStoreError)]);
        expect(err.message).toMatch(/NOPERM/);
        expect(err.cause.message).toMatch(/NOPERM/);
      }
    } finally {
      limited.disconnect();
      await onEveryMaster(redis, (node) => node.acl('DELUSER', username));
    }
  });
});

describe('options', () => {
  const nodeRedisLike = new (class Commander { // half like node-redis (no withTypeMapping): neither client
    constructor() {
      this.isOpen = false;
    }

    async *scanIterator() {}

    sendCommand() {}
  })();

  test.each([
    [{ ttl: 0 }, /ttl must be a positive integer \(seconds\) or a function/],
    [{ ttl: '1d' }, /ttl must be a positive integer/],
    [{ ttl: 60, ttlSeconds: 60 }, /pass one: ttl .* or ttlSeconds/],
    [{ ttlSeconds: -1 }, /ttlSeconds must be a positive integer/],
    [{ scanCount: 0 }, /scanCount must be a positive integer/],
    [{ disableTouch: 'yes' }, /disableTouch must be true or false/],
    [{ disableTTL: 1 }, /disableTTL must be true or false/],
    [{ serializer: { parse: JSON.parse } }, /serializer must have parse\(text\) and stringify\(session\)/],
    [{ prefix: null }, /prefix must be a string/],
    [{ prefix: 'a\uDC00' }, /prefix must be a string \(of well-formed Unicode\)/],
    [{ logger: { info() {} } }, /logger must have a warn\(message\) method/],
    [{ clock: 5 }, /clock must be a function/],
    [{ expiration: 60 }, /unknown option "expiration"; did you mean ttl\?/],
    [{ host: 'localhost' }, /unknown option "host"; did you mean redis: new Redis\(url\)\?/],
    [{ logErrors: true }, /unknown option "logErrors"; did you mean logger/],
    [{ SlidingSeconds: 60 }, /unknown option "SlidingSeconds"; did you mean tokenCache/],
    [{ ttlSecond: 60 }, /unknown option "ttlSecond"$/],
    [{ redis: undefined, client: nodeRedisLike }, /options\.client must be an ioredis client .* or a node-redis client .*; got Commander$/],
    [{ redis: nodeRedisLike }, /options\.redis must be an ioredis client .* or a node-redis client .*; got Commander$/],
    [{ redis: 'redis://localhost' }, /options\.redis must be an ioredis client .*got a string \(a URL\? pass a connected client: new Redis\(url\) or createClient\(\{ url \}\)\)/],
    [{ client: {} }, /pass the Redis client once/],
  ])('%p is refused up front, saying what to do', (options, message) => {
    const make = () => newStore(options);
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(message);
  });

  test('secrets given beside a tokenCache are refused (they would be ignored)', () => {
    const make = () => new RedisSessionStore({ redis, tokenCache: newTokenCache(), ...testSecrets() });
    expect(make).toThrow(/sessions are encrypted with the tokenCache's keys: remove encryptionKeys and keyNameSecret/);
  });

  test('connect-redis\'s names work: client for the ioredis client, ttl, prefix, scanCount, serializer, disableTouch', async () => {
    const store = new RedisSessionStore({
      client: redis, prefix: `${prefix}cr:`, ttl: 99, scanCount: 10, serializer: JSON, disableTouch: false, disableTTL: false,
      logger, ...testSecrets(),
    });
    await store.set('s', { cookie: noExpiry() });
    expect(await redis.ttl(store.sessionKey('s'))).toBe(99);
    expect(store.sessionKey('s').startsWith(`${prefix}cr:{`)).toBe(true);
  });
});

describe('importConnectRedisSessions', () => {
  /** What connect-redis stores: `<prefix><id>` = JSON, EX from the cookie. */
  const connectRedisSet = (key, sess, ttl = 600) => redis.set(key, JSON.stringify(sess), 'EX', ttl);

  test('saves each connect-redis session under its id, encrypted, once; leaves the rest alone', async () => {
    const store = newStore({ tokenCache: newTokenCache() });
    const old = `${prefix}sess:`; // the same prefix: the store's own keys are found by the SCAN and skipped
    await store.set('already-here', { cookie: cookie(60), mine: true });
    await connectRedisSet(`${old}already-here`, { cookie: cookie(60), mine: false });
    const sessions = {
      'uid-safe-id-1': { cookie: cookie(1800), user: 'alice' },
      'uid-safe-id-2': { cookie: noExpiry(), user: 'bob' },
      'ünïcode id': { cookie: cookie(60), n: 3 },
    };
    for (const [sid, sess] of Object.entries(sessions)) await connectRedisSet(`${old}${sid}`, sess);
    await redis.set(`${old}not-json`, '{oops', 'EX', 60);
    await redis.set(`${old}no-cookie`, '{"user":"x"}', 'EX', 60);
    await redis.hset(`${old}a-hash`, 'f', 'v');

    const result = await viaCallback(store, 'importConnectRedisSessions', { prefix: old });
    expect(result).toEqual({ err: null, value: { imported: 3, existing: 1, unreadable: 2 } });
    for (const [sid, sess] of Object.entries(sessions)) expect(await store.get(sid)).toEqual(sess);
    expect(await store.get('already-here')).toEqual({ cookie: cookie(60), mine: true });
    // TTLs as express-session's next save would give: from the cookie, else ttl.
    expect(await redis.ttl(store.sessionKey('uid-safe-id-1'))).toBeGreaterThan(1790);
    expect(await redis.ttl(store.sessionKey('uid-safe-id-2'))).toBe(DAY);
    expect((await store.ids()).sort()).toEqual(['already-here', ...Object.keys(sessions)].sort());
    // Kept until asked: a second run finds them all there.
    expect(await redis.exists(`${old}uid-safe-id-1`)).toBe(1);
    expect(await store.importConnectRedisSessions({ prefix: old, deleteImported: true })).toEqual({ imported: 0, existing: 4, unreadable: 2 });
    for (const sid of ['already-here', ...Object.keys(sessions)]) expect(await redis.exists(`${old}${sid}`)).toBe(0);
    expect(await existing(redis, `${old}not-json`, `${old}no-cookie`, `${old}a-hash`)).toBe(3);
    expect(warnings).toEqual([]);
  });

  test('with connect-redis\'s serializer; unknown options refused', async () => {
    const store = newStore();
    const serializer = { stringify: (s) => `~${JSON.stringify(s)}`, parse: (t) => JSON.parse(t.slice(1)) };
    await redis.set(`${prefix}old:x`, serializer.stringify({ cookie: cookie(60), n: 1 }), 'EX', 60);
    expect(await store.importConnectRedisSessions({ prefix: `${prefix}old:`, serializer })).toEqual({ imported: 1, existing: 0, unreadable: 0 });
    expect(await store.get('x')).toEqual({ cookie: cookie(60), n: 1 });
    const { err } = await viaCallback(store, 'importConnectRedisSessions', { prefx: 'sess:' });
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toMatch(/unknown option "prefx"/);
  });

  test('a browser signed in under connect-redis keeps its session: same secret, same cookie, same id', async () => {
    const secret = 'the app secret';
    const sid = 'IdFromConnectRedis_abcdefghijklmn';
    const expires = new Date(Date.now() + 600000);
    await connectRedisSet(`${prefix}old:${sid}`, {
      cookie: { originalMaxAge: 600000, expires: expires.toISOString(), httpOnly: true, path: '/' }, count: 41,
    });
    const store = newStore();
    await store.importConnectRedisSessions({ prefix: `${prefix}old:` });

    const app = express();
    app.use(session({ store, secret, resave: false, saveUninitialized: false, cookie: { maxAge: 600000 } }));
    app.get('/count', (req, res) => {
      req.session.count = (req.session.count || 0) + 1;
      res.json({ count: req.session.count, id: req.session.id });
    });
    // The cookie express-session signed for it (cookie-signature: HMAC-SHA-256, base64 without padding).
    const signed = `${sid}.${crypto.createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '')}`;
    const browserCookie = `connect.sid=${encodeURIComponent(`s:${signed}`)}`;
    const { body } = await request(app).get('/count').set('Cookie', browserCookie).expect(200);
    expect(body).toEqual({ count: 42, id: sid });
  });
});
