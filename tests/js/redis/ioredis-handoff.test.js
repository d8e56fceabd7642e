'use strict';
// ioredis 6.1's Smart Client Handoff: on a RESP3 `MOVING <seq> <seconds> <host:port>` push (sent by Redis
// Enterprise and Azure Managed Redis before they move a shard), the client connects to the new endpoint, drains the
// old socket and adopts the new one, with no 'close' or 'ready' event. The package must not notice anything it
// could mistake for an outage (the breaker stays closed, no call fails) and the in-process cache must stay coherent:
// its tracking connection is RESP2 with maintNotifications off, so it is never handed off unseen; it is closed by the
// server at the end of the grace period, like any other, and tracks again.
//
// Open-source Redis sends no MOVING, so the test puts a small TCP proxy in front of a real redis-server: the proxy
// injects the push into the app's RESP3 connections (never into the RESP2 tracking connection, whose parser would
// take it for a reply), names a second proxy as the new endpoint, and at the end of the grace period closes every
// connection still on the first, as the server would. Standalone pass only (jest.config.js): it starts its own server
// and uses ioredis 6 whatever TEST_IOREDIS_MAJOR says.

const net = require('node:net');
const crypto = require('node:crypto');
const Redis = require('ioredis6');
const { RedisTokenCache } = require('../../../js');
const { startRedis } = require('../../support/redis-server');
const { createFakeIdentityProvider } = require('../../support/fake-identity-provider');
const { testSecrets } = require('../../support/test-secrets');

const CLIENT_ID = '00000000-0000-4000-8000-0000000a4d0f';
const SCOPES = ['api://handoff/Read'];
const REDIRECT_URI = 'http://localhost/auth/redirect';
const GRACE_SECONDS = 2;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP proxy to `port` that knows which of its connections speak RESP3 and can push a frame into them. */
function startProxy(port) {
  const connections = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const connection = { client, upstream, resp3: false, sent: Buffer.alloc(0) };
    connections.add(connection);
    client.on('data', (data) => {
      // The handshake's HELLO 3 comes first; 64 bytes are enough to see it.
      if (connection.sent.length < 64) {
        connection.sent = Buffer.concat([connection.sent, data]);
        connection.resp3 = connection.resp3 || /HELLO\r\n\$1\r\n3\r\n/i.test(connection.sent.toString('latin1'));
      }
      upstream.write(data);
    });
    upstream.on('data', (data) => client.write(data));
    const close = () => {
      connections.delete(connection);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      connections,
      resp3: () => [...connections].filter((c) => c.resp3),
      push: (frame) => { for (const c of connections) if (c.resp3) c.client.write(frame); },
      closeAll: () => { for (const c of connections) { c.client.destroy(); c.upstream.destroy(); } },
      close: () => new Promise((done) => { for (const c of connections) c.client.destroy(); server.close(done); }),
    }));
  });
}

const bulk = (text) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
const moving = (sequence, seconds, endpoint) => `>4\r\n${bulk('MOVING')}:${sequence}\r\n:${seconds}\r\n${bulk(endpoint)}`;

