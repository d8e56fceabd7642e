'use strict';
// Shared by the example's tests: start an instance of the app on a loopback port, and sign in through the dev
// identity provider's pages exactly as a browser would (minus the browser).

// jose 6 is ES modules only. Node loads it with require() (require(esm)), as the example does; Jest's module loader
// cannot, so the example's require('jose') is answered by Node's own loader. Jest hands out a subclass of Node's
// Module whose createRequire is Jest's: its parent class has Node's. (jest.mock is hoisted above the requires.)
jest.mock('jose', () => Object.getPrototypeOf(require('node:module')).createRequire(__filename)('jose'));

const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const path = require('node:path');
const Redis = require('../../support/ioredis');
const request = require('supertest');
const { createApp } = require('../../../examples/express/app');
const { createDevIdentityProvider } = require('../../../examples/dev-identity-provider/tokens');
const { DEV_CLIENT_ID } = require('../../../examples/express/config');
const { testSecrets } = require('../../support/test-secrets');

const SESSION_SECRET = 'test session secret';

/** A logger that keeps what the app says, so tests stay quiet and can check it. */
function memoryLogger() {
  const lines = { warn: [], error: [] };
  return { lines, warn: (...args) => lines.warn.push(args.join(' ')), error: (...args) => lines.error.push(args.map(String).join(' ')) };
}

/** Unique key prefixes per test, so tests sharing the Jest run's Redis never see each other's keys. */
function prefixesFor(name) {
  const base = `ex:${name.replace(/\W+/g, '-').slice(0, 60)}:${Math.random().toString(36).slice(2, 8)}:`;
  return { sessionPrefix: `${base}sess:`, tokenPrefix: `${base}msal:` };
}

/**
 * Starts createApp() on 127.0.0.1:<free port>.
 * @returns {Promise<{ app, server, url, idp, redis, logger, prefixes, agent: () => import('supertest').SuperAgentTest, close }>}
 */
async function startExample({ name, redis, identityProvider, ...options } = {}) {
  const prefixes = prefixesFor(name || 'example');
  const ownRedis = !redis;
  const client = redis || new Redis(process.env.TEST_REDIS_URL);
  const idp = identityProvider || createDevIdentityProvider({ clientId: DEV_CLIENT_ID });
  const logger = memoryLogger();
  const app = createApp({
    redis: client,
    identityProvider: idp,
    sessionSecret: SESSION_SECRET,
    ...testSecrets(),
    logger,
    sessionPrefix: prefixes.sessionPrefix,
    tokenCacheOptions: { prefix: prefixes.tokenPrefix },
    ...options,
  });
  const server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  const { sessionStore } = app.locals;
  return {
    app,
    server,
    url,
    sessionKey: (sid) => sessionStore.sessionKey(sid),
    partitionKey: (sid) => sessionStore.partitionKey(sid),
    idp,
    redis: client,
    logger,
    prefixes,
    agent: () => request.agent(url),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await app.locals.tokenCache.close(); // its invalidation connection
      if (ownRedis) await client.quit();
    },
  };
}

/**
 * In a test file: a fresh instance (keys named after the test) and an agent for each test, closed after it.
 * @returns {{ example: object, agent: import('supertest').SuperAgentTest }} filled in before each test
 */
function startExampleForEachTest(options = {}) {
  const current = {};
  beforeEach(async () => {
    current.example = await startExample({ name: expect.getState().currentTestName, ...options });
    current.agent = current.example.agent();
  });
  afterEach(() => current.example.close());
  return current;
}

/**
 * Signs in through /auth/signin, the dev identity provider's page and /auth/redirect.
 * @returns {Promise<{ authorizeUrl: URL, callback: URL, response }>} response: the answer of /auth/redirect
 */
async function signIn(agent, { username = 'alice@contoso.example', name = 'Alice Example' } = {}) {
  const start = await agent.get('/auth/signin').expect(302);
  const authorizeUrl = new URL(start.headers.location);
  await agent.get(authorizeUrl.pathname + authorizeUrl.search).expect(200);
  const form = { ...Object.fromEntries(authorizeUrl.searchParams), username, name };
  const answer = await agent.post(authorizeUrl.pathname).type('form').send(form).expect(303);
  const callback = new URL(answer.headers.location);
  const response = await agent.get(callback.pathname + callback.search);
  return { authorizeUrl, callback, response };
}

/** The value of the session cookie that a response set, e.g. "s%3A<sid>.<signature>". */
function sessionCookie(response) {
  const header = (response.headers['set-cookie'] || []).find((c) => c.startsWith('sid='));
  return header ? header.slice(4, header.indexOf(';')) : null;
}

/** The session id inside a signed session cookie value. */
function sessionIdOf(cookieValue) {
  return /^s:([^.]+)\./.exec(decodeURIComponent(cookieValue))[1];
}

/** A session cookie value as express-session signs it (cookie-signature: HMAC-SHA256, base64 without padding). */
function signedCookie(sid, secret = SESSION_SECRET) {
  const signature = crypto.createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
  return encodeURIComponent(`s:${sid}.${signature}`);
}

/**
 * Runs `command` with exactly `env` until it prints the example's "listening on <url>"; `started` resolves to that URL,
 * and rejects if the process exits first.
 */
function startListeningProcess(command, args, env) {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const started = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/localhost:\d+)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((code) => reject(new Error(`${path.basename(args[0] || command)} exited (${code}):\n${output}`)));
  });
  return {
    started,
    exited,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Starts examples/express/server.js as `npm start` does, in a process of its own with exactly `env` (plus PORT 0). */
function startServerProcess(env) {
  const server = path.join(__dirname, '../../../examples/express/server.js');
  return startListeningProcess(process.execPath, [server], { PORT: '0', ...env });
}

const tokenRequests = (idp) => idp.requests.filter((r) => r.method === 'POST');

module.exports = { startListeningProcess, startServerProcess, startExample, startExampleForEachTest, signIn, sessionCookie, sessionIdOf, signedCookie, tokenRequests, memoryLogger };
