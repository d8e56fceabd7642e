'use strict';
// /auth/redirect is a GET that anyone can make a browser send (a link, a navigation from another site carries the
// SameSite=Lax cookie). Until the answer's state is this session's pending sign-in's, it must change nothing in the
// session: no new session id, no lost pending sign-in, no sign-out (security review, issue 14, point 6.1).

const { startExampleForEachTest, signIn, sessionCookie, sessionIdOf, tokenRequests } = require('./helpers');
const { storedSession } = require('../../support/stored');

const current = startExampleForEachTest();

/** The session as Redis holds it (decrypted). */
async function sessionState(sid) {
  return storedSession(current.example.redis, current.example.sessionKey(sid));
}

test('a signed-in user sent to /auth/signin and then to a forged answer (twice) stays signed in', async () => {
  const { response } = await signIn(current.agent);
  const sid = sessionIdOf(sessionCookie(response));
  // A page on another site navigates the browser: start a sign-in, then "answer" it with a made-up state.
  await current.agent.get('/auth/signin').expect(302);
  const before = await sessionState(sid);
  for (let i = 0; i < 2; i += 1) {
    const forged = await current.agent.get('/auth/redirect?state=bogus&code=x').expect(400);
    expect(forged.text).toContain('state mismatch');
    const cookie = sessionCookie(forged);
    if (cookie) expect(sessionIdOf(cookie)).toBe(sid); // the same session, never a new one
  }
  expect(await sessionState(sid)).toMatchObject({ account: before.account, authRequest: before.authRequest });
  const profile = await current.agent.get('/profile').set('accept', 'application/json').expect(200);
  expect(profile.body.user.username).toBe('alice@contoso.example');
  expect(tokenRequests(current.example.idp).filter((r) => r.grantType === 'authorization_code')).toHaveLength(1); // the real one
});

test('a forged answer, with or without an error, leaves the pending sign-in in place: the real answer still signs in', async () => {
  const start = await current.agent.get('/auth/signin').expect(302);
  const sid = sessionIdOf(sessionCookie(start));
  const authorizeUrl = new URL(start.headers.location);
  const pending = (await sessionState(sid)).authRequest;
  for (const forged of ['state=bogus&code=x', 'code=x', 'state=bogus&error=access_denied&error_description=Call+us', 'error=access_denied']) {
    const response = await current.agent.get(`/auth/redirect?${forged}`).expect(400);
    expect(response.text).not.toContain('Call us'); // a stranger's text is not shown as the identity provider's
  }
  expect((await sessionState(sid)).authRequest).toEqual(pending);

  const form = { ...Object.fromEntries(authorizeUrl.searchParams), username: 'alice@contoso.example' };
  const answer = await current.agent.post(authorizeUrl.pathname).type('form').send(form).expect(303);
  const callback = new URL(answer.headers.location);
  const done = await current.agent.get(callback.pathname + callback.search).expect(302);
  expect(done.headers.location).toBe('/profile');
  expect(sessionIdOf(sessionCookie(done))).not.toBe(sid); // the real answer does start a new session
  await current.agent.get('/profile').expect(200, /alice@contoso\.example/);
});

test('the identity provider\'s own error answer (right state) ends the pending sign-in', async () => {
  const start = await current.agent.get('/auth/signin').expect(302);
  const sid = sessionIdOf(sessionCookie(start));
  const state = new URL(start.headers.location).searchParams.get('state');
  await current.agent.get(`/auth/redirect?state=${state}&error=access_denied&error_description=declined`).expect(401, /access_denied \(declined\)/);
  expect((await sessionState(sid)).authRequest).toBeUndefined();
  await current.agent.get(`/auth/redirect?state=${state}&code=x`).expect(400, /No sign-in in progress/); // not twice
});
