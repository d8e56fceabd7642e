'use strict';
// The benchmark's caches, built by tests/support/cache-fixtures.js in msal-node 7's own serialized shape (checked byte
// for byte by tests/js/cache-fixtures.test.js), so that a real ConfidentialClientApplication can load them, serve
// tokens from them, and write over them (a sign-in, a refresh) without adding entries beside them.

const { typicalUserCache, appCache, emptyCache, addUser, guid } = require('../tests/support/cache-fixtures');

const CLIENT_ID = guid(7);
const USER_OID = guid(1);
const USER_TENANT = guid(2);
/** The typical single-user session partition (one account, three scope sets). */
function userFixture({ now }) {
  const { cache, homeAccountId } = typicalUserCache({ clientId: CLIENT_ID, now });
  const accessToken = Object.values(cache.AccessToken).find((t) => t.target.startsWith('user.read '));
  return { cache, json: JSON.stringify(cache), homeAccountId, oid: USER_OID, tid: USER_TENANT, accessToken };
}

/**
 * The same user with as many scope sets (one access token each) as it takes to make a partition of about `bytes`
 * bytes of msal JSON (within a few bytes): for the cost-of-encryption cases (8 KB, 100 KB).
 */
function sizedUserFixture({ now, bytes }) {
  const build = (scopeCount, secretBytes) => {
    const cache = emptyCache();
    const scopeSets = Array.from({ length: scopeCount }, (_, i) => [`api://bench-${i}/data.read`]);
    const homeAccountId = addUser(cache, { oid: USER_OID, tid: USER_TENANT, clientId: CLIENT_ID, now, scopeSets, secretBytes });
    return { cache, homeAccountId, json: JSON.stringify(cache) };
  };
  const oneToken = Buffer.byteLength(build(1, 1500).json);
  const perToken = Buffer.byteLength(build(2, 1500).json) - oneToken;
  const scopeCount = Math.max(1, Math.round((bytes - oneToken) / perToken) + 1);
  const first = build(scopeCount, 1500);
  const secretBytes = 1500 + Math.round((bytes - Buffer.byteLength(first.json)) / scopeCount);
  const fixture = build(scopeCount, secretBytes);
  return { ...fixture, scopeCount, bytes: Buffer.byteLength(fixture.json) };
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

module.exports = { CLIENT_ID, USER_OID, USER_TENANT, userFixture, sizedUserFixture, appFixture, withNewAccessToken };
