'use strict';
// A local development stand-in for the Microsoft Entra ID v2.0 endpoints: it issues authorization codes and
// realistic tokens (RS256-signed JWTs, client_info, rotating refresh tokens), so a real @azure/msal-node
// ConfidentialClientApplication runs with no internet and no tenant. One implementation, two ways in:
//   - in-process, as msal's `system.networkClient` (tests, and the example's dev mode), and
//   - over HTTP, through ./http.js (the sign-in page the browser sees, and a token endpoint for other clients).
//
//   const idp = createDevIdentityProvider({ clientId: 'app-id' });
//   const cca = new ConfidentialClientApplication(idp.msalConfig({ cachePlugin }));
//   const alice = idp.addUser({ username: 'alice@contoso.example' });
//   await cca.acquireTokenByCode({ code: idp.issueCode(alice, { scopes }), scopes, redirectUri });
//   expect(idp.requests).toHaveLength(1);
//
// msal-node 7 does not verify id_token signatures, aud, iss or exp; it reads the claims, builds homeAccountId
// "<uid>.<utid>" from client_info, and rejects an id_token nonce that the request did not expect. The tokens are
// signed anyway (see jwks()) so that an API can verify them as it would verify Entra's. The latest token endpoint
// calls are recorded in `requests`; what it keeps (codes, tokens, that log) is bounded by ./limits.js, and
// `retained()` counts it.

const crypto = require('node:crypto');
const { signJwt, jwks, base64url } = require('./jwt');
const { LIMITS, setBounded, recordedBody, nowSeconds } = require('./limits');

const HOST = 'login.microsoftonline.com';
const DEFAULT_TENANT_ID = '11111111-1111-4111-8111-111111111111';
const DEFAULT_CLIENT_SECRET = 'fake-client-secret';
const GRAPH = 'https://graph.microsoft.com';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'];
const CODE_LIFETIME_SECONDS = 600; // Entra's authorization codes live about ten minutes

const GRANT = {
  CODE: 'authorization_code',
  REFRESH: 'refresh_token',
  CLIENT_CREDENTIALS: 'client_credentials',
  OBO: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
};

