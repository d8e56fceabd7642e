'use strict';
// An in-process fake of the Microsoft Entra v2.0 token endpoint, so a real
// @azure/msal-node ConfidentialClientApplication runs offline:
//
//   const idp = createFakeIdentityProvider({ clientId: 'app-id' });
//   const cca = new ConfidentialClientApplication(idp.msalConfig({ cachePlugin }));
//   const alice = idp.addUser({ username: 'alice@contoso.example' });
//   await cca.acquireTokenByCode({ code: idp.issueCode(alice, { scopes }), scopes, redirectUri });
//   expect(idp.requests).toHaveLength(1);
//
// msal-node 7 does not verify id_token signatures, aud, iss or exp; it reads the claims, builds
// homeAccountId "<uid>.<utid>" from client_info, and rejects an id_token nonce that the request
// did not expect. Every token endpoint call is recorded in `requests`.

const crypto = require('node:crypto');

const HOST = 'login.microsoftonline.com';
const DEFAULT_TENANT_ID = '11111111-1111-4111-8111-111111111111';
const DEFAULT_CLIENT_SECRET = 'fake-client-secret';
const GRAPH = 'https://graph.microsoft.com';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

const GRANT = {
  CODE: 'authorization_code',
  REFRESH: 'refresh_token',
  CLIENT_CREDENTIALS: 'client_credentials',
  OBO: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
};

