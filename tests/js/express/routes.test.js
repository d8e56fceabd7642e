'use strict';
// Every route of the example app, over HTTP (supertest), against the Jest run's redis-server and the in-process dev
// identity provider: the happy path and the ways it goes wrong.

const Redis = require('../../support/ioredis');
const { startExample, signIn, sessionCookie, sessionIdOf, signedCookie, tokenRequests } = require('./helpers');
const { storedPartition, storedSession, isTombstone } = require('../../support/stored');

let example;
let agent;

beforeEach(async () => {
  example = await startExample({ name: expect.getState().currentTestName });
  agent = example.agent();
});
afterEach(() => example.close());

const sessionKey = (sid) => example.sessionKey(sid);
const partitionKey = (sid) => example.partitionKey(sid);
const json = (path) => agent.get(path).set('accept', 'application/json');

/** Signs in and returns the session id the app settled on. */
async function signedIn(user) {
  const { response } = await signIn(agent, user);
  expect(response.status).toBe(302);
  expect(response.headers.location).toBe('/profile');
  return sessionIdOf(sessionCookie(response));
}

/** Seconds until the session cookie a response set expires. */
function cookieLifetime(response) {
  const cookie = response.headers['set-cookie'].find((c) => c.startsWith('sid='));
  return (Date.parse(/; Expires=([^;]+)/.exec(cookie)[1]) - Date.now()) / 1000;
}

function expectNoStackTrace(response) {
  expect(response.text).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(response.text).not.toMatch(/node_modules|examples\/express/);
}