function createDevIdentityProvider({ clientId, tenantId = DEFAULT_TENANT_ID, clientSecret = DEFAULT_CLIENT_SECRET, signingKey } = {}) {
  if (!clientId) throw new Error('createDevIdentityProvider: clientId is required');

  const requests = [];
  const grantCounts = {}; // grant type -> token requests ever made with it (the log keeps only the latest)
  const failures = [];
  const codes = new Map(); // code -> { user, scopes, nonce, redirectUri, codeChallenge, codeChallengeMethod, exp, dropAfter }
  const refreshTokens = new Map(); // refresh token -> { user, revoked }
  const accessTokens = new Map(); // access token -> { user (null for app tokens), exp, dropAfter }
  let accessTokenLifetime = 3600;
  const sign = (claims) => signJwt(claims, signingKey);

  // ---- users and codes ------------------------------------------------------------------

  function addUser({ oid = crypto.randomUUID(), tid = tenantId, username, name } = {}) {
    const user = { oid, tid, username: username || `user-${oid.slice(0, 8)}@contoso.example`, name: name || 'Test User' };
    user.homeAccountId = `${user.oid}.${user.tid}`;
    return user;
  }

  // The user a username stands for on the sign-in page: the same object id every time, as in a real directory.
  function userNamed(username, name) {
    const digest = crypto.createHash('sha256').update(`${tenantId}\n${username.toLowerCase()}`).digest('hex');
    const oid = `${digest.slice(0, 8)}-${digest.slice(8, 12)}-4${digest.slice(13, 16)}-8${digest.slice(17, 20)}-${digest.slice(20, 32)}`;
    return addUser({ oid, username, name: name || username.split('@')[0] });
  }

  // What /authorize would hand back to the redirect URI after the user signs in.
  function issueCode(user, { scopes, nonce, redirectUri, codeChallenge, codeChallengeMethod } = {}) {
    const code = `dev-code-${random()}`;
    const exp = nowSeconds() + CODE_LIFETIME_SECONDS;
    setBounded(codes, code, { user, scopes, nonce, redirectUri, codeChallenge, codeChallengeMethod, exp, dropAfter: exp }, LIMITS.codes);
    return code;
  }

  /**
   * The authorization endpoint's decision for a user who signed in: checks the request as Entra would
   * (client, response type, PKCE method) and returns the code and the redirect location with ?code=&state=.
   * @param {URLSearchParams} query the authorize request's parameters
   * @throws {Error} with an AADSTS-style message for a request Entra would refuse
   */
  function authorizeRequest(query, user) {
    if (query.get('client_id') !== null && query.get('client_id') !== clientId) {
      throw new Error(`AADSTS700016: Application with identifier '${query.get('client_id')}' was not found.`);
    }
    if (query.get('response_type') !== null && query.get('response_type') !== 'code') {
      throw new Error(`AADSTS900144: unsupported response_type '${query.get('response_type')}'.`);
    }
    let location;
    try {
      location = new URL(query.get('redirect_uri'));
    } catch {
      throw new Error('AADSTS900144: The request body must contain the following parameter: redirect_uri.');
    }
    const codeChallenge = query.get('code_challenge') || undefined;
    const codeChallengeMethod = codeChallenge ? query.get('code_challenge_method') || 'plain' : undefined;
    if (codeChallenge && !['S256', 'plain'].includes(codeChallengeMethod)) {
      throw new Error(`AADSTS501491: Invalid code_challenge_method '${codeChallengeMethod}'.`);
    }
    const scopes = (query.get('scope') || '').split(' ').filter(Boolean);
    const code = issueCode(user, {
      scopes, nonce: query.get('nonce') || undefined, redirectUri: query.get('redirect_uri'), codeChallenge, codeChallengeMethod,
    });
    location.searchParams.set('code', code);
    if (query.get('state')) location.searchParams.set('state', query.get('state'));
    location.searchParams.set('client_info', clientInfo(user));
    return { code, state: query.get('state') || undefined, location: location.toString() };
  }

  // Follows an authorize URL from cca.getAuthCodeUrl() as `user` would, keeping its scopes, nonce and state.
  function authorize(authorizeUrl, user) {
    return authorizeRequest(new URL(authorizeUrl).searchParams, user);
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
      record({ method: 'GET', grantType: null, tenant: tenantOf(url), url, body: null });
      const { pathname } = new URL(url);
      if (pathname.endsWith('/.well-known/openid-configuration')) return ok(openIdConfiguration(tenantOf(url)));
      if (pathname.endsWith('/discovery/instance')) return ok(cloudDiscovery());
      throw new Error(`dev identity provider: unexpected GET ${url}`);
    },
    async sendPostRequestAsync(url, options = {}) {
      if (!new URL(url).pathname.endsWith('/oauth2/v2.0/token')) {
        record({ method: 'POST', grantType: null, tenant: tenantOf(url), url, body: null });
        throw new Error(`dev identity provider: unexpected POST ${url}`);
      }
      return token(tenantOf(url), new URLSearchParams(options.body || ''), url);
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

  /** The token endpoint for `tenant` (the first path segment); `form` is the request body. */
  function token(tenant, form, url = `https://${HOST}/${tenant}/oauth2/v2.0/token`) {
    const request = { method: 'POST', grantType: form.get('grant_type'), tenant, url, body: recordedBody(form) };
    record(request);
    grantCounts[request.grantType] = (grantCounts[request.grantType] || 0) + 1;
    return tokenEndpoint(request, form);
  }

  function record(request) {
    requests.push(request);
    if (requests.length > LIMITS.requests) requests.splice(0, requests.length - LIMITS.requests);
  }

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
        if (!grant || grant.exp <= nowSeconds()) {
          return oauthError(400, 'invalid_grant', 'AADSTS54005: OAuth2 Authorization code was already redeemed or is unknown.');
        }
        codes.delete(form.get('code')); // single use, even when the checks below fail
        if (grant.redirectUri && form.get('redirect_uri') !== grant.redirectUri) {
          return oauthError(400, 'invalid_grant', 'AADSTS500112: The reply address does not match the reply address provided when requesting the authorization code.');
        }
        if (grant.codeChallenge && !pkceMatches(grant, form.get('code_verifier'))) {
          return oauthError(400, 'invalid_grant', 'AADSTS50148: The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.');
        }
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
    const refreshToken = `dev-rt-${random()}`;
    setBounded(refreshTokens, refreshToken, { user, revoked: false }, LIMITS.refreshTokens);
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
      iss: issuerOf(user.tid),
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
    return sign(claims);
  }

  function mintAccessToken(user, tid, scopes, audience) {
    const iat = nowSeconds();
    const exp = iat + accessTokenLifetime;
    const claims = { aud: audience, iss: issuerOf(tid), iat, nbf: iat, exp, azp: clientId, tid, uti: random(), ver: '2.0' };
    if (user) Object.assign(claims, { oid: user.oid, sub: `sub-${user.oid}`, name: user.name, preferred_username: user.username, scp: scopes.map(shortScope).join(' ') });
    else Object.assign(claims, { oid: `sp-${clientId}`, sub: `sp-${clientId}`, roles: [] });
    const accessToken = sign(claims);
    // Kept an hour past its expiry, so that a late on-behalf-of assertion is told it expired, as Entra says.
    setBounded(accessTokens, accessToken, { user, exp, dropAfter: exp + 3600 }, LIMITS.accessTokens);
    return accessToken;
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
    userNamed,
    issueCode,
    authorize,
    authorizeRequest,
    token,
    issueAccessToken,
    setAccessTokenLifetime,
    failNext,
    revokeRefreshTokens,
    openIdConfiguration,
    /** How many token requests used `grantType` since the start (the cache page's refresh-grant count). */
    grantCount: (grantType) => grantCounts[grantType] || 0,
    /** How many entries it holds now, per kind: each stays within LIMITS whatever it is sent. */
    retained: () => ({ requests: requests.length, codes: codes.size, refreshTokens: refreshTokens.size, accessTokens: accessTokens.size }),
    /** The public signing keys, for APIs that verify this provider's tokens. */
    jwks: () => jwks(signingKey),
    /** The `iss` of the tokens of this provider's users (of its tenant), as an API configures it. */
    issuer: issuerOf(tenantId),
  };
}

