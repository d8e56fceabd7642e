'use strict';
// Visitors who are not signed in cost Redis nothing: no route but /auth/signin (which must keep the pending sign-in
// somewhere, for 10 minutes) creates a session, and sign-out without a signed-in session writes nothing, not even
// a tombstone (security review, issue 14, point 6.5: anonymous requests created Redis keys without limit).

const { startExampleForEachTest, signedCookie } = require('./helpers');
const { keysAll } = require('../../support/redis-client');

const current = startExampleForEachTest();

/** Every key of this test's app instance (its session and token-cache prefixes share one base). */
function keysOfThisApp() {
  const base = current.example.prefixes.sessionPrefix.slice(0, -'sess:'.length);
  return keysAll(current.example.redis, `${base}*`);
}

test('POST /auth/signout without a signed-in session writes nothing to Redis', async () => {
  const cookies = [null, `sid=${signedCookie('no-such-session')}`, 'sid=garbage'];
  for (const cookie of cookies) {
    for (let i = 0; i < 20; i += 1) {
      const request = current.agent.post('/auth/signout');
      if (cookie) request.set('Cookie', cookie);
      const response = await request.expect(303);
      expect(response.headers.location).toBe('/?signedout=1');
      expect(response.headers['set-cookie']).toEqual([expect.stringMatching(/^sid=; Path=\/; Expires=Thu, 01 Jan 1970/)]);
    }
  }
  expect(await keysOfThisApp()).toEqual([]);
});

test('POST /auth/signout during a sign-in not yet answered writes nothing either, and only clears the cookie', async () => {
  await current.agent.get('/auth/signin').expect(302); // the one route that must keep something: the pending sign-in
  const [sessionKey] = await keysOfThisApp();
  const stored = await current.example.redis.getBuffer(sessionKey);
  const response = await current.agent.post('/auth/signout').expect(303);
  expect(response.headers['set-cookie']).toEqual([expect.stringMatching(/^sid=; Path=\/; Expires=Thu, 01 Jan 1970/)]);
  expect(await keysOfThisApp()).toEqual([sessionKey]); // no tombstone, and left to expire with its 10 minutes
  expect(await current.example.redis.getBuffer(sessionKey)).toEqual(stored);
});

test('no other route a visitor can reach creates a session or a key', async () => {
  const state = 'made-up';
  for (const path of ['/', '/profile', '/cache', '/api/call', '/auth/signout', `/auth/redirect?state=${state}&code=x`,
    '/nope', '/healthz', '/static/app.css', '/favicon.ico']) {
    const response = await current.agent.get(path);
    expect({ path, setCookie: response.headers['set-cookie'] }).toEqual({ path, setCookie: undefined });
  }
  const refresh = await current.agent.post('/cache/refresh').expect(401);
  expect(refresh.headers['set-cookie']).toBeUndefined();
  expect(await keysOfThisApp()).toEqual([]);
});
