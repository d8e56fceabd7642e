'use strict';
// One server of a multi-server app, in its own process (started by race-workers.js with child_process.fork): its
// own ioredis client, its own RedisTokenCache, and one new ConfidentialClientApplication per operation, as a web
// app creates one per request. It reaches the identity provider only through the shared one over HTTP.
//
// It stays up for a whole test file and does one operation per IPC message, so hundreds of race trials cost
// milliseconds each instead of a process start each:
//   parent -> { id, op, args }
//   child  -> { id, ok: true, result, warnings } | { id, ok: false, error: { name, message, errorCode }, warnings }
// `warnings` are what the token cache logged during the operation (e.g. a refused foreign account).
//
// Environment: TEST_REDIS_URL, TEST_ENCRYPTION_KEY, TEST_KEY_NAME_SECRET (one app's secrets: every process of the
// test gets the same), RACE_IDP_URL (the shared identity provider), RACE_MSAL_AUTH (msal's `auth` section, JSON).

const Redis = require('ioredis');
const { RedisTokenCache } = require('../../js');
const { forwardingNetworkClient } = require('./shared-identity-provider');

const redis = new Redis(process.env.TEST_REDIS_URL, { maxRetriesPerRequest: 2 });
const msalConfig = {
  auth: JSON.parse(process.env.RACE_MSAL_AUTH),
  system: { networkClient: forwardingNetworkClient(process.env.RACE_IDP_URL) },
};

let warnings = [];
const logger = { warn: (message) => warnings.push(String(message)) };

// One RedisTokenCache per key prefix (each test uses its own prefix), made once: as one per app.
const tokenCaches = new Map();
function tokenCacheFor(prefix) {
  if (!tokenCaches.has(prefix)) {
    tokenCaches.set(prefix, new RedisTokenCache({
      redis,
      prefix,
      logger,
      encryptionKeys: [process.env.TEST_ENCRYPTION_KEY],
      keyNameSecret: process.env.TEST_KEY_NAME_SECRET,
    }));
  }
  return tokenCaches.get(prefix);
}

const clientFor = (prefix, sessionId) => tokenCacheFor(prefix).createClientApplication(msalConfig, { sessionId });

const operations = {
  /** Sign-in: redeems an authorization code the parent had the shared identity provider issue. */
  async signIn({ prefix, sessionId, code, scopes, redirectUri }) {
    const result = await clientFor(prefix, sessionId).acquireTokenByCode({ code, scopes, redirectUri });
    return { account: result.account, accessToken: result.accessToken };
  },

  /** A request that needs a token: from the cache, or by redeeming the cached refresh token. */
  async silent({ prefix, sessionId, account, scopes, forceRefresh = false }) {
    const result = await clientFor(prefix, sessionId).acquireTokenSilent({ account, scopes, forceRefresh });
    return { accessToken: result.accessToken, fromCache: result.fromCache };
  },

  /** Sign-out. */
  async removePartition({ prefix, sessionId }) {
    return tokenCacheFor(prefix).removePartition({ sessionId });
  },
};

process.on('message', async ({ id, op, args }) => {
  warnings = [];
  try {
    if (!operations[op]) throw new Error(`race worker: unknown operation "${op}"`);
    const result = await operations[op](args);
    process.send({ id, ok: true, result, warnings });
  } catch (err) {
    const error = { name: err && err.name, message: String(err && err.message), errorCode: err && err.errorCode };
    process.send({ id, ok: false, error, warnings });
  }
});

// The parent went away (test over, or it crashed): nothing left to serve.
process.on('disconnect', () => {
  redis.disconnect();
  process.exit(0);
});

redis.ping().then(
  () => process.send({ ready: true }),
  (err) => {
    process.send({ ready: false, error: String(err && err.message) });
    process.exit(1);
  },
);
