'use strict';
// The example's development services on their own: the dev identity provider over HTTP (sign-in page, token
// endpoint, metadata, keys) and the downstream API's token validation (jose, as an API validates Entra's tokens).

const crypto = require('node:crypto');
const { createPublicKey } = require('node:crypto');
const express = require('express');
const request = require('supertest');
const { createDevIdentityProvider } = require('../../../examples/dev-identity-provider/tokens');
const { createDevIdentityProviderRouter } = require('../../../examples/dev-identity-provider/http');
require('./helpers'); // first: it makes require('jose') work under Jest
const { createDownstreamApi } = require('../../../examples/express/downstream-api');
const { signJwt, decodeJwt, jwks } = require('../../../examples/dev-identity-provider/jwt');

const CLIENT_ID = 'c1c1c1c1-0000-4000-8000-000000000001';
const AUDIENCE = 'api://test-api';

// A second signing key, as an identity provider has during a key rollover: published next to the first.
const rolloverKey = { kid: 'rollover-key', ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }) };

let idp;
let server;
let base;
let tenantPath;

beforeEach(async () => {
  idp = createDevIdentityProvider({ clientId: CLIENT_ID });
  const app = express();
  app.use('/dev-idp', createDevIdentityProviderRouter(idp));
  const api = { issuer: idp.issuer, audience: AUDIENCE, scope: 'Data.Read' };
  app.use('/dev-api', createDownstreamApi({ ...api, jwks: idp.jwks() }));
  // Two audiences (an Entra API accepts its client ID and its App ID URI), and two published keys.
  app.use('/two-audiences', createDownstreamApi({ ...api, jwks: idp.jwks(), audience: ['api-client-id', AUDIENCE] }));
  app.use('/two-keys', createDownstreamApi({ ...api, jwks: { keys: [...idp.jwks().keys, ...jwks(rolloverKey).keys] } }));
  app.get('/auth/redirect', (req, res) => res.send('back in the app'));
  server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  base = `http://127.0.0.1:${server.address().port}`;
  tenantPath = `/dev-idp/${idp.tenantId}`;
  // Keys fetched over HTTP from the provider's jwks_uri (createRemoteJWKSet), as an API fetches Entra's.
  app.use('/remote-keys', createDownstreamApi({ ...api, jwks: new URL(`${base}${tenantPath}/discovery/v2.0/keys`) }));
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

    // Keys and metadata let anyone verify the tokens: an API that fetches the keys from jwks_uri accepts it.
    const config = await request(base).get(`${tenantPath}/v2.0/.well-known/openid-configuration`).expect(200);
    expect(config.body.authorization_endpoint).toBe(`${base}${tenantPath}/oauth2/v2.0/authorize`);
    expect(config.body.jwks_uri).toBe(`${base}${tenantPath}/discovery/v2.0/keys`);
    expect(config.body.issuer).toBe(idp.issuer);
    const me = await request(base).get('/remote-keys/me').set('Authorization', `Bearer ${body.access_token}`).expect(200);
    expect(me.body.token).toMatchObject({ scopes: 'Data.Read', audience: AUDIENCE });
    expect(me.body.user.username).toBe('carol@contoso.example');
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
  const call = (token, api = '/dev-api') => request(base).get(`${api}/me`).set('Authorization', `Bearer ${token}`);
  const goodToken = () => idp.issueAccessToken(user(), { audience: AUDIENCE, scopes: [`${AUDIENCE}/Data.Read`] });
  const base64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

  test('accepts a token of the dev identity provider for its audience and scope', async () => {
    const { body } = await call(goodToken()).expect(200);
    expect(body.user.username).toBe('dave@contoso.example');
  });

  test('an audience given as an array: in the token, and in what the API accepts', async () => {
    const claims = decodeJwt(goodToken());
    const { body } = await call(signJwt({ ...claims, aud: ['api://other', AUDIENCE] })).expect(200);
    expect(body.token.audience).toEqual(['api://other', AUDIENCE]);
    await call(signJwt({ ...claims, aud: 'api-client-id' }), '/two-audiences').expect(200);
    await call(goodToken(), '/two-audiences').expect(200);
    const refused = await call(signJwt({ ...claims, aud: ['api://other', 'api://another'] }), '/two-audiences').expect(401);
    expect(refused.body.error_description).toBe('wrong audience');
  });

  test('the signing key is the one the token names (kid), among those the issuer publishes', async () => {
    const claims = decodeJwt(goodToken());
    await call(signJwt(claims, rolloverKey), '/two-keys').expect(200);
    await call(goodToken(), '/two-keys').expect(200);
    // The rollover key is not published to /dev-api; signed with it but naming the current key's kid: forged.
    expect((await call(signJwt(claims, rolloverKey)).expect(401)).body.error_description).toBe('unknown signing key');
    const currentKid = JSON.parse(Buffer.from(goodToken().split('.')[0], 'base64url')).kid;
    const misnamed = signJwt(claims, { ...rolloverKey, kid: currentKid });
    expect((await call(misnamed, '/two-keys').expect(401)).body.error_description).toBe('invalid signature');
  });

  test('refuses missing, forged, foreign, expired and under-scoped tokens', async () => {
    const good = goodToken();
    const [header, payload] = good.split('.');
    const claims = decodeJwt(good);
    const tampered = `${header}.${base64url({ ...claims, preferred_username: 'admin@contoso.example' })}.${good.split('.')[2]}`;
    const otherKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { kid } = JSON.parse(Buffer.from(header, 'base64url'));
    const foreignKey = signJwt(claims, { kid, privateKey: otherKey.privateKey });
    // The classic confusion: HMAC-SHA256 keyed with the issuer's public key, which anyone can fetch.
    const publicPem = createPublicKey({ key: idp.jwks().keys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const hsInput = `${base64url({ alg: 'HS256', typ: 'JWT', kid })}.${payload}`;
    const hs256 = `${hsInput}.${crypto.createHmac('sha256', publicPem).update(hsInput).digest('base64url')}`;
    const now = Math.floor(Date.now() / 1000);
    const cases = [
      [request(base).get('/dev-api/me'), 'no bearer token'],
      [call('a.b'), 'malformed token'],
      [call('!!.!!.!!'), 'malformed token'],
      [call(tampered), 'invalid signature'],
      [call(foreignKey), 'invalid signature'],
      [call(`${base64url({ alg: 'none', typ: 'JWT' })}.${payload}.`), 'unexpected algorithm'],
      [call(hs256), 'unexpected algorithm'],
      [call(`${base64url({ alg: 'RS256', kid: 'unknown' })}.${payload}.${good.split('.')[2]}`), 'unknown signing key'],
      [call(signJwt({ ...claims, aud: 'api://other' })), 'wrong audience'],
      [call(signJwt({ ...claims, iss: 'https://evil.example/v2.0' })), 'untrusted issuer'],
      // Another tenant's token is refused by this single-tenant API, though the same provider signed it.
      [call(signJwt({ ...claims, iss: 'https://login.microsoftonline.com/22222222-2222-4222-8222-222222222222/v2.0' })), 'untrusted issuer'],
      [call(signJwt({ ...claims, exp: now - 120 })), 'token expired'],
      [call(signJwt({ ...claims, exp: undefined })), 'missing exp claim'],
      [call(signJwt({ ...claims, nbf: now + 600 })), 'token not yet valid'],
      [call(signJwt({ ...claims, scp: 'Other.Scope' })), 'lacks the Data.Read scope'],
    ];
    for (const [pending, reason] of cases) {
      const response = await pending.expect(401);
      expect(response.body.error_description).toContain(reason);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    }
  });

  test('keys that cannot be fetched are the API\'s failure, not a refused token', async () => {
    const app = express();
    app.use('/api', createDownstreamApi({ jwks: new URL('http://127.0.0.1:1/keys'), issuer: idp.issuer, audience: AUDIENCE, scope: 'Data.Read' }));
    await request(app).get('/api/me').set('Authorization', `Bearer ${goodToken()}`).expect(500);
  });
});
