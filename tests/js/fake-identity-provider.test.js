'use strict';
// Proves the fake identity provider drives a real ConfidentialClientApplication offline,
// with msal-node's default in-memory cache (no cache plugin).

const { ConfidentialClientApplication, InteractionRequiredAuthError, ServerError } = require('@azure/msal-node');
const { createFakeIdentityProvider } = require('../support/fake-identity-provider');

const CLIENT_ID = 'c0ffee00-0000-4000-8000-000000000001';
const TENANT_A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const TENANT_B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const SCOPES = ['User.Read'];
const REDIRECT_URI = 'http://localhost:3000/auth/redirect';

function decodeJwt(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

let idp;
let cca;
let alice;

beforeEach(() => {
  idp = createFakeIdentityProvider({ clientId: CLIENT_ID, tenantId: TENANT_A });
  cca = new ConfidentialClientApplication(idp.msalConfig());
  alice = idp.addUser({ username: 'alice@contoso.example', name: 'Alice' });
});

function cachedRefreshTokens() {
  return Object.values(JSON.parse(cca.getTokenCache().serialize()).RefreshToken).map((rt) => rt.secret);
}

async function signIn(user, scopes = SCOPES) {
  const code = idp.issueCode(user, { scopes });
  return cca.acquireTokenByCode({ code, scopes, redirectUri: REDIRECT_URI });
}

describe('authorization code + silent flows', () => {
  test('acquireTokenByCode returns the account and makes exactly one token request', async () => {
    const result = await signIn(alice);

    expect(result.account.homeAccountId).toBe(`${alice.oid}.${TENANT_A}`);
    expect(result.account.username).toBe('alice@contoso.example');
    expect(result.account.tenantId).toBe(TENANT_A);
    expect(result.account.idTokenClaims.nonce).toBeUndefined();
    expect(result.accessToken).toBeTruthy();
    expect(result.scopes).toEqual(expect.arrayContaining(['User.Read']));
    expect(idp.requests).toEqual([
      expect.objectContaining({ method: 'POST', grantType: 'authorization_code', tenant: TENANT_A }),
    ]); // and no metadata / discovery GETs
  });

  test('acquireTokenSilent right after sign-in is served from memory', async () => {
    const first = await signIn(alice);
    const silent = await cca.acquireTokenSilent({ account: first.account, scopes: SCOPES });

    expect(silent.fromCache).toBe(true);
    expect(silent.accessToken).toBe(first.accessToken);
    expect(idp.requests).toHaveLength(1);
  });

  test('an expired access token is renewed with the refresh_token grant', async () => {
    // msal treats tokens as expired 300 s early, so a 1 s lifetime is expired on arrival.
    idp.setAccessTokenLifetime(1);
    const first = await signIn(alice);
    const firstRefreshToken = cachedRefreshTokens()[0];
    idp.setAccessTokenLifetime(3600);

    const renewed = await cca.acquireTokenSilent({ account: first.account, scopes: SCOPES });

    expect(renewed.fromCache).toBe(false);
    expect(renewed.accessToken).not.toBe(first.accessToken);
    expect(renewed.account.homeAccountId).toBe(first.account.homeAccountId);
    expect(idp.requests.map((r) => r.grantType)).toEqual(['authorization_code', 'refresh_token']);
    expect(idp.requests[1].body.refresh_token).toBe(firstRefreshToken);

    // The refresh token rotated, and msal replaced the cached one.
    const cached = cachedRefreshTokens();
    expect(cached).toHaveLength(1);
    expect(cached[0]).not.toBe(firstRefreshToken);
  });

  test('forceRefresh uses the refresh_token grant even when the access token is valid', async () => {
    const first = await signIn(alice);
    const refreshed = await cca.acquireTokenSilent({ account: first.account, scopes: SCOPES, forceRefresh: true });

    expect(refreshed.fromCache).toBe(false);
    expect(idp.requests.map((r) => r.grantType)).toEqual(['authorization_code', 'refresh_token']);
  });

  test('old refresh tokens keep working until revoked; revoked ones need interaction', async () => {
    const first = await signIn(alice);
    await cca.acquireTokenSilent({ account: first.account, scopes: SCOPES, forceRefresh: true });
    const oldRefreshToken = idp.requests[1].body.refresh_token;

    const other = new ConfidentialClientApplication(idp.msalConfig());
    await expect(other.acquireTokenByRefreshToken({ refreshToken: oldRefreshToken, scopes: SCOPES }))
      .resolves.toMatchObject({ account: { homeAccountId: alice.homeAccountId } });

    idp.revokeRefreshTokens(alice);
    await expect(cca.acquireTokenSilent({ account: first.account, scopes: SCOPES, forceRefresh: true }))
      .rejects.toBeInstanceOf(InteractionRequiredAuthError);
  });

  test('an authorization code is accepted once', async () => {
    const code = idp.issueCode(alice, { scopes: SCOPES });
    await cca.acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT_URI });
    await expect(cca.acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT_URI }))
      .rejects.toMatchObject({ errorCode: 'invalid_grant' });
  });

  test('authorize() follows getAuthCodeUrl, carrying state and nonce into the id_token', async () => {
    const url = await cca.getAuthCodeUrl({ scopes: SCOPES, redirectUri: REDIRECT_URI, state: 'st-1', nonce: 'n-1' });
    const { code, state, location } = idp.authorize(url, alice);
    expect(state).toBe('st-1');
    expect(new URL(location).searchParams.get('code')).toBe(code);

    const result = await cca.acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT_URI, nonce: 'n-1' });
    expect(result.idTokenClaims.nonce).toBe('n-1');

    const url2 = await cca.getAuthCodeUrl({ scopes: SCOPES, redirectUri: REDIRECT_URI, nonce: 'n-2' });
    const { code: code2 } = idp.authorize(url2, alice);
    await expect(cca.acquireTokenByCode({ code: code2, scopes: SCOPES, redirectUri: REDIRECT_URI, nonce: 'other' }))
      .rejects.toMatchObject({ errorCode: 'nonce_mismatch' });
  });

  test('users from another tenant sign in through the organizations authority', async () => {
    const bob = idp.addUser({ tid: TENANT_B, username: 'bob@fabrikam.example' });
    const multiTenant = new ConfidentialClientApplication(idp.msalConfig({ tenantId: 'organizations' }));
    const code = idp.issueCode(bob, { scopes: SCOPES });
    const result = await multiTenant.acquireTokenByCode({ code, scopes: SCOPES, redirectUri: REDIRECT_URI });

    expect(result.account.homeAccountId).toBe(`${bob.oid}.${TENANT_B}`);
    expect(idp.requests[0].tenant).toBe('organizations');
  });
});

