'use strict';
// The example when Redis is in trouble, and how it says so: GET /healthz (Redis reachable, the token cache's state),
// its own 503 page, and a header that never offers "Sign in" to someone it cannot tell is signed out.

const net = require('node:net');
const Redis = require('../../support/ioredis');
const { startExample, signIn, sessionCookie, signedCookie } = require('./helpers');
const { MemoryRedis } = require('../../../examples/express/memory-redis');

/** An ioredis client to a port where nothing listens: every command fails at once. */
const unreachableRedis = () => new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });

/** A server that accepts connections and never answers: a hung Redis. */
async function silentServer() {
  const sockets = new Set();
  const server = net.createServer((socket) => sockets.add(socket));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('/healthz', () => {
  test('200 with Redis reachable and the token cache\'s counters; no cookie, no user, no key names', async () => {
    const example = await startExample({ name: 'healthz' });
    try {
      const agent = example.agent();
      const { response } = await signIn(agent);
      await agent.get('/api/call').expect(200);
      const health = await agent.get('/healthz').expect(200).expect('Cache-Control', 'no-store');
      expect(health.body).toMatchObject({ status: 'ok', storage: 'redis', redis: { reachable: true } });
      expect(health.body.redis.latencyMs).toBeGreaterThanOrEqual(0);
      const { tokenCache } = health.body;
      expect(tokenCache.redis).toMatchObject({ breaker: 'closed' });
      expect(tokenCache.redis.calls).toBeGreaterThan(0);
      expect(tokenCache.localCache).toMatchObject({ coherent: expect.any(Boolean), entries: expect.any(Number), hits: expect.any(Number) });
      // Nothing about users, sessions or where Redis is.
      const text = JSON.stringify(health.body);
      for (const secret of ['alice', sessionCookie(response), example.prefixes.sessionPrefix, example.prefixes.tokenPrefix, '127.0.0.1', String(new URL(process.env.TEST_REDIS_URL).port)]) {
        expect(text).not.toContain(secret);
      }
      // A probe is not a visitor: no session, no cookie.
      const probe = await example.agent().get('/healthz').expect(200);
      expect(probe.headers['set-cookie']).toBeUndefined();
    } finally {
      await example.close();
    }
  });

  test('503 when Redis cannot be reached, and when it does not answer within half a second', async () => {
    const down = unreachableRedis();
    const broken = await startExample({ name: 'healthz-down', redis: down });
    const silent = await silentServer();
    const hung = new Redis({ port: silent.port, maxRetriesPerRequest: 1 });
    const hanging = await startExample({ name: 'healthz-hung', redis: hung, tokenCacheOptions: { localCache: false } });
    try {
      const response = await broken.agent().get('/healthz').expect(503);
      expect(response.body).toMatchObject({ status: 'unavailable', redis: { reachable: false, latencyMs: null } });
      expect(JSON.stringify(response.body)).not.toMatch(/ECONNREFUSED|:1\b/);

      const started = Date.now();
      await hanging.agent().get('/healthz').expect(503);
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await broken.close();
      await hanging.close();
      down.disconnect();
      hung.disconnect();
      await silent.close();
    }
  });

  test('the in-memory development store is healthy', async () => {
    const example = await startExample({ name: 'healthz-memory', redis: new MemoryRedis(), storage: 'memory' });
    try {
      const { body } = await example.agent().get('/healthz').expect(200);
      expect(body).toMatchObject({ status: 'ok', storage: 'memory', redis: { reachable: true }, tokenCache: { localCache: null } });
    } finally {
      await example.close();
    }
  });
});

describe('Redis down', () => {
  let down;
  let broken;
  beforeEach(async () => {
    down = unreachableRedis();
    broken = await startExample({ name: 'down', redis: down });
  });
  afterEach(async () => {
    await broken.close();
    down.disconnect();
  });

  test('a browser with a session gets the 503 page, told to retry, and a header that does not offer "Sign in"', async () => {
    for (const path of ['/', '/profile', '/cache', '/api/call']) {
      const response = await broken.agent().get(path).set('Cookie', `sid=${signedCookie('some-session')}`).expect(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.text).toContain('Token cache unavailable');
      expect(response.text).toContain('Session unavailable'); // the header's account area
      expect(response.text).not.toContain('Sign in');
      expect(response.text).not.toContain('Sign out'); // it would fail too
    }
  });

  test('a visitor without a session still sees the home page, offering sign-in', async () => {
    const response = await broken.agent().get('/').expect(200);
    expect(response.text).toContain('href="/auth/signin"');
    expect(response.text).not.toContain('Session unavailable');
  });
});