function createFakeIdentityProvider({ clientId, tenantId = DEFAULT_TENANT_ID, clientSecret = DEFAULT_CLIENT_SECRET } = {}) {
  if (!clientId) throw new Error('createFakeIdentityProvider: clientId is required');

  const requests = [];
  const failures = [];
  const codes = new Map(); // code -> { user, scopes, nonce }
  const refreshTokens = new Map(); // refresh token -> { user, revoked }
  const accessTokens = new Map(); // access token -> { user (null for app tokens), exp }
  let accessTokenLifetime = 3600;

  // ---- test API -------------------------------------------------------------------------

  function addUser({ oid = crypto.randomUUID(), tid = tenantId, username, name } = {}) {
    const user = { oid, tid, username: username || `user-${oid.slice(0, 8)}@contoso.example`, name: name || 'Test User' };
    user.homeAccountId = `${user.oid}.${user.tid}`;
    return user;
  }

  // What /authorize would hand back to the redirect URI after the user signs in.
  function issueCode(user, { scopes, nonce } = {}) {
    const code = `fake-code-${random()}`;
    codes.set(code, { user, scopes, nonce });
    return code;
  }

  // Follows an authorize URL from cca.getAuthCodeUrl() as `user` would, keeping its scopes,
  // nonce and state. Returns the code and the redirect location with ?code=&state=.
  function authorize(authorizeUrl, user) {
    const query = new URL(authorizeUrl).searchParams;
    const scopes = (query.get('scope') || '').split(' ').filter(Boolean);
    const code = issueCode(user, { scopes, nonce: query.get('nonce') || undefined });
    const location = new URL(query.get('redirect_uri'));
    location.searchParams.set('code', code);
    if (query.get('state')) location.searchParams.set('state', query.get('state'));
    location.searchParams.set('client_info', clientInfo(user));
    return { code, state: query.get('state') || undefined, location: location.toString() };
  }

  // An access token this IdP accepts as an on-behalf-of assertion (an API's incoming token).
  function issueAccessToken(user, { scopes = ['access_as_user'], audience = clientId } = {}) {
    return mintAccessToken(user, user.tid, scopes, audience);
  }

  function setAccessTokenLifetime(seconds) {
    accessTokenLifetime = seconds;
  }

  // The next token request fails with this status and OAuth error code (queued, one per call).
  function failNext(status, errorCode = 'temporarily_unavailable') {
    failures.push({ status, errorCode });
  }

  function revokeRefreshTokens(user) {
    for (const entry of refreshTokens.values()) {
      if (entry.user.oid === user.oid && entry.user.tid === user.tid) entry.revoked = true;
    }
  }

  // ---- msal-node wiring -----------------------------------------------------------------

  const networkClient = {
    async sendGetRequestAsync(url) {
      requests.push({ method: 'GET', grantType: null, tenant: tenantOf(url), url, body: null });
      const { pathname } = new URL(url);
      if (pathname.endsWith('/.well-known/openid-configuration')) return ok(openIdConfiguration(tenantOf(url)));
      if (pathname.endsWith('/discovery/instance')) return ok(cloudDiscovery());
      throw new Error(`fake identity provider: unexpected GET ${url}`);
    },
    async sendPostRequestAsync(url, options = {}) {
      const form = new URLSearchParams(options.body || '');
      const request = { method: 'POST', grantType: form.get('grant_type'), tenant: tenantOf(url), url, body: Object.fromEntries(form) };
      requests.push(request);
      if (!new URL(url).pathname.endsWith('/oauth2/v2.0/token')) {
        throw new Error(`fake identity provider: unexpected POST ${url}`);
      }
      return tokenEndpoint(request, form);
    },
  };

  function msalConfig({ cachePlugin, tenantId: tenant = tenantId } = {}) {
    return {
      auth: {
        clientId,
        clientSecret,
        authority: `https://${HOST}/${tenant}`,
        authorityMetadata: JSON.stringify(openIdConfiguration('{tenant}')),
        cloudDiscoveryMetadata: JSON.stringify(cloudDiscovery()),
      },
      system: { networkClient },
      cache: cachePlugin ? { cachePlugin } : {},
    };
  }

  // ---- token endpoint -------------------------------------------------------------------

  function tokenEndpoint(request, form) {
    if (failures.length) {
      const { status, errorCode } = failures.shift();
      return oauthError(status, errorCode, 'AADSTS90000: failure injected by the test (failNext)');
    }
    if (form.get('client_id') !== clientId) {
      return oauthError(400, 'unauthorized_client', `AADSTS700016: Application '${form.get('client_id')}' was not found.`);
    }
    if (form.get('client_secret') !== clientSecret) {
      return oauthError(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
    }
    const scopes = (form.get('scope') || '').split(' ').filter(Boolean);
    const wantsClientInfo = form.get('client_info') === '1';

    switch (request.grantType) {
      case GRANT.CODE: {
        const grant = codes.get(form.get('code'));
        if (!grant) return oauthError(400, 'invalid_grant', 'AADSTS54005: OAuth2 Authorization code was already redeemed or is unknown.');
        codes.delete(form.get('code'));
        const resourceScopes = grant.scopes ? grant.scopes : scopes;
        const granted = [...new Set([...resourceScopes, ...scopes.filter((s) => OIDC_SCOPES.includes(s))])];
        return userTokens(grant.user, request.tenant, granted, wantsClientInfo, grant.nonce);
      }
      case GRANT.REFRESH: {
        const entry = refreshTokens.get(form.get('refresh_token'));
        if (!entry || entry.revoked) {
          return oauthError(400, 'invalid_grant', 'AADSTS70043: The refresh token has expired or is invalid.', 'bad_token');
        }
        return userTokens(entry.user, request.tenant, scopes, wantsClientInfo);
      }
      case GRANT.OBO: {
        const incoming = accessTokens.get(form.get('assertion'));
        if (!incoming || !incoming.user) {
          return oauthError(400, 'invalid_grant', 'AADSTS50013: Assertion failed signature validation.');
        }
        if (incoming.exp <= nowSeconds()) {
          return oauthError(400, 'invalid_grant', 'AADSTS500133: Assertion is not within its valid time range.');
        }
        return userTokens(incoming.user, request.tenant, scopes, wantsClientInfo);
      }
      case GRANT.CLIENT_CREDENTIALS: {
        if (!GUID.test(request.tenant)) {
          return oauthError(400, 'invalid_request', `AADSTS90002: Tenant '${request.tenant}' not found.`);
        }
        return ok({
          token_type: 'Bearer',
          expires_in: accessTokenLifetime,
          ext_expires_in: accessTokenLifetime,
          access_token: mintAccessToken(null, request.tenant, scopes, audienceOf(scopes)),
        });
      }
      default:
        return oauthError(400, 'unsupported_grant_type', `AADSTS70003: grant type '${request.grantType}' is not supported.`);
    }
  }

  function userTokens(user, urlTenant, scopes, wantsClientInfo, nonce) {
    // Guests are not modelled: a concrete tenant in the URL must be the user's home tenant.
    if (GUID.test(urlTenant) && urlTenant.toLowerCase() !== user.tid.toLowerCase()) {
      return oauthError(400, 'invalid_grant', `AADSTS50020: User account '${user.username}' does not exist in tenant '${urlTenant}'.`);
    }
    const granted = scopes.filter((s) => s !== 'offline_access'); // Entra never echoes offline_access
    const resourceScopes = granted.filter((s) => !OIDC_SCOPES.includes(s));
    const refreshToken = `fake-rt-${random()}`;
    refreshTokens.set(refreshToken, { user, revoked: false });
    const body = {
      token_type: 'Bearer',
      scope: granted.join(' '),
      expires_in: accessTokenLifetime,
      ext_expires_in: accessTokenLifetime,
      access_token: mintAccessToken(user, user.tid, resourceScopes, audienceOf(resourceScopes)),
      refresh_token: refreshToken,
      id_token: idToken(user, nonce),
    };
    if (wantsClientInfo) body.client_info = clientInfo(user);
    return ok(body);
  }

  function idToken(user, nonce) {
    const iat = nowSeconds();
    const claims = {
      aud: clientId,
      iss: `https://${HOST}/${user.tid}/v2.0`,
      iat,
      nbf: iat,
      exp: iat + 3600,
      name: user.name,
      oid: user.oid,
      preferred_username: user.username,
      sub: `sub-${user.oid}`, // pairwise in Entra: not the oid
      tid: user.tid,
      ver: '2.0',
    };
    if (nonce !== undefined) claims.nonce = nonce;
    return fakeJwt(claims);
  }

  function mintAccessToken(user, tid, scopes, audience) {
    const iat = nowSeconds();
    const exp = iat + accessTokenLifetime;
    const claims = { aud: audience, iss: `https://${HOST}/${tid}/v2.0`, iat, nbf: iat, exp, azp: clientId, tid, uti: random(), ver: '2.0' };
    if (user) Object.assign(claims, { oid: user.oid, sub: `sub-${user.oid}`, name: user.name, preferred_username: user.username, scp: scopes.join(' ') });
    else Object.assign(claims, { oid: `sp-${clientId}`, sub: `sp-${clientId}`, roles: [] });
    const token = fakeJwt(claims);
    accessTokens.set(token, { user, exp });
    return token;
  }

  return {
    clientId,
    clientSecret,
    tenantId,
    authority: `https://${HOST}/${tenantId}`,
    requests,
    networkClient,
    msalConfig,
    addUser,
    issueCode,
    authorize,
    issueAccessToken,
    setAccessTokenLifetime,
    failNext,
    revokeRefreshTokens,
  };
}

// ---- helpers --------------------------------------------------------------------------

function openIdConfiguration(tenant) {
  const base = `https://${HOST}/${tenant}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `https://${HOST}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/v2.0`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    tenant_region_scope: null,
    cloud_instance_name: 'microsoftonline.com',
  };
}

