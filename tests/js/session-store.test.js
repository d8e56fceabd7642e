'use strict';
// RedisSessionStore against the real redis-server of the Jest run: keys, TTLs shared with the token-cache
// partition, destroy, corrupt values, and express-session driving it.

const express = require('express');
const session = require('express-session');
const request = require('supertest');
const Redis = require('ioredis');
const { RedisSessionStore } = require('../../js/session-store');
const { ConfigurationError } = require('../../js/errors');
const { encodeEnvelope } = require('../../js/envelope');

const DAY = 86400;
let redis;
let prefix;
let warnings;
let now;

// The store reads only the token cache's settings (key prefix, absolute lifetime, clock); this stand-in keeps the
// test independent of the WebAssembly core. The example's tests use a real RedisTokenCache.
const tokenCacheStub = (settings = {}) => ({
  settings: { prefix: `${prefix}msal:`, absoluteSeconds: 14 * DAY, clock: () => now, ...settings },
});

function newStore(options = {}) {
  return new RedisSessionStore({
    redis, prefix: `${prefix}sess:`, logger: { warn: (m) => warnings.push(m) }, clock: () => now, ...options,
  });
}

const cookie = (maxAgeSeconds) => ({
  originalMaxAge: maxAgeSeconds * 1000, expires: new Date(now + maxAgeSeconds * 1000).toISOString(), httpOnly: true, path: '/',
});

beforeAll(() => {
  redis = new Redis(process.env.TEST_REDIS_URL);
});
afterAll(() => redis.quit());
beforeEach(() => {
  prefix = `store:${expect.getState().currentTestName.replace(/\W+/g, '-')}:`;
  warnings = [];
  now = Date.now();
});

test('keys a session as <prefix>{sid} and its partition as <token prefix>session:{sid}: one hash slot', async () => {
  const store = newStore({ tokenCache: tokenCacheStub() });
  expect(store.sessionKey('abc')).toBe(`${prefix}sess:{abc}`);
  expect(store.partitionKey('abc')).toBe(`${prefix}msal:session:{abc}`);
  expect(newStore().partitionKey('abc')).toBeNull();
  // Redis Cluster hashes only the part between the first "{" and the next "}" when it is not empty.
  const hashTag = (key) => /\{([^}]+)\}/.exec(key)[1];
  expect(hashTag(store.sessionKey('abc'))).toBe('abc');
  expect(hashTag(store.partitionKey('abc'))).toBe('abc');
});

test('set then get round-trips the session with the cookie maxAge as TTL', async () => {
  const store = newStore();
  const data = { cookie: cookie(3600), user: { name: 'Alice' } };
  await store.set('s1', data);
  expect(await store.get('s1')).toEqual(data);
  const ttl = await redis.ttl(`${prefix}sess:{s1}`);
  expect(ttl).toBeGreaterThan(3590);
  expect(ttl).toBeLessThanOrEqual(3600);
});

test('a session without cookie expiry lives ttlSeconds', async () => {
  await newStore({ ttlSeconds: 120 }).set('s1', { cookie: { path: '/' } });
  expect(await redis.ttl(`${prefix}sess:{s1}`)).toBe(120);
  await newStore().set('s2', { cookie: { path: '/' } });
  expect(await redis.ttl(`${prefix}sess:{s2}`)).toBe(DAY);
});

test('callbacks get express-session\'s arguments: (null, null) for a missing session', async () => {
  const store = newStore();
  const result = await new Promise((resolve) => store.get('missing', (...args) => resolve(args)));
  expect(result).toEqual([null, null]);
  const saved = await new Promise((resolve) => store.set('s1', { cookie: cookie(60) }, (...args) => resolve(args)));
  expect(saved).toEqual([null, undefined]);
});

test('a corrupt session value is no session, with a warning, never an error', async () => {
  const store = newStore();
  const values = ['{not json', 'null', '42', '"text"', '{"user":"no cookie"}', '{"cookie":"not an object"}'];
  for (const [i, value] of values.entries()) {
    await redis.set(`${prefix}sess:{bad${i}}`, value);
    const args = await new Promise((resolve) => store.get(`bad${i}`, (...a) => resolve(a)));
    expect(args).toEqual([null, null]);
  }
  expect(warnings).toHaveLength(values.length);
  expect(warnings[0]).toMatch(/ignoring unreadable session ".*\{bad0\}" \(treated as no session\)/);
});

test('touch extends the session and its token partition to the same TTL', async () => {
  const store = newStore({ tokenCache: tokenCacheStub() });
  await store.set('s1', { cookie: cookie(60) });
  await redis.set(`${prefix}msal:session:{s1}`, encodeEnvelope(`${prefix}msal:session:{s1}`, { createdAt: Math.floor(now / 1000), owner: null }, Buffer.from('{}')), 'EX', 30);

  await store.touch('s1', { cookie: cookie(7200) });

  const [sessionTtl, partitionTtl] = await Promise.all([redis.ttl(`${prefix}sess:{s1}`), redis.ttl(`${prefix}msal:session:{s1}`)]);
  expect(sessionTtl).toBeGreaterThan(7190);
  expect(partitionTtl).toBe(sessionTtl);
});

test('touch never creates a partition for a session that has none', async () => {
  const store = newStore({ tokenCache: tokenCacheStub() });
  await store.set('s1', { cookie: cookie(60) });
  await store.touch('s1', { cookie: cookie(600) });
  expect(await redis.exists(`${prefix}msal:session:{s1}`)).toBe(0);
  expect(await redis.ttl(`${prefix}sess:{s1}`)).toBeGreaterThan(590);
});