// ---- helpers --------------------------------------------------------------------------

function issuerOf(tid) {
  return `https://${HOST}/${tid}/v2.0`;
}

function pkceMatches({ codeChallenge, codeChallengeMethod }, verifier) {
  if (!verifier) return false;
  const expected = codeChallengeMethod === 'S256' ? crypto.createHash('sha256').update(verifier).digest('base64url') : verifier;
  return expected.length === codeChallenge.length && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(codeChallenge));
}

function openIdConfiguration(tenant, base = `https://${HOST}/${tenant}`) {
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `https://${HOST}/${tenant}/v2.0`,
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

// "https://graph.microsoft.com/.default" -> "https://graph.microsoft.com"; bare scopes are Graph's.
function audienceOf(scopes) {
  const scoped = scopes.find((s) => s.includes('/'));
  return scoped ? scoped.slice(0, scoped.lastIndexOf('/')) : GRAPH;
}

// Entra's scp claim names the scope without its resource: "api://my-api/Data.Read" -> "Data.Read".
function shortScope(scope) {
  return scope.slice(scope.lastIndexOf('/') + 1);
}

function tenantOf(url) {
  return new URL(url).pathname.split('/')[1] || '';
}

function random() {
  return crypto.randomBytes(16).toString('base64url');
}

module.exports = { createDevIdentityProvider, DEFAULT_TENANT_ID, DEFAULT_CLIENT_SECRET, openIdConfiguration, HOST, LIMITS };