async function until(condition, what, ms = 5000) {
  for (let waited = 0; waited < ms; waited += 10) {
    if (await condition()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

let server;
let before; // the endpoint the app connects to
let after; // the endpoint the MOVING names
let app; // the app's ioredis 6 client, with its defaults (RESP3, maintNotifications 'auto')
let direct; // another server's client, straight to Redis
let cache;
let other;
let idp;
const warnings = [];

beforeAll(async () => {
  server = await startRedis();
  before = await startProxy(server.port);
  after = await startProxy(server.port);
  idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
});

afterAll(async () => {
  if (cache) await cache.close();
  if (other) await other.close();
  if (app) app.disconnect();
  if (direct) direct.disconnect();
  await before.close();
  await after.close();
  await server.stop();
});

test('a Smart Client Handoff of the app\'s connection: no failed call, the breaker closed, the L1 coherent throughout', async () => {
  const prefix = `handoff:${crypto.randomBytes(4).toString('hex')}:`;
  app = new Redis({ host: '127.0.0.1', port: before.port });
  const appErrors = [];
  app.on('error', (err) => appErrors.push(err));
  direct = new Redis(server.url);
  cache = new RedisTokenCache({ redis: app, prefix, skewSeconds: 0, logger: { warn: (m) => warnings.push(m) }, ...testSecrets() });
  other = new RedisTokenCache({ redis: direct, prefix, localCache: false, skewSeconds: 0, ...testSecrets() });

  const signIn = async (sessionId, scopes = SCOPES) => {
    const client = other.createClientApplication(idp.msalConfig(), { sessionId });
    return client.acquireTokenByCode({ code: idp.issueCode(idp.addUser(), { scopes }), scopes, redirectUri: REDIRECT_URI });
  };
  const hits = () => cache.stats().localCache.hits;
  const readThrough = async (sessionId) => {
    const hitsBefore = hits();
    const body = await cache.exportPartition({ sessionId });
    return { hit: hits() > hitsBefore, body };
  };

  await signIn('alice');
  await cache.exportPartition({ sessionId: 'alice' }); // starts the tracking connection
  await until(() => cache.stats().localCache.coherent, 'the L1 to track');
  await until(async () => (await readThrough('alice')).hit, 'an L1 hit');
  expect(before.resp3()).toHaveLength(1); // the app's connection; the tracking connection is RESP2
  expect(before.connections.size).toBe(2);
  const idBefore = await app.client('ID');

  // The shard moves: the app's connection is handed off to the other endpoint, with no event.
  const events = [];
  for (const name of ['close', 'reconnecting', 'end']) app.on(name, () => events.push(name));
  before.push(moving(1, GRACE_SECONDS, `127.0.0.1:${after.port}`));
  await until(() => after.resp3().length === 1 && before.resp3().length === 0, 'the handoff to the new endpoint');
  expect(await app.client('ID')).not.toBe(idBefore);
  expect(events).toEqual([]);

  // During the grace period: reads and writes go through the new socket; the L1 still tracks through the old
  // endpoint and sees another server's writes.
  expect(cache.stats().localCache.coherent).toBe(true);
  expect((await readThrough('alice')).hit).toBe(true);
  await signIn('bob');
  expect((await readThrough('bob')).body).not.toBeNull();
  const invalidationsBefore = cache.stats().localCache.invalidations;
  await other.removePartition({ sessionId: 'alice' });
  await until(() => cache.stats().localCache.invalidations > invalidationsBefore, 'the sign-out\'s invalidation');
  expect((await readThrough('alice')).body).toBeNull();

  // The grace period ends: the server closes what is left on the old endpoint (the tracking connection). The L1
  // stops serving hits at once, tracks again, and a write made meanwhile is not served from before it.
  await signIn('carol');
  await until(async () => (await readThrough('carol')).hit, 'an L1 hit on carol');
  before.closeAll();
  await until(() => !cache.stats().localCache.coherent, 'the L1 to notice', 1000);
  await other.removePartition({ sessionId: 'carol' }); // while the tracking connection is down
  expect((await readThrough('carol')).body).toBeNull();
  await until(() => cache.stats().localCache.coherent, 'the L1 to track again');
  expect((await readThrough('carol')).body).toBeNull();
  await signIn('dave');
  await until(async () => (await readThrough('dave')).hit, 'an L1 hit after tracking again');

  const { redis } = cache.stats();
  expect(redis).toMatchObject({ failures: 0, timeouts: 0, rejectedWhileOpen: 0, breakerOpened: 0, breaker: 'closed' });
  expect(cache.stats().failedReads ?? 0).toBe(0);
  expect(appErrors).toEqual([]);
  expect(events).toEqual([]);
}, 30000);
