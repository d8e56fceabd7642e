'use strict';
// Builds token caches in msal-node's serialized format (same sections, key layout and field names), for unit tests
// and benchmarks that need caches of a given shape without running a sign-in.

const ENVIRONMENT = 'login.microsoftonline.com';

const credentialKey = (parts) => parts.join('-').toLowerCase();

function emptyCache() {
  return { Account: {}, IdToken: {}, AccessToken: {}, RefreshToken: {}, AppMetadata: {} };
}

function secretOf(length, seed) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let out = '';
  for (let i = 0; i < length; i += 1) out += alphabet[(seed * 31 + i * 7) % alphabet.length];
  return out;
}

// msal parses cached id tokens, so the secret must be a JWT (unsigned is fine: msal-node does not verify it).
function fakeIdToken({ oid, tid, clientId, now, username, name }) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = {
    aud: clientId, iss: `https://${ENVIRONMENT}/${tid}/v2.0`, iat: now, nbf: now, exp: now + 3600,
    name, oid, preferred_username: username, sub: `sub-${oid}`, tid, ver: '2.0',
  };
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.${secretOf(342, 1)}`;
}

/**
 * Adds a signed-in user: Account, IdToken, one AccessToken per scope set, one RefreshToken.
 * @returns {string} the homeAccountId
 */
function addUser(cache, { oid, tid, clientId, now, scopeSets = [['user.read']], expiresIn = 3600, secretBytes = 1500 }) {
  const homeAccountId = `${oid}.${tid}`;
  const username = `user-${oid.slice(0, 8)}@contoso.example`;
  const name = `User ${oid.slice(0, 8)}`;
  cache.Account[credentialKey([homeAccountId, ENVIRONMENT, tid])] = {
    home_account_id: homeAccountId,
    environment: ENVIRONMENT,
    realm: tid,
    local_account_id: oid,
    username,
    authority_type: 'MSSTS',
    name,
    client_info: Buffer.from(JSON.stringify({ uid: oid, utid: tid })).toString('base64url'),
    // msal-node stores each tenant profile as a JSON string.
    tenantProfiles: [JSON.stringify({ tenantId: tid, localAccountId: oid, name, isHomeTenant: true })],
  };
  cache.IdToken[credentialKey([homeAccountId, ENVIRONMENT, 'idtoken', clientId, tid, ''])] = {
    home_account_id: homeAccountId,
    environment: ENVIRONMENT,
    credential_type: 'IdToken',
    client_id: clientId,
    secret: fakeIdToken({ oid, tid, clientId, now, username, name }),
    realm: tid,
  };
  scopeSets.forEach((scopes, i) => {
    const target = [...scopes, 'openid', 'profile', 'offline_access'].join(' ');
    cache.AccessToken[credentialKey([homeAccountId, ENVIRONMENT, 'accesstoken', clientId, tid, target])] = {
      home_account_id: homeAccountId,
      environment: ENVIRONMENT,
      credential_type: 'AccessToken',
      client_id: clientId,
      secret: secretOf(secretBytes, i + 2),
      realm: tid,
      target,
      cached_at: String(now),
      expires_on: String(now + expiresIn),
      extended_expires_on: String(now + expiresIn * 2),
      token_type: 'Bearer',
    };
  });
  cache.RefreshToken[credentialKey([homeAccountId, ENVIRONMENT, 'refreshtoken', clientId, '', ''])] = {
    home_account_id: homeAccountId,
    environment: ENVIRONMENT,
    credential_type: 'RefreshToken',
    client_id: clientId,
    secret: secretOf(1200, 99),
    last_modification_time: String(now),
  };
  cache.AppMetadata[`appmetadata-${ENVIRONMENT}-${clientId}`] = { client_id: clientId, environment: ENVIRONMENT };
  return homeAccountId;
}

/** Adds one client-credentials access token for a tenant (home_account_id "", realm = tenant). */
function addAppToken(cache, { tenant, clientId, now, expiresIn = 3600, scope = 'https://graph.microsoft.com/.default' }) {
  cache.AccessToken[credentialKey(['', ENVIRONMENT, 'accesstoken', clientId, tenant, scope])] = {
    home_account_id: '',
    environment: ENVIRONMENT,
    credential_type: 'AccessToken',
    client_id: clientId,
    secret: secretOf(1400, tenant.length),
    realm: tenant,
    target: scope,
    cached_at: String(now),
    expires_on: String(now + expiresIn),
    extended_expires_on: String(now + expiresIn),
    token_type: 'Bearer',
  };
}

const guid = (n) => {
  const hex = n.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-0000-4000-8000-${hex.padStart(12, '0')}`;
};

/** A typical single-user session partition (~8 KB): one account with a few scope sets. */
function typicalUserCache({ clientId = guid(7), now = Math.floor(Date.now() / 1000) } = {}) {
  const cache = emptyCache();
  const homeAccountId = addUser(cache, {
    oid: guid(1),
    tid: guid(2),
    clientId,
    now,
    scopeSets: [['user.read'], ['mail.read', 'calendars.read'], ['files.read.all']],
  });
  return { cache, homeAccountId, clientId };
}

/** A client-credentials cache holding one token per tenant. */
function appCache({ tenants = 1000, clientId = guid(7), now = Math.floor(Date.now() / 1000) } = {}) {
  const cache = emptyCache();
  for (let i = 0; i < tenants; i += 1) addAppToken(cache, { tenant: guid(1000 + i), clientId, now });
  return { cache, clientId };
}

module.exports = { ENVIRONMENT, emptyCache, addUser, addAppToken, typicalUserCache, appCache, guid };