describe('client credentials', () => {
  test('tokens for two tenants are fetched once each and cached per tenant', async () => {
    const scopes = ['https://graph.microsoft.com/.default'];
    const authorityOf = (tenant) => `https://login.microsoftonline.com/${tenant}`;

    const a = await cca.acquireTokenByClientCredential({ scopes, authority: authorityOf(TENANT_A) });
    const b = await cca.acquireTokenByClientCredential({ scopes, authority: authorityOf(TENANT_B) });
    const aAgain = await cca.acquireTokenByClientCredential({ scopes, authority: authorityOf(TENANT_A) });

    expect(decodeJwt(a.accessToken)).toMatchObject({ tid: TENANT_A, aud: 'https://graph.microsoft.com' });
    expect(decodeJwt(b.accessToken)).toMatchObject({ tid: TENANT_B });
    expect(a.account).toBeNull();
    expect(aAgain.fromCache).toBe(true);
    expect(aAgain.accessToken).toBe(a.accessToken);
    expect(idp.requests.map((r) => [r.grantType, r.tenant])).toEqual([
      ['client_credentials', TENANT_A],
      ['client_credentials', TENANT_B],
    ]);

    const appTokens = Object.values(JSON.parse(cca.getTokenCache().serialize()).AccessToken);
    expect(appTokens.map((t) => [t.home_account_id, t.realm]).sort()).toEqual([['', TENANT_A], ['', TENANT_B]]);
  });

  test('a wrong client secret is rejected as invalid_client', async () => {
    const config = idp.msalConfig();
    config.auth.clientSecret = 'wrong';
    const wrong = new ConfidentialClientApplication(config);
    await expect(wrong.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }))
      .rejects.toMatchObject({ errorCode: 'invalid_client' });
  });
});

describe('on-behalf-of', () => {
  test('exchanges an incoming token for tokens of the same user, then serves them from cache', async () => {
    const incoming = idp.issueAccessToken(alice, { audience: `api://${CLIENT_ID}` });
    const request = { oboAssertion: incoming, scopes: SCOPES };

    const first = await cca.acquireTokenOnBehalfOf(request);
    expect(first.account.homeAccountId).toBe(alice.homeAccountId);
    expect(decodeJwt(first.accessToken)).toMatchObject({ oid: alice.oid, scp: 'User.Read' });
    expect(idp.requests).toEqual([expect.objectContaining({
      grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      body: expect.objectContaining({ assertion: incoming, requested_token_use: 'on_behalf_of' }),
    })]);

    const second = await cca.acquireTokenOnBehalfOf(request);
    expect(second.fromCache).toBe(true);
    expect(idp.requests).toHaveLength(1);
  });

  test('an assertion the IdP did not issue is rejected', async () => {
    await expect(cca.acquireTokenOnBehalfOf({ oboAssertion: 'a.b.c', scopes: SCOPES }))
      .rejects.toMatchObject({ errorCode: 'invalid_grant' });
  });
});

describe('failure injection', () => {
  test('failNext makes the next token request fail with that status and error', async () => {
    idp.failNext(400, 'invalid_request');
    await expect(signIn(alice)).rejects.toMatchObject({ errorCode: 'invalid_request' });
    await expect(signIn(alice)).resolves.toMatchObject({ account: { homeAccountId: alice.homeAccountId } });
  });

  test('after a 5xx msal throttles the identical request in memory for a while (no network call)', async () => {
    const request = { scopes: ['https://graph.microsoft.com/.default'] };
    idp.failNext(503, 'temporarily_unavailable');
    await expect(cca.acquireTokenByClientCredential(request)).rejects.toMatchObject({ errorCode: 'temporarily_unavailable' });
    // The throttle entry replays the stored error without calling the network.
    await expect(cca.acquireTokenByClientCredential(request)).rejects.toBeInstanceOf(ServerError);
    expect(idp.requests).toHaveLength(1);
  });
});