test('saving a session also aligns its partition TTL', async () => {
  const store = newStore({ tokenCache: tokenCacheStub() });
  await redis.set(`${prefix}msal:session:{s1}`, encodeEnvelope(`${prefix}msal:session:{s1}`, { createdAt: Math.floor(now / 1000), owner: null }, Buffer.from('{}')), 'EX', DAY);
  await store.set('s1', { cookie: cookie(1800) });
  expect(await redis.ttl(`${prefix}msal:session:{s1}`)).toBe(await redis.ttl(`${prefix}sess:{s1}`));
});

test('neither outlives the partition\'s absolute lifetime', async () => {
  const store = newStore({ tokenCache: tokenCacheStub({ absoluteSeconds: 1000 }) });
  const createdAt = Math.floor(now / 1000) - 400; // 600 s of its absolute lifetime left
  await redis.set(`${prefix}msal:session:{s1}`, encodeEnvelope(`${prefix}msal:session:{s1}`, { createdAt: createdAt, owner: null }, Buffer.from('{}')), 'EX', 100);
  await store.set('s1', { cookie: cookie(DAY) });
  for (const key of [`${prefix}sess:{s1}`, `${prefix}msal:session:{s1}`]) {
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  }

  // Past it, the session is over.
  await redis.set(`${prefix}msal:session:{s2}`, encodeEnvelope(`${prefix}msal:session:{s2}`, { createdAt: createdAt - 1000, owner: null }, Buffer.from('{}')), 'EX', 100);
  await store.set('s2', { cookie: cookie(DAY) });
  expect(await redis.exists(`${prefix}sess:{s2}`, `${prefix}msal:session:{s2}`)).toBe(0);
});

test('an unreadable partition header does not stop the session from being saved', async () => {
  const store = newStore({ tokenCache: tokenCacheStub() });
  await redis.set(`${prefix}msal:session:{s1}`, 'garbage', 'EX', 100);
  await store.set('s1', { cookie: cookie(900) });
  expect(await redis.ttl(`${prefix}sess:{s1}`)).toBeGreaterThan(890);
  expect(await redis.ttl(`${prefix}msal:session:{s1}`)).toBeGreaterThan(890);
});

test('a session whose cookie already expired is deleted, not stored', async () => {
  const store = newStore({ tokenCache: tokenCacheStub() });
  await store.set('s1', { cookie: cookie(60) });
  await store.set('s1', { cookie: cookie(-5) });
  expect(await redis.exists(`${prefix}sess:{s1}`)).toBe(0);
});

test('destroy deletes the session and its token partition', async () => {
  const store = newStore({ tokenCache: tokenCacheStub() });
  await store.set('s1', { cookie: cookie(60) });
  await redis.set(`${prefix}msal:session:{s1}`, 'x');
  await redis.set(`${prefix}msal:session:{s2}`, 'other session');
  await new Promise((resolve, reject) => store.destroy('s1', (err) => (err ? reject(err) : resolve())));
  expect(await redis.exists(`${prefix}sess:{s1}`, `${prefix}msal:session:{s1}`)).toBe(0);
  expect(await redis.get(`${prefix}msal:session:{s2}`)).toBe('other session');
});

test('all, length and clear see only this prefix, even with glob characters in it', async () => {
  const store = newStore({ prefix: `${prefix}s*[x]:`, tokenCache: tokenCacheStub() });
  const neighbour = newStore({ prefix: `${prefix}s-other:` });
  await store.set('a', { cookie: cookie(60), n: 1 });
  await store.set('b', { cookie: cookie(60), n: 2 });
  await neighbour.set('c', { cookie: cookie(60) });
  await redis.set(`${prefix}msal:session:{a}`, 'x');

  expect(await store.length()).toBe(2);
  const all = await store.all();
  expect(all.map((s) => [s.id, s.n]).sort()).toEqual([['a', 1], ['b', 2]]);

  await store.clear();
  expect(await store.length()).toBe(0);
  expect(await redis.exists(`${prefix}msal:session:{a}`)).toBe(0);
  expect(await neighbour.length()).toBe(1);
});

test('Redis errors reach express-session as errors', async () => {
  const down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  const store = new RedisSessionStore({ redis: down });
  const [err] = await new Promise((resolve) => store.get('s1', (...args) => resolve(args)));
  expect(err).toBeInstanceOf(Error);
  await expect(store.set('s1', { cookie: cookie(60) })).rejects.toThrow();
  down.disconnect();
});

test('options are checked', () => {
  expect(() => new RedisSessionStore({})).toThrow(ConfigurationError);
  expect(() => newStore({ ttlSeconds: 0 })).toThrow(/ttlSeconds/);
  expect(() => newStore({ tokenCache: {} })).toThrow(/RedisTokenCache/);
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
    const store = newStore({ tokenCache: tokenCacheStub() });
    const agent = request.agent(app(store));
    await agent.get('/count').expect(200, /"count":1/);
    const { body } = await agent.get('/count').expect(200);
    expect(body.count).toBe(2);
    await redis.expire(`${prefix}sess:{${body.id}}`, 30);
    await agent.get('/peek').expect(200, { count: 2 }); // unchanged: touch, not set
    expect(await redis.ttl(`${prefix}sess:{${body.id}}`)).toBeGreaterThan(590);
  });

  test('a corrupt stored session starts a fresh one instead of failing the request', async () => {
    const store = newStore();
    const agent = request.agent(app(store));
    const { body } = await agent.get('/count').expect(200);
    await redis.set(`${prefix}sess:{${body.id}}`, '{"cookie":');
    const again = await agent.get('/count').expect(200);
    expect(again.body.count).toBe(1);
    expect(again.body.id).not.toBe(body.id);
    expect(warnings).toHaveLength(1);
  });
});
