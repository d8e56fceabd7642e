'use strict';
// examples/express/server.js as `npm start` runs it: a real process, each way of finding a store.

const request = require('supertest');
const { startServerProcess, signIn } = require('./helpers');

const startServer = (env) => startServerProcess({ SESSION_SECRET: 'server test', ...env });

test('with REDIS_URL it uses that Redis and prints the URL', async () => {
  const server = startServer({ REDIS_URL: process.env.TEST_REDIS_URL, PATH: process.env.PATH });
  try {
    const url = await server.started;
    expect(server.output()).toContain(`Redis at ${process.env.TEST_REDIS_URL}`);
    expect(server.output()).toContain('local development identity provider');
    await request(url).get('/').expect(200, /msal-redis-cache example/);
    await request(url).get('/auth/signin').expect(302);
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

test('OTEL_CONSOLE=1 prints the token cache\'s OpenTelemetry metrics (README, Metrics)', async () => {
  const server = startServer({
    REDIS_URL: process.env.TEST_REDIS_URL, PATH: process.env.PATH, OTEL_CONSOLE: '1', OTEL_CONSOLE_INTERVAL_MS: '200',
  });
  try {
    const url = await server.started;
    await signIn(request.agent(url)); // a sign-in reads the (missing) partition and stores one
    for (let waited = 0; waited < 5000 && !/msal_redis_cache\.writes/.test(server.output()); waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(server.output()).toMatch(/msal_redis_cache\.writes/);
    expect(server.output()).toMatch(/msal_redis_cache\.redis\.duration/);
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

test('without REDIS_URL it starts a local redis-server, and stops it on exit', async () => {
  const server = startServer({ PATH: process.env.PATH });
  try {
    const url = await server.started;
    expect(server.output()).toMatch(/a local redis-server started for this run \(redis:\/\/127\.0\.0\.1:\d+/);
    await request(url).get('/').expect(200);
  } finally {
    expect(await server.stop()).toBe(0);
  }
  const redisUrl = /\((redis:\/\/[^,]+),/.exec(server.output())[1];
  const { ping } = require('../../../examples/express/redis-server');
  expect(await ping(Number(new URL(redisUrl).port))).toBe(false);
});

test('without Redis at all it falls back to memory, loudly', async () => {
  const server = startServer({ PATH: '/nonexistent' });
  try {
    const url = await server.started;
    expect(server.output()).toContain('WARNING: no Redis');
    expect(server.output()).toContain('for development only');
    await request(url).get('/').expect(200, /in-memory store: development only/);
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

test('half an Entra configuration is an error that says what is missing', async () => {
  const server = startServer({ PATH: process.env.PATH, REDIS_URL: process.env.TEST_REDIS_URL, TENANT_ID: 't', CLIENT_ID: 'c' });
  await expect(server.started).rejects.toThrow(/missing: CLIENT_SECRET, REDIRECT_URI/);
  expect(await server.exited).toBe(1);
});

test('TENANT_ID, CLIENT_ID, CLIENT_SECRET and REDIRECT_URI select real Entra ID: no dev services, no network override', () => {
  const { entraFromEnvironment, identityConfig } = require('../../../examples/express/config');
  expect(entraFromEnvironment({})).toBeNull();
  const entra = entraFromEnvironment({ TENANT_ID: 'contoso.onmicrosoft.com', CLIENT_ID: 'app', CLIENT_SECRET: 's', REDIRECT_URI: 'https://app.example/auth/redirect' });
  const identity = identityConfig({ entra });
  expect(identity.mode).toBe('entra');
  expect(identity.identityProvider).toBeUndefined();
  expect(identity.msalConfig()).toEqual({ auth: { clientId: 'app', clientSecret: 's', authority: 'https://login.microsoftonline.com/contoso.onmicrosoft.com' } });
  expect(identity.redirectUri()).toBe('https://app.example/auth/redirect');
  expect(identity.apiUrl()).toBe('https://graph.microsoft.com/v1.0/me');
  expect(identity.apiScopes).toEqual(['User.Read']);
  expect(identity.signOutUrl('https://forged-host.example')).toBe(
    'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/logout?post_logout_redirect_uri=https%3A%2F%2Fapp.example%2F',
  );
});
