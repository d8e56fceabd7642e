'use strict';
// The example's development services on their own: the dev identity provider over HTTP (sign-in page, token
// endpoint, metadata, keys) and the downstream API's token validation.

const crypto = require('node:crypto');
const express = require('express');
const request = require('supertest');
const { createDevIdentityProvider } = require('../../../examples/express/dev-identity-provider/tokens');
const { createDevIdentityProviderRouter } = require('../../../examples/express/dev-identity-provider/http');
const { createDownstreamApi } = require('../../../examples/express/downstream-api');
const { signJwt, verifyJwt, decodeJwt, TokenValidationError } = require('../../../examples/express/dev-identity-provider/jwt');

const CLIENT_ID = 'c1c1c1c1-0000-4000-8000-000000000001';
const AUDIENCE = 'api://test-api';

let idp;
let server;
let base;
let tenantPath;

beforeEach(async () => {
  idp = createDevIdentityProvider({ clientId: CLIENT_ID });
  const app = express();
  app.use('/dev-idp', createDevIdentityProviderRouter(idp));
  app.use('/dev-api', createDownstreamApi({ identityProvider: idp, audience: AUDIENCE, scope: 'Data.Read' }));
  app.get('/auth/redirect', (req, res) => res.send('back in the app'));
  server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  base = `http://127.0.0.1:${server.address().port}`;
  tenantPath = `/dev-idp/${idp.tenantId}`;
});
afterEach(() => new Promise((resolve) => server.close(resolve)));

function authorizeQuery(overrides = {}) {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const query = {
    client_id: CLIENT_ID,
    response_type: 'code',
    redirect_uri: `${base}/auth/redirect`,
    scope: `${AUDIENCE}/Data.Read openid profile offline_access`,
    state: 'state-1',
    nonce: 'nonce-1',
    code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...overrides,
  };
  return { query, verifier };
}

/** Signs in on the page as a browser would; returns the redirect back to the app. */
async function signInOnPage(query, username = 'carol@contoso.example') {
  const page = await request(base).get(`${tenantPath}/oauth2/v2.0/authorize`).query(query).expect(200);
  expect(page.text).toContain('alice@contoso.example'); // the users to pick from
  const answer = await request(base).post(`${tenantPath}/oauth2/v2.0/authorize`).type('form')
    .send({ ...query, username, name: 'Carol' }).expect(303);
  return new URL(answer.headers.location);
}

const redeem = (form) => request(base).post(`${tenantPath}/oauth2/v2.0/token`).type('form')
  .send({ client_id: CLIENT_ID, client_secret: idp.clientSecret, grant_type: 'authorization_code', ...form });

