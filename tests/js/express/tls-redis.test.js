'use strict';
// examples/express/server.js against a TLS-only Redis with a private CA, as the README's documented least-privilege
// ACL user (tests/support/redis-acl.js): REDIS_URL=rediss://user:password@host:port, and the CA trusted through
// REDIS_CA_FILE (for Redis only) or NODE_EXTRA_CA_CERTS (Node's own, for the whole process).

const crypto = require('node:crypto');
const fs = require('node:fs');
const Redis = require('../../support/ioredis');
const request = require('supertest');
const { startRedis } = require('../../support/redis-server');
const { documentedAclUser } = require('../../support/redis-acl');
const { redisOptionsFromEnvironment } = require('../../../examples/express/config');
const { signIn, sessionCookie, startServerProcess } = require('./helpers');

const password = crypto.randomBytes(24).toString('base64url');
let user;
let redisServer;
let admin;
let redisUrl;

beforeAll(async () => {
  user = documentedAclUser(password);
  redisServer = await startRedis({ tls: true, aclUsers: [user.line] });
  admin = new Redis(redisServer.url, { ...redisServer.admin, tls: { ca: fs.readFileSync(redisServer.caFile) } });
  redisUrl = `rediss://${user.username}:${password}@127.0.0.1:${redisServer.port}`;
});
afterAll(async () => {
  if (admin) await admin.quit();
  if (redisServer) await redisServer.stop();
});
beforeEach(() => admin.acl('LOG', 'RESET'));

/** server.js with env and nothing else from this process's environment but PATH. */
const startServer = (env) => startServerProcess({ PATH: process.env.PATH, SESSION_SECRET: 'tls test', ...env });

/** Sign-in, a cached API call, the cache page and sign-out through the running example. */
async function signInCallAndSignOut(url) {
  const agent = request.agent(url);
  const { response } = await signIn(agent);
  expect(sessionCookie(response)).toBeTruthy();
  const call = await agent.get('/api/call').set('accept', 'application/json').expect(200);
  expect(call.body.token.fromCache).toBe(true);
  expect(call.body.api.user.username).toBe('alice@contoso.example');
  const cache = await agent.get('/cache').set('accept', 'application/json').expect(200);
  expect(cache.body.partition.accounts.map((account) => account.username)).toEqual(['alice@contoso.example']);
  await agent.post('/auth/signout').expect(303);
  await agent.get('/api/call').set('accept', 'application/json').expect(401);
}

const aclRefusals = async () => (await admin.acl('LOG')).map((entry) => entry.join(' '));

test('REDIS_URL=rediss://user:password@... with REDIS_CA_FILE: the whole app runs as the documented ACL user', async () => {
  const server = startServer({ REDIS_URL: redisUrl, REDIS_CA_FILE: redisServer.caFile });
  try {
    const url = await server.started;
    expect(server.output()).toContain(`Redis at rediss://***@127.0.0.1:${redisServer.port}`);
    expect(server.output()).not.toContain(password);
    await signInCallAndSignOut(url);
  } finally {
    expect(await server.stop()).toBe(0);
  }
  expect(await aclRefusals()).toEqual([]);
});

test('REDIS_CLIENT=node-redis: the same, on a node-redis client (createClient with the CA of REDIS_CA_FILE)', async () => {
  const server = startServer({ REDIS_URL: redisUrl, REDIS_CA_FILE: redisServer.caFile, REDIS_CLIENT: 'node-redis' });
  try {
    const url = await server.started;
    expect(server.output()).toContain(`Redis at rediss://***@127.0.0.1:${redisServer.port} (node-redis)`);
    // The example's connections as Redis sees them: node-redis 6 speaks RESP3 (the example's ioredis 5, RESP2).
    const clients = (await admin.client('LIST')).split('\n').filter((line) => line.includes(`user=${user.username} `));
    expect(clients.length).toBeGreaterThan(0);
    expect(clients.every((line) => /\bresp=3\b/.test(line))).toBe(true);
    await signInCallAndSignOut(url);
  } finally {
    expect(await server.stop()).toBe(0);
  }
  expect(await aclRefusals()).toEqual([]);
});

test('REDIS_CLIENT names a client the example knows: another value stops it at start', async () => {
  const server = startServer({ REDIS_URL: redisUrl, REDIS_CA_FILE: redisServer.caFile, REDIS_CLIENT: 'redis' });
  await expect(server.started).rejects.toThrow(/REDIS_CLIENT must be ioredis or node-redis, not "redis"/);
  expect(await server.exited).toBe(1);
});

test('NODE_EXTRA_CA_CERTS trusts the private CA as well (for every TLS connection of the process)', async () => {
  const server = startServer({ REDIS_URL: redisUrl, NODE_EXTRA_CA_CERTS: redisServer.caFile });
  try {
    await signInCallAndSignOut(await server.started);
  } finally {
    expect(await server.stop()).toBe(0);
  }
  expect(await aclRefusals()).toEqual([]);
});

test('without the CA the example does not start, and says why', async () => {
  const server = startServer({ REDIS_URL: redisUrl });
  await expect(server.started).rejects.toThrow(/self-signed certificate in certificate chain/);
  expect(await server.exited).toBe(1);
  expect(server.output()).toContain('Cannot start the example');
});

test('REDIS_CA_FILE: only for a rediss:// URL', () => {
  expect(redisOptionsFromEnvironment({ REDIS_URL: 'redis://localhost:6379' })).toEqual({ maxRetriesPerRequest: 2 });
  const options = redisOptionsFromEnvironment({ REDIS_URL: redisUrl, REDIS_CA_FILE: redisServer.caFile });
  expect(options.tls.ca.toString()).toBe(fs.readFileSync(redisServer.caFile, 'utf8'));
  expect(() => redisOptionsFromEnvironment({ REDIS_URL: 'redis://localhost:6379', REDIS_CA_FILE: redisServer.caFile }))
    .toThrow('REDIS_CA_FILE needs a rediss:// REDIS_URL');
});
