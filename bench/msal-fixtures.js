'use strict';
// The benchmark's caches: tests/support/cache-fixtures.js, adjusted to what msal-node 7 itself writes so that a
// real ConfidentialClientApplication can load them and serve tokens from them:
//  - Account.tenantProfiles: msal-node stores each profile as a JSON *string* (its Deserializer JSON.parse()s every
//    item; the test fixture's objects make deserialize throw);
//  - IdToken.secret: must be a JWT (msal decodes its claims when it builds the AccountInfo of a silent result).
// Sizes stay the same (the JWT is padded to the fixture's secret length).

const { typicalUserCache, appCache, guid } = require('../tests/support/cache-fixtures');

const CLIENT_ID = guid(7);
const USER_OID = guid(1);
const USER_TENANT = guid(2);
const base64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

function idTokenJwt({ oid, tid, clientId, username, name, length }) {
  const claims = {
    aud: clientId, iss: `https://login.microsoftonline.com/${tid}/v2.0`, iat: 1, nbf: 1, exp: 2,
    name, oid, preferred_username: username, sub: `sub-${oid}`, tid, ver: '2.0',
  };
  const unsigned = `${base64url({ typ: 'JWT', alg: 'RS256', kid: 'bench' })}.${base64url(claims)}.`;
  return unsigned + 'S'.repeat(Math.max(43, length - unsigned.length));
}

/** Rewrites a fixture cache in place into msal-node's own serialized shape (see the header). */
function msalShaped(cache) {
  for (const account of Object.values(cache.Account)) {
    account.tenantProfiles = (account.tenantProfiles || []).map((p) => (typeof p === 'string' ? p : JSON.stringify(p)));
  }
  for (const token of Object.values(cache.IdToken)) {
    const account = Object.values(cache.Account).find((a) => a.home_account_id === token.home_account_id) || {};
    token.secret = idTokenJwt({
      oid: account.local_account_id, tid: token.realm, clientId: token.client_id,
      username: account.username, name: account.name, length: token.secret.length,
    });
  }
  return cache;
}

/** The typical single-user session partition (one account, three scope sets). */
function userFixture({ now }) {
  const { cache, homeAccountId } = typicalUserCache({ clientId: CLIENT_ID, now });
  msalShaped(cache);
  const accessToken = Object.values(cache.AccessToken).find((t) => t.target.startsWith('user.read '));
  return { cache, json: JSON.stringify(cache), homeAccountId, oid: USER_OID, tid: USER_TENANT, accessToken };
}

/** A client-credentials cache with one token per tenant, and each tenant's own one-token cache. */
function appFixture({ now, tenants = 1000 }) {
  const { cache } = appCache({ tenants, clientId: CLIENT_ID, now });
  const byTenant = new Map();
  for (const [key, token] of Object.entries(cache.AccessToken)) {
    if (!byTenant.has(token.realm)) byTenant.set(token.realm, {});
    byTenant.get(token.realm)[key] = token;
  }
  const tenantIds = [...byTenant.keys()];
  const tenantCache = (tenant) => ({ ...cache, AccessToken: { ...byTenant.get(tenant) } });
  return { cache, json: JSON.stringify(cache), tenantIds, tenantCache };
}

/**
 * The cache as msal holds it right after a token response: `cache` with the access token that `pick` selects
 * replaced by a new one (new secret, cached now, expiring in an hour). Returns its JSON text and the new secret.
 */
function withNewAccessToken(cache, pick, { now, serial }) {
  const accessTokens = { ...cache.AccessToken };
  const [key, token] = Object.entries(accessTokens).find(([, t]) => pick(t));
  const secret = `${token.secret.slice(0, -12)}${String(serial).padStart(12, '0')}`;
  accessTokens[key] = {
    ...token, secret, cached_at: String(now), expires_on: String(now + 3600), extended_expires_on: String(now + 7200),
  };
  return { json: JSON.stringify({ ...cache, AccessToken: accessTokens }), secret };
}

module.exports = { CLIENT_ID, USER_OID, USER_TENANT, userFixture, appFixture, withNewAccessToken, msalShaped };