describe('dev identity provider over HTTP', () => {
  test('sign-in page -> code -> token endpoint, with PKCE: signed tokens for that user', async () => {
    const { query, verifier } = authorizeQuery();
    const back = await signInOnPage(query);
    expect(back.origin + back.pathname).toBe(`${base}/auth/redirect`);
    expect(back.searchParams.get('state')).toBe('state-1');

    const response = await redeem({ code: back.searchParams.get('code'), redirect_uri: query.redirect_uri, code_verifier: verifier, scope: query.scope, client_info: '1' }).expect(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const { body } = response;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: `${AUDIENCE}/Data.Read openid profile` });
    const idToken = decodeJwt(body.id_token);
    expect(idToken).toMatchObject({ aud: CLIENT_ID, nonce: 'nonce-1', preferred_username: 'carol@contoso.example', name: 'Carol' });
    expect(JSON.parse(Buffer.from(body.client_info, 'base64url'))).toEqual({ uid: idToken.oid, utid: idp.tenantId });

    // The same user name is the same directory object next time.
    const again = await signInOnPage(authorizeQuery().query);
    const second = await redeem({ code: again.searchParams.get('code'), redirect_uri: query.redirect_uri, code_verifier: 'x' }).expect(400);
    expect(second.body.error_description).toMatch(/AADSTS50148/); // wrong verifier
    expect(idp.userNamed('carol@contoso.example').oid).toBe(idToken.oid);

    // Keys and metadata let anyone verify the tokens.
    const config = await request(base).get(`${tenantPath}/v2.0/.well-known/openid-configuration`).expect(200);
    expect(config.body.authorization_endpoint).toBe(`${base}${tenantPath}/oauth2/v2.0/authorize`);
    const keys = await request(base).get(new URL(config.body.jwks_uri).pathname).expect(200);
    const claims = verifyJwt(body.access_token, { jwks: keys.body, issuer: idp.isIssuer, audience: AUDIENCE });
    expect(claims).toMatchObject({ scp: 'Data.Read', preferred_username: 'carol@contoso.example' });
  });

  test('a code is single use, bound to its redirect URI, and needs the client secret (also as Basic auth)', async () => {
    const { query, verifier } = authorizeQuery();
    const code = (await signInOnPage(query)).searchParams.get('code');
    const bad = await redeem({ code, redirect_uri: `${base}/elsewhere`, code_verifier: verifier }).expect(400);
    expect(bad.body.error_description).toMatch(/AADSTS500112/);
    await redeem({ code, redirect_uri: query.redirect_uri, code_verifier: verifier }).expect(400, /AADSTS54005/);

    const code2 = (await signInOnPage(query)).searchParams.get('code');
    await redeem({ code: code2, client_secret: 'wrong' }).expect(401, /invalid_client/);
    const code3 = (await signInOnPage(query)).searchParams.get('code');
    const basic = Buffer.from(`${CLIENT_ID}:${idp.clientSecret}`).toString('base64');
    await request(base).post(`${tenantPath}/oauth2/v2.0/token`).set('Authorization', `Basic ${basic}`).type('form')
      .send({ grant_type: 'authorization_code', code: code3, redirect_uri: query.redirect_uri, code_verifier: verifier }).expect(200);
  });

  test('refuses to send a code to another origin, an unknown client or another flow', async () => {
    for (const [override, message] of [
      [{ redirect_uri: 'https://evil.example/callback' }, 'is not registered'],
      [{ client_id: 'someone-else' }, 'Unknown application'],
      [{ response_type: 'token' }, 'authorization code flow'],
    ]) {
      const { query } = authorizeQuery(override);
      const page = await request(base).get(`${tenantPath}/oauth2/v2.0/authorize`).query(query).expect(400);
      expect(page.text).toContain(message);
      await request(base).post(`${tenantPath}/oauth2/v2.0/authorize`).type('form').send({ ...query, username: 'a@b.example' }).expect(400);
    }
  });

  test('escapes what it echoes, and wants a user name that looks like one', async () => {
    const { query } = authorizeQuery({ state: '"><script>alert(1)</script>' });
    const page = await request(base).get(`${tenantPath}/oauth2/v2.0/authorize`).query(query).expect(200);
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).toContain('&quot;&gt;&lt;script&gt;');
    await request(base).post(`${tenantPath}/oauth2/v2.0/authorize`).type('form').send({ ...query, username: 'no at sign' }).expect(400, /Enter a user name/);
  });

  test('cancel returns access_denied with the state', async () => {
    const { query } = authorizeQuery();
    const answer = await request(base).post(`${tenantPath}/oauth2/v2.0/authorize`).type('form').send({ ...query, action: 'cancel' }).expect(303);
    const back = new URL(answer.headers.location);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('state-1');
  });

  test('logout returns to a same-origin address only', async () => {
    const ok = await request(base).get(`${tenantPath}/oauth2/v2.0/logout`).query({ post_logout_redirect_uri: `${base}/` }).expect(303);
    expect(ok.headers.location).toBe(`${base}/`);
    await request(base).get(`${tenantPath}/oauth2/v2.0/logout`).query({ post_logout_redirect_uri: 'https://evil.example/' }).expect(200, /signed out/);
  });
});

describe('downstream API', () => {
  const user = () => idp.userNamed('dave@contoso.example');
  const call = (token) => request(base).get('/dev-api/me').set('Authorization', `Bearer ${token}`);

  test('accepts a token of the dev identity provider for its audience and scope', async () => {
    const token = idp.issueAccessToken(user(), { audience: AUDIENCE, scopes: [`${AUDIENCE}/Data.Read`] });
    const { body } = await call(token).expect(200);
    expect(body.user.username).toBe('dave@contoso.example');
  });

  test('refuses missing, forged, foreign, expired and under-scoped tokens', async () => {
    const good = idp.issueAccessToken(user(), { audience: AUDIENCE, scopes: [`${AUDIENCE}/Data.Read`] });
    const [header, payload] = good.split('.');
    const claims = decodeJwt(good);
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, preferred_username: 'admin@contoso.example' })).toString('base64url')}.${good.split('.')[2]}`;
    const otherKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreignKey = signJwt(claims, { kid: JSON.parse(Buffer.from(header, 'base64url')).kid, privateKey: otherKey.privateKey });
    const cases = [
      [request(base).get('/dev-api/me'), 'no bearer token'],
      [call(tampered), 'invalid signature'],
      [call(foreignKey), 'invalid signature'],
      [call(`${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`), 'unexpected algorithm'],
      [call(signJwt({ ...claims, aud: 'api://other' })), 'wrong audience'],
      [call(signJwt({ ...claims, iss: 'https://evil.example/v2.0' })), 'untrusted issuer'],
      [call(signJwt({ ...claims, exp: Math.floor(Date.now() / 1000) - 120 })), 'token expired'],
      [call(signJwt({ ...claims, scp: 'Other.Scope' })), 'lacks the Data.Read scope'],
    ];
    for (const [pending, reason] of cases) {
      const response = await pending.expect(401);
      expect(response.body.error_description).toContain(reason);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    }
  });

  test('verifyJwt reports malformed input as a validation error', () => {
    expect(() => verifyJwt('a.b', { jwks: idp.jwks(), issuer: () => true, audience: AUDIENCE })).toThrow(TokenValidationError);
    expect(() => verifyJwt('!!.!!.!!', { jwks: idp.jwks(), issuer: () => true, audience: AUDIENCE })).toThrow('malformed token');
  });
});