function cloudDiscovery() {
  return {
    tenant_discovery_endpoint: `https://${HOST}/{tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{
      preferred_network: HOST,
      preferred_cache: 'login.windows.net',
      aliases: [HOST, 'login.windows.net', 'login.microsoft.com', 'sts.windows.net'],
    }],
  };
}

function ok(body) {
  return { status: 200, headers: responseHeaders(), body };
}

function oauthError(status, error, description, suberror) {
  const body = {
    error,
    error_description: `${description}\r\nTrace ID: ${crypto.randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
    error_codes: [Number((/AADSTS(\d+)/.exec(description) || [])[1]) || 0],
    timestamp: new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    trace_id: crypto.randomUUID(),
    correlation_id: crypto.randomUUID(),
  };
  if (suberror) body.suberror = suberror;
  return { status, headers: responseHeaders(), body };
}

function responseHeaders() {
  return { 'content-type': 'application/json; charset=utf-8', 'x-ms-request-id': crypto.randomUUID() };
}

function clientInfo(user) {
  return base64url(JSON.stringify({ uid: user.oid, utid: user.tid }));
}

// A JWT-shaped token with an RS256 header and a random (unverifiable) signature.
function fakeJwt(claims) {
  const header = { typ: 'JWT', alg: 'RS256', kid: 'fake-signing-key' };
  return [base64url(JSON.stringify(header)), base64url(JSON.stringify(claims)), base64url(crypto.randomBytes(32))].join('.');
}

// "https://graph.microsoft.com/.default" -> "https://graph.microsoft.com"; bare scopes are Graph's.
function audienceOf(scopes) {
  const scoped = scopes.find((s) => s.includes('/'));
  return scoped ? scoped.slice(0, scoped.lastIndexOf('/')) : GRAPH;
}

function tenantOf(url) {
  return new URL(url).pathname.split('/')[1] || '';
}

function base64url(input) {
  return Buffer.from(input).toString('base64url');
}

function random() {
  return crypto.randomBytes(16).toString('base64url');
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

module.exports = { createFakeIdentityProvider, DEFAULT_TENANT_ID };