describe('pages', () => {
  test('the home page offers sign-in and sets security headers, but no cookie for a visitor', async () => {
    const response = await agent.get('/').expect(200);
    expect(response.text).toContain('href="/auth/signin"');
    expect(response.text).toContain('Development mode');
    expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['x-powered-by']).toBeUndefined();
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  test('an unknown path is a 404 page', async () => {
    const response = await agent.get('/nope').expect(404);
    expect(response.text).toContain('There is no page at /nope');
  });
});

describe('sign-in', () => {
  test('/auth/signin sends the browser to the dev identity provider with PKCE, state and nonce', async () => {
    const response = await agent.get('/auth/signin').expect(302);
    const url = new URL(response.headers.location);
    expect(url.origin).toBe(example.url);
    expect(url.pathname).toBe(`/dev-idp/${example.idp.tenantId}/oauth2/v2.0/authorize`);
    const query = url.searchParams;
    expect(query.get('response_type')).toBe('code');
    expect(query.get('code_challenge_method')).toBe('S256');
    expect(query.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(query.get('state')).toMatch(/^[\w-]{32}$/);
    expect(query.get('nonce')).toMatch(/^[\w-]{32}$/);
    expect(query.get('redirect_uri')).toBe(`${example.url}/auth/redirect`);
    expect(query.get('scope')).toContain('offline_access');
    // The verifier stays on the server, in the session in Redis.
    const sid = sessionIdOf(sessionCookie(response));
    const stored = await storedSession(example.redis, sessionKey(sid));
    expect(stored.authRequest).toMatchObject({ state: query.get('state'), nonce: query.get('nonce') });
    expect(response.headers.location).not.toContain(stored.authRequest.verifier);
  });

  test('a full sign-in lands on the profile with a new session id and a partition holding the tokens', async () => {
    const first = await agent.get('/auth/signin').expect(302);
    const before = sessionIdOf(sessionCookie(first));
    const { response } = await signIn(agent);
    const after = sessionIdOf(sessionCookie(response));
    expect(after).not.toBe(before); // regenerated: no session fixation
    expect(await example.redis.exists(sessionKey(before))).toBe(0);

    const profile = await agent.get('/profile').expect(200);
    expect(profile.text).toContain('alice@contoso.example');
    expect(profile.text).toContain('Alice Example');

    const stored = await storedPartition(example.redis, partitionKey(after));
    expect(Object.keys(stored.RefreshToken)).toHaveLength(1);
    // The session itself holds who signed in, never a token.
    const session = JSON.stringify(await storedSession(example.redis, sessionKey(after)));
    expect(session).toContain('alice@contoso.example');
    for (const token of Object.values(stored.AccessToken).concat(Object.values(stored.RefreshToken))) {
      expect(session).not.toContain(token.secret);
    }
    expect(tokenRequests(example.idp).map((r) => r.grantType)).toEqual(['authorization_code']);
  });

  test('session and partition get the same TTL', async () => {
    const sid = await signedIn();
    const [sessionTtl, partitionTtl] = await Promise.all([example.redis.ttl(sessionKey(sid)), example.redis.ttl(partitionKey(sid))]);
    expect(sessionTtl).toBeGreaterThan(86390);
    expect(Math.abs(partitionTtl - sessionTtl)).toBeLessThanOrEqual(1);
  });

  test('an abandoned sign-in leaves a session of 10 minutes, not a day; a completed one gets the full lifetime', async () => {
    const start = await agent.get('/auth/signin').expect(302);
    expect(cookieLifetime(start)).toBeCloseTo(600, -1);
    const pending = sessionIdOf(sessionCookie(start));
    const ttl = await example.redis.ttl(sessionKey(pending));
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    // Other pages visited meanwhile (rolling cookie) keep it short.
    const visit = await agent.get('/cache').expect(200);
    expect(cookieLifetime(visit)).toBeCloseTo(600, -1);
    expect(await example.redis.ttl(sessionKey(pending))).toBeLessThanOrEqual(600);

    const sid = await signedIn();
    expect(await example.redis.ttl(sessionKey(sid))).toBeGreaterThan(86390);
  });

  test('a signed-in user who starts another sign-in keeps the full session lifetime', async () => {
    const sid = await signedIn();
    const again = await agent.get('/auth/signin').expect(302);
    expect(cookieLifetime(again)).toBeCloseTo(86400, -1);
    expect(await example.redis.ttl(sessionKey(sid))).toBeGreaterThan(86390);
  });

  test('the session cookie is HttpOnly and SameSite=Lax, and not Secure over plain HTTP', async () => {
    const { response } = await signIn(agent);
    const cookie = response.headers['set-cookie'].find((c) => c.startsWith('sid='));
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).not.toMatch(/; Secure/);
  });

  test('behind a trusted TLS proxy the cookie is Secure', async () => {
    const proxied = await startExample({ name: 'proxied', trustProxy: 1 });
    try {
      const response = await proxied.agent().get('/auth/signin').set('X-Forwarded-Proto', 'https').expect(302);
      expect(response.headers['set-cookie'].find((c) => c.startsWith('sid='))).toMatch(/; Secure/);
      expect(new URL(response.headers.location).protocol).toBe('https:');
    } finally {
      await proxied.close();
    }
    // An untrusted X-Forwarded-Proto changes nothing.
    const response = await agent.get('/auth/signin').set('X-Forwarded-Proto', 'https').expect(302);
    expect(response.headers['set-cookie'].find((c) => c.startsWith('sid='))).not.toMatch(/; Secure/);
  });

  test('a callback with a bad state is refused before the code is redeemed', async () => {
    await agent.get('/auth/signin').expect(302);
    const code = example.idp.issueCode(example.idp.userNamed('mallory@contoso.example'), { scopes: ['openid'] });
    const response = await agent.get(`/auth/redirect?code=${code}&state=forged`).expect(400);
    expect(response.text).toContain('state mismatch');
    expect(response.text).toContain('href="/auth/signin"');
    expectNoStackTrace(response);
    expect(tokenRequests(example.idp)).toEqual([]);
    await agent.get('/profile').expect(401);
  });

  test('a callback that no sign-in of this session asked for is refused', async () => {
    const code = example.idp.issueCode(example.idp.userNamed('mallory@contoso.example'));
    const response = await agent.get(`/auth/redirect?code=${code}&state=anything`).expect(400);
    expect(response.text).toContain('No sign-in in progress');
    expect(tokenRequests(example.idp)).toEqual([]);
  });

  test('a callback after the session expired mid sign-in is refused', async () => {
    const start = await agent.get('/auth/signin').expect(302);
    const authorizeUrl = new URL(start.headers.location);
    await example.redis.del(sessionKey(sessionIdOf(sessionCookie(start))));
    const form = { ...Object.fromEntries(authorizeUrl.searchParams), username: 'alice@contoso.example' };
    const answer = await agent.post(authorizeUrl.pathname).type('form').send(form).expect(303);
    const callback = new URL(answer.headers.location);
    const response = await agent.get(callback.pathname + callback.search).expect(400);
    expect(response.text).toContain('may have expired');
  });

  test('a sign-in the user cancelled shows the identity provider\'s answer', async () => {
    const start = await agent.get('/auth/signin').expect(302);
    const authorizeUrl = new URL(start.headers.location);
    const answer = await agent.post(authorizeUrl.pathname).type('form')
      .send({ ...Object.fromEntries(authorizeUrl.searchParams), action: 'cancel' }).expect(303);
    const callback = new URL(answer.headers.location);
    const response = await agent.get(callback.pathname + callback.search).expect(401);
    expect(response.text).toContain('access_denied');
  });

  test('a code the identity provider refuses is a clear 502 page', async () => {
    const start = await agent.get('/auth/signin').expect(302);
    const state = new URL(start.headers.location).searchParams.get('state');
    const response = await agent.get(`/auth/redirect?code=made-up&state=${state}`).expect(502);
    expect(response.text).toContain('invalid_grant');
    expect(response.text).toContain('AADSTS54005');
    expectNoStackTrace(response);
  });
});

describe('the API call', () => {
  test('is served from the cache, and the downstream API accepts the token', async () => {
    await signedIn();
    const response = await json('/api/call').expect(200);
    expect(response.body.token.fromCache).toBe(true);
    expect(response.body.api.user.username).toBe('alice@contoso.example');
    expect(response.body.api.token).toMatchObject({ audience: 'api://msal-redis-cache-example-api', scopes: 'Data.Read' });
    expect(tokenRequests(example.idp)).toHaveLength(1); // the sign-in only

    const page = await agent.get('/api/call').expect(200);
    expect(page.text).toContain('served from the token cache');
    expect(page.text).toContain('Hello from the downstream API');
  });

  test('refreshes an expired access token with the cached refresh token, and stores the new one', async () => {
    example.idp.setAccessTokenLifetime(200); // msal treats it as expired (5 min early): the next call must refresh
    const sid = await signedIn();
    example.idp.setAccessTokenLifetime(3600);

    const refreshed = await json('/api/call').expect(200);
    expect(refreshed.body.token.fromCache).toBe(false);
    expect(tokenRequests(example.idp).map((r) => r.grantType)).toEqual(['authorization_code', 'refresh_token']);

    const again = await json('/api/call').expect(200);
    expect(again.body.token.fromCache).toBe(true);
    expect(tokenRequests(example.idp)).toHaveLength(2);
    expect(await example.redis.ttl(partitionKey(sid))).toBeGreaterThan(86000);
  });

  test('when the refresh token was revoked the user is asked to sign in again', async () => {
    example.idp.setAccessTokenLifetime(200);
    await signedIn();
    example.idp.revokeRefreshTokens(example.idp.userNamed('alice@contoso.example'));
    const response = await agent.get('/api/call').expect(401);
    expect(response.text).toContain('sign in again');
    expectNoStackTrace(response);
    // Still signed in to this app (the header says so): offered "Sign in again", never a plain "Sign in".
    expect(response.text).toContain('Alice Example');
    expect(response.text).toContain('>Sign in again</a>');
    expect(response.text).not.toMatch(/>Sign in</);
  });

  test('a visitor who never signed in gets a 401 with a sign-in link', async () => {
    const response = await agent.get('/api/call').expect(401);
    expect(response.text).toContain('You are not signed in');
    expect(response.text).toContain('href="/auth/signin"');
    await json('/api/call').expect(401, { error: 'You are not signed in', message: 'Sign in to see this page.' });
  });

  test('a corrupt token partition is a cache miss: sign in again, no crash', async () => {
    const sid = await signedIn();
    await example.redis.set(partitionKey(sid), 'mrc1 1700000000\n{"Account": [');
    const response = await agent.get('/api/call').expect(401);
    expect(response.text).toContain('token cache is empty');
    expect(example.logger.lines.warn.join('\n')).toMatch(/unreadable cache partition/);
    expect(tokenRequests(example.idp)).toHaveLength(1);
  });
});

describe('the cache page', () => {
  test('shows token kinds, scopes, expiry and TTLs of this session only, and no secret', async () => {
    const other = example.agent();
    await signIn(other, { username: 'bob@contoso.example', name: 'Bob Example' });
    const sid = await signedIn();

    const page = await agent.get('/cache').expect(200);
    for (const text of ['AccessToken', 'RefreshToken', 'IdToken', 'api://msal-redis-cache-example-api/Data.Read', 'Partition TTL', 'Session key TTL', 'alice@contoso.example']) {
      expect(page.text).toContain(text);
    }
    expect(page.text).not.toContain('bob@contoso.example');
    expect(page.text).not.toContain(sid);
    const stored = await storedPartition(example.redis, partitionKey(sid));
    for (const section of ['AccessToken', 'RefreshToken', 'IdToken']) {
      for (const entry of Object.values(stored[section])) expect(page.text).not.toContain(entry.secret);
    }

    const { body } = await json('/cache').expect(200);
    expect(body.signedIn).toBe(true);
    expect(body.partition.tokens.map((t) => t.kind).sort()).toEqual(['AccessToken', 'IdToken', 'RefreshToken']);
    expect(body.partition.ttlSeconds).toBeGreaterThan(86000);
    expect(body.sessionTtlSeconds).toBeGreaterThan(86000);
    expect(JSON.stringify(body)).not.toContain(sid);
  });

  test('is empty for a visitor', async () => {
    const page = await agent.get('/cache').expect(200);
    expect(page.text).toContain('token cache is empty: you are not signed in');
  });

  test('says so when the stored partition is corrupt', async () => {
    const sid = await signedIn();
    await example.redis.set(partitionKey(sid), 'garbage');
    const page = await agent.get('/cache').expect(200);
    expect(page.text).toContain('cannot be read');
    expect(page.text).not.toContain(sid);
  });
});

describe('sessions that end', () => {
  test('sign-out deletes the session and its token partition, and a later /api/call is refused', async () => {
    const { response: signInResponse } = await signIn(agent);
    const cookie = `sid=${sessionCookie(signInResponse)}`;
    const sid = sessionIdOf(sessionCookie(signInResponse));
    expect(await example.redis.exists(sessionKey(sid), partitionKey(sid))).toBe(2);

    await agent.get('/auth/signout').expect(200, /Sign out deletes this session/);
    const response = await agent.post('/auth/signout').expect(303);
    expect(response.headers.location).toBe('/?signedout=1');
    expect(response.headers['set-cookie'].join()).toMatch(/sid=;/);
    expect(await example.redis.exists(sessionKey(sid))).toBe(0);
    expect(await isTombstone(example.redis, partitionKey(sid))).toBe(true); // signed out, and stays so

    // The old cookie, replayed, is worth nothing.
    const replay = await example.agent().get('/api/call').set('Cookie', cookie).expect(401);
    expect(replay.text).toContain('You are not signed in');
    await agent.get('/?signedout=1').expect(200, /You are signed out/);
  });

  test('an expired session is signed out', async () => {
    const sid = await signedIn();
    await example.redis.pexpire(sessionKey(sid), 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await agent.get('/profile').expect(401);
    await agent.get('/api/call').expect(401);
  });

  test('a corrupt session value in Redis is no session: 401, not 500', async () => {
    const sid = await signedIn();
    await example.redis.set(sessionKey(sid), '{"cookie": {"originalMaxAge": 1');
    const response = await agent.get('/profile').expect(401);
    expectNoStackTrace(response);
    expect(example.logger.lines.warn.join('\n')).toMatch(/ignoring unreadable session/);
  });
});

test('with Redis down every page answers a clear error page, never a stack trace', async () => {
  const down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  const broken = await startExample({ name: 'down', redis: down });
  try {
    // A well-signed cookie, so that express-session asks the store (and so Redis) for the session.
    // The session store's failure is a CacheStoreError, which the app answers with its own 503 page.
    const response = await broken.agent().get('/profile').set('Cookie', `sid=${signedCookie('some-session')}`).expect(503);
    expect(response.text).toContain('Token cache unavailable');
    expectNoStackTrace(response);
    expect(broken.logger.lines.error).toHaveLength(1);
  } finally {
    await broken.close();
    down.disconnect();
  }
});
