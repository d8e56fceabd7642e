'use strict';
// Builds token caches exactly as @azure/msal-node 7 serializes them (TokenCache.serialize()) after sign-ins against
// the fake identity provider (tests/support/fake-identity-provider.js): same sections, keys, fields, field order and
// string timestamps; only the token secrets are made up (the id token carries the same claims, unsigned). For unit
// tests and benchmarks that need caches of a given shape without running sign-ins. tests/js/cache-fixtures.test.js
// checks them byte for byte against what a real ConfidentialClientApplication writes.

// msal caches under the cloud's preferred_cache alias from instance discovery, not under the authority's host.
const ENVIRONMENT = 'login.windows.net';
const AUTHORITY_HOST = 'login.microsoftonline.com';

// msal-common's generateAccountKey: <homeAccountId>-<environment>-<home tenant>, lowercased.
const accountKey = (account) => [account.home_account_id, account.environment, account.realm].join('-').toLowerCase();

// msal-common's generateCredentialKey: <homeAccountId>-<environment>-<credentialType>-<clientId>-<realm>-<target>-
// <scheme>, lowercased. The scheme is empty for Bearer tokens, the only kind built here (and so is the realm of a
// refresh token). A family refresh token would use its family id for the client id: none is built here.
const credentialKey = (entry) =>
  [entry.home_account_id, entry.environment, entry.credential_type, entry.client_id, entry.realm || '', entry.target || '', '']
    .join('-')
    .toLowerCase();

/** Every section msal-node writes, in its order. AppMetadata stays empty: msal fills it only for family (foci) apps. */
function emptyCache() {
  return { Account: {}, IdToken: {}, AccessToken: {}, RefreshToken: {}, AppMetadata: {} };
}

function secretOf(length, seed) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let out = '';
  for (let i = 0; i < length; i += 1) out += alphabet[(seed * 31 + i * 7) % alphabet.length];
  return out;
}

const base64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

// msal parses cached id tokens, so the secret must be a JWT (unsigned is fine: msal-node does not verify it). The
// claims are the fake identity provider's, in its order.
function fakeIdToken({ oid, tid, clientId, now, username, name }) {
  const claims = {
    aud: clientId, iss: `https://${AUTHORITY_HOST}/${tid}/v2.0`, iat: now, nbf: now, exp: now + 3600,
    name, oid, preferred_username: username, sub: `sub-${oid}`, tid, ver: '2.0',
  };
  return `${base64url({ typ: 'JWT', alg: 'none' })}.${base64url(claims)}.${secretOf(342, 1)}`;
}

/**
 * An access token as msal stores a token response: `expires_on` is now + expires_in and `extended_expires_on`
 * expires_on + ext_expires_in (the fake identity provider sends ext_expires_in = expires_in).
 */
function accessToken({ homeAccountId, clientId, realm, target, now, expiresIn, extExpiresIn, secret }) {
  return {
    home_account_id: homeAccountId,
    environment: ENVIRONMENT,
    credential_type: 'AccessToken',
    client_id: clientId,
    secret,
    realm,
    target,
    cached_at: String(now),
    expires_on: String(now + expiresIn),
    extended_expires_on: String(now + expiresIn + extExpiresIn),
    token_type: 'Bearer',
  };
}

const putCredential = (section, entry) => {
  section[credentialKey(entry)] = entry;
};

/**
 * Adds a signed-in user as msal leaves one after a sign-in for the first scope set and a silent call for each other
 * one: Account, IdToken, one AccessToken per scope set (target: the scopes, then "openid profile", as the token
 * response names them), one RefreshToken.
 * @returns {string} the homeAccountId
 */
function addUser(cache, {
  oid, tid, clientId, now, scopeSets = [['user.read']], expiresIn = 3600, extExpiresIn = expiresIn, secretBytes = 1500,
  username = `user-${oid.slice(0, 8)}@contoso.example`, name = `User ${oid.slice(0, 8)}`,
}) {
  const homeAccountId = `${oid}.${tid}`;
  const account = {
    home_account_id: homeAccountId,
    environment: ENVIRONMENT,
    realm: tid,
    local_account_id: oid,
    username,
    authority_type: 'MSSTS',
    name,
    client_info: base64url({ uid: oid, utid: tid }),
    // msal-node stores each tenant profile as a JSON string.
    tenantProfiles: [JSON.stringify({ tenantId: tid, localAccountId: oid, name, username, isHomeTenant: true })],
  };
  cache.Account[accountKey(account)] = account;
  putCredential(cache.IdToken, {
    home_account_id: homeAccountId,
    environment: ENVIRONMENT,
    credential_type: 'IdToken',
    client_id: clientId,
    secret: fakeIdToken({ oid, tid, clientId, now, username, name }),
    realm: tid,
  });
  scopeSets.forEach((scopes, i) => {
    const target = [...scopes, 'openid', 'profile'].join(' ');
    const secret = secretOf(secretBytes, i + 2);
    putCredential(cache.AccessToken, accessToken({ homeAccountId, clientId, realm: tid, target, now, expiresIn, extExpiresIn, secret }));
  });
  putCredential(cache.RefreshToken, {
    home_account_id: homeAccountId,
    environment: ENVIRONMENT,
    credential_type: 'RefreshToken',
    client_id: clientId,
    secret: secretOf(1200, 99),
  });
  return homeAccountId;
}

/** Adds one client-credentials access token for a tenant (home_account_id "", realm = tenant). */
function addAppToken(cache, {
  tenant, clientId, now, expiresIn = 3600, extExpiresIn = expiresIn, scope = 'https://graph.microsoft.com/.default',
}) {
  const secret = secretOf(1400, tenant.length);
  putCredential(cache.AccessToken, accessToken({ homeAccountId: '', clientId, realm: tenant, target: scope, now, expiresIn, extExpiresIn, secret }));
}

const guid = (n) => {
  const hex = n.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-0000-4000-8000-${hex.padStart(12, '0')}`;
};

const TYPICAL_SCOPE_SETS = [['user.read'], ['mail.read', 'calendars.read'], ['files.read.all']];

/**
 * A typical single-user session partition (~8 KB): one account with a few scope sets. `user` and `scopeSets` say
 * which sign-in it stands for.
 */
function typicalUserCache({ clientId = guid(7), now = Math.floor(Date.now() / 1000) } = {}) {
  const cache = emptyCache();
  const user = { oid: guid(1), tid: guid(2) };
  const homeAccountId = addUser(cache, { ...user, clientId, now, scopeSets: TYPICAL_SCOPE_SETS });
  const { username, name } = Object.values(cache.Account)[0];
  return { cache, homeAccountId, clientId, user: { ...user, username, name }, scopeSets: TYPICAL_SCOPE_SETS };
}

/** A client-credentials cache holding one token per tenant. */
function appCache({ tenants = 1000, clientId = guid(7), now = Math.floor(Date.now() / 1000) } = {}) {
  const cache = emptyCache();
  for (let i = 0; i < tenants; i += 1) addAppToken(cache, { tenant: guid(1000 + i), clientId, now });
  return { cache, clientId };
}

module.exports = { ENVIRONMENT, emptyCache, addUser, addAppToken, typicalUserCache, appCache, guid };
