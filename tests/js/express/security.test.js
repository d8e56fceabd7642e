'use strict';
// The example's browser-facing protections: helmet's headers with a Content-Security-Policy that needs no
// 'unsafe-inline' (the pages have no inline style or script), no-store on everything but static files,
// cross-site request forgery protection on every POST, and the static files (stylesheet, favicon) served without a
// session.

const { startExample, signIn, sessionCookie, sessionIdOf, signedCookie } = require('./helpers');
const { identityConfig } = require('../../../examples/express/config');

let example;
let agent;
beforeEach(async () => {
  example = await startExample({ name: expect.getState().currentTestName });
  agent = example.agent();
});
afterEach(() => example.close());

/** The Content-Security-Policy as { directive: [values] }. */
function policyOf(response) {
  return Object.fromEntries(response.headers['content-security-policy'].split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
}

describe('security headers', () => {
  test('helmet\'s headers, and a policy with no inline style or script, no framing, forms only to this origin', async () => {
    const response = await agent.get('/').expect(200);
    const policy = policyOf(response);
    expect(policy).toMatchObject({
      'default-src': ["'self'"], 'script-src': ["'self'"], 'style-src': ["'self'"], 'object-src': ["'none'"],
      'base-uri': ["'none'"], 'form-action': ["'self'"], 'frame-ancestors': ["'none'"],
    });
    expect(response.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(response.headers).toMatchObject({
      'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin', 'cross-origin-resource-policy': 'same-origin',
    });
    // Over plain HTTP no HSTS: a browser would then refuse http://localhost for every app for a year.
    expect(response.headers['strict-transport-security']).toBeUndefined();
  });

  test('Entra mode lets sign-out\'s form redirect to Entra\'s logout page, and sends HSTS when served over HTTPS', async () => {
    const entra = { tenantId: 't', clientId: 'c', clientSecret: 's', redirectUri: 'https://app.example/auth/redirect', apiUrl: 'x', apiScopes: ['User.Read'] };
    const production = await startExample({ name: 'entra-headers', entra });
    try {
      const response = await production.agent().get('/').expect(200);
      expect(policyOf(response)['form-action']).toEqual(["'self'", 'https://login.microsoftonline.com']);
      expect(response.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    } finally {
      await production.close();
    }
    expect(identityConfig({ entra: { ...entra, redirectUri: 'http://localhost:3000/auth/redirect' } }).https).toBe(false);
  });

  test('Entra mode on an https public URL: the cookie is always Secure and __Host-, even over a proxy\'s plain HTTP', async () => {
    // Behind a TLS-terminating proxy without TRUST_PROXY the app sees plain HTTP, yet sends HSTS: its cookie must not
    // be one the browser would also send over http://. A stored session, since sign-in would need Entra itself.
    const entra = { tenantId: 't', clientId: 'c', clientSecret: 's', redirectUri: 'https://app.example/auth/redirect', apiUrl: 'x', apiScopes: ['User.Read'] };
    const production = await startExample({ name: 'entra-cookie', entra });
    try {
      const sid = 'stored-session-id';
      const expires = new Date(Date.now() + 3600 * 1000);
      const cookie = { originalMaxAge: 3600 * 1000, expires, httpOnly: true, path: '/', secure: true, sameSite: 'lax' };
      await production.app.locals.sessionStore.set(sid, { cookie, account: { homeAccountId: 'h', username: 'alice@contoso.example', name: 'Alice', signedInAt: Date.now() } });
      const proxied = () => production.agent().set('X-Forwarded-Proto', 'https').set('Cookie', `__Host-sid=${signedCookie(sid)}`);

      const profile = await proxied().get('/profile').expect(200, /alice@contoso\.example/);
      expect(profile.headers['strict-transport-security']).toBeDefined();
      const [setCookie] = profile.headers['set-cookie'];
      expect(setCookie).toMatch(/^__Host-sid=[^;]+; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/);
      expect(setCookie).not.toMatch(/Domain=/i);

      const signedOut = await proxied().post('/auth/signout').expect(303);
      expect(signedOut.headers['set-cookie']).toEqual([expect.stringMatching(/^__Host-sid=; Path=\/; Expires=Thu, 01 Jan 1970 [^;]+; HttpOnly; Secure; SameSite=Lax$/)]);
      expect(await production.redis.exists(production.sessionKey(sid))).toBe(0);
    } finally {
      await production.close();
    }
  });

  test('no page has an inline style or script, so the policy takes nothing away from them', async () => {
    await signIn(agent);
    const authorize = new URL((await example.agent().get('/auth/signin')).headers.location);
    const pages = ['/', '/profile', '/cache', '/api/call', '/auth/signout', '/nope', authorize.pathname + authorize.search];
    for (const path of pages) {
      const { text } = await agent.get(path);
      expect(text).not.toMatch(/<style|<script|\sstyle=|\son[a-z]+=/i);
      for (const [, href] of text.matchAll(/<link rel="(?:stylesheet|icon)" href="([^"]+)"/g)) {
        await agent.get(href).expect(200); // and what they link to is there
      }
    }
  });

  test('stylesheet and favicon are served without a session; /favicon.ico is no 404', async () => {
    const css = await agent.get('/static/app.css').expect(200).expect('Content-Type', /text\/css/);
    expect(css.headers['set-cookie']).toBeUndefined();
    for (const path of ['/favicon.ico', '/favicon.svg']) {
      const icon = await agent.get(path).expect(200).expect('Content-Type', 'image/svg+xml');
      expect(icon.body.toString()).toMatch(/^<svg /);
      expect(icon.headers['set-cookie']).toBeUndefined();
    }
    await agent.get('/static/nope.css').expect(404);
  });
});

describe('browser caches', () => {
  test('every page, JSON answer and redirect of the app is no-store; only static files may be kept', async () => {
    await signIn(agent);
    const authorize = new URL((await example.agent().get('/auth/signin')).headers.location);
    const paths = ['/', '/profile', '/cache', '/api/call', '/auth/signout', '/auth/signin', '/auth/redirect', '/nope',
      '/healthz', authorize.pathname + authorize.search];
    for (const path of paths) {
      const response = await agent.get(path);
      expect({ path, cacheControl: response.headers['cache-control'] }).toEqual({ path, cacheControl: 'no-store' });
    }
    for (const path of ['/profile', '/cache']) {
      await agent.get(path).set('accept', 'application/json').expect(200).expect('cache-control', 'no-store');
    }
    await agent.post('/cache/refresh').expect(303).expect('cache-control', 'no-store');
    await agent.get('/static/app.css').expect(200).expect('cache-control', 'public, max-age=3600');
  });
});

describe('cross-site request forgery', () => {
  test('a POST from another site or origin is refused before it touches the session', async () => {
    const { response } = await signIn(agent);
    const sid = sessionIdOf(sessionCookie(response));
    const forged = [
      { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.example' },
      { 'Sec-Fetch-Site': 'same-site', Origin: 'https://sibling.contoso.example' }, // SameSite=Lax lets this one through
      { Origin: 'https://evil.example' }, // an older browser: no Sec-Fetch-Site
      { Origin: 'null' },
    ];
    for (const headers of forged) {
      for (const path of ['/auth/signout', '/cache/refresh']) {
        const refused = await agent.post(path).set(headers).expect(403);
        expect(refused.text).toContain('came from another site');
      }
    }
    expect(await example.redis.exists(example.sessionKey(sid))).toBe(1); // still signed in
    await agent.get('/profile').expect(200);
  });

  test('the app\'s own forms, and clients that are not browsers, pass', async () => {
    await signIn(agent);
    await agent.post('/cache/refresh').set({ 'Sec-Fetch-Site': 'same-origin', Origin: example.url }).expect(303);
    await agent.post('/cache/refresh').set({ Origin: example.url }).expect(303);
    await agent.post('/cache/refresh').expect(303); // no Origin: curl, a test
    await agent.post('/auth/signout').set({ 'Sec-Fetch-Site': 'same-origin', Origin: example.url }).expect(303);
  });
});
