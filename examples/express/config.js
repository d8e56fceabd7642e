'use strict';
// Which identity provider and downstream API the example uses, and msal's configuration for one request.
//   - Entra mode: TENANT_ID, CLIENT_ID, CLIENT_SECRET and REDIRECT_URI set: real Microsoft Entra ID; the API is
//     Microsoft Graph's /me unless API_URL / API_SCOPES say otherwise.
//   - dev mode (otherwise): the local development identity provider, reached by msal in-process (its
//     networkClient), and the local downstream API at /dev-api.
// And the ioredis and node-redis options for REDIS_URL (redisOptionsFromEnvironment, nodeRedisOptionsFromEnvironment).

const fs = require('node:fs');
const { createDevIdentityProvider, HOST } = require('../dev-identity-provider/tokens');

const ENTRA_VARIABLES = ['TENANT_ID', 'CLIENT_ID', 'CLIENT_SECRET', 'REDIRECT_URI'];
const DEV_CLIENT_ID = '00000000-0000-4000-8000-00000000e5a1';
const DEV_API_AUDIENCE = 'api://msal-redis-cache-example-api';
const DEV_API_SCOPE = 'Data.Read';

/** Entra settings from the environment, null when none is set; throws when only some are. */
function entraFromEnvironment(env = process.env) {
  const present = ENTRA_VARIABLES.filter((name) => env[name]);
  if (present.length === 0) return null;
  if (present.length < ENTRA_VARIABLES.length) {
    const missing = ENTRA_VARIABLES.filter((name) => !env[name]);
    throw new Error(`Entra ID mode needs ${ENTRA_VARIABLES.join(', ')}; missing: ${missing.join(', ')}`);
  }
  return {
    tenantId: env.TENANT_ID,
    clientId: env.CLIENT_ID,
    clientSecret: env.CLIENT_SECRET,
    redirectUri: env.REDIRECT_URI,
    apiUrl: env.API_URL || 'https://graph.microsoft.com/v1.0/me',
    apiScopes: (env.API_SCOPES || 'User.Read').split(/[\s,]+/).filter(Boolean),
  };
}

/**
 * The identity settings of an app instance.
 * @param {{ entra?: object|null, identityProvider?: object }} options
 */
function identityConfig({ entra = null, identityProvider } = {}) {
  if (entra) {
    const authority = `https://login.microsoftonline.com/${entra.tenantId}`;
    return {
      mode: 'entra',
      apiScopes: entra.apiScopes,
      apiUrl: () => entra.apiUrl,
      redirectUri: () => entra.redirectUri,
      msalConfig: () => ({ auth: { clientId: entra.clientId, authority, clientSecret: entra.clientSecret } }),
      browserUrl: (url) => url,
      // Back to the app's registered origin (from REDIRECT_URI), never to whatever Host the request named.
      signOutUrl: () => `${authority}/oauth2/v2.0/logout?post_logout_redirect_uri=${encodeURIComponent(`${new URL(entra.redirectUri).origin}/`)}`,
      // Sign-out is a form POST redirected to Entra's logout page: the Content-Security-Policy's form-action allows it.
      formActionOrigins: [new URL(authority).origin],
      https: new URL(entra.redirectUri).protocol === 'https:',
      refreshGrants: null, // Entra does not tell
    };
  }
  const idp = identityProvider ?? createDevIdentityProvider({ clientId: DEV_CLIENT_ID });
  return {
    mode: 'dev',
    identityProvider: idp,
    apiScopes: [`${DEV_API_AUDIENCE}/${DEV_API_SCOPE}`],
    apiAudience: DEV_API_AUDIENCE,
    apiScope: DEV_API_SCOPE,
    // The local API is called on the port this request came in on, over loopback; never at the Host header's
    // address, which the client chooses (a forged Host would otherwise receive the user's access token).
    apiUrl: (req) => `http://127.0.0.1:${req.socket.localPort}/dev-api/me`,
    // The browser reaches the dev identity provider and the redirect URI on the origin it is using.
    redirectUri: (req) => `${req.protocol}://${req.get('host')}/auth/redirect`,
    msalConfig: () => idp.msalConfig(),
    // msal builds the sign-in URL on Entra's host (it insists that the tenant is the first path segment of the
    // authorization endpoint); the browser is sent to the same path on the dev identity provider instead.
    browserUrl: (url, req) => url.replace(`https://${HOST}/`, `${req.protocol}://${req.get('host')}/dev-idp/`),
    signOutUrl: () => '/?signedout=1',
    formActionOrigins: [], // everything is on this origin
    https: false,
    /** How many refresh tokens the dev identity provider has redeemed (all users): the cache page shows it. */
    refreshGrants: () => idp.grantCount('refresh_token'),
  };
}

/**
 * ioredis options for REDIS_URL. A rediss:// URL is TLS, verified against Node's CA list (plus NODE_EXTRA_CA_CERTS);
 * REDIS_CA_FILE (PEM) trusts a private CA for the Redis connection only.
 */
function redisOptionsFromEnvironment(env = process.env) {
  const options = { maxRetriesPerRequest: 2 };
  if (env.REDIS_CA_FILE) {
    if (!/^rediss:\/\//i.test(env.REDIS_URL || '')) throw new Error('REDIS_CA_FILE needs a rediss:// REDIS_URL');
    options.tls = { ca: fs.readFileSync(env.REDIS_CA_FILE) };
  }
  return options;
}

/** The same for node-redis's createClient (REDIS_CLIENT=node-redis): a rediss:// URL is TLS there too. */
function nodeRedisOptionsFromEnvironment(env = process.env) {
  const { tls } = redisOptionsFromEnvironment(env);
  return tls ? { socket: { tls: true, ca: tls.ca } } : {};
}

module.exports = {
  entraFromEnvironment, identityConfig, redisOptionsFromEnvironment, nodeRedisOptionsFromEnvironment, ENTRA_VARIABLES, DEV_CLIENT_ID,
  DEV_API_AUDIENCE, DEV_API_SCOPE,
};
