'use strict';
// One throw-away Redis, one ioredis client shared by both implementations (as one app would), the offline fake
// identity provider, the fixtures, and the seeded keys (bench/seed.js). Every key either side reads exists before
// timing starts.

const Redis = require('ioredis');
const { RedisTokenCache } = require('../js');
const { startRedis } = require('../tests/support/redis-server');
const { createFakeIdentityProvider } = require('../tests/support/fake-identity-provider');
const { RedisCacheClient } = require('./distributed-baseline');
const { CLIENT_ID, USER_OID, USER_TENANT, userFixture, appFixture } = require('./msal-fixtures');
const { seed } = require('./seed');

const BLOB_TENANTS = 8; // the 1,000-tenant value is stored under this many of our per-tenant keys

// Key layout. Ours: RedisTokenCache prefixes + its own partition keys. Theirs: the same shapes, raw msal JSON.
const PREFIX = {
  ours: 'bench:ours:', // read cases: session partition, 1,000 per-tenant partitions
  oursBlob: 'bench:ours-blob:', // read case: a 1,000-tenant value under a per-tenant key
  oursWrite: 'bench:ours-w:', // write cases (they overwrite what they find)
  oursSignIn: 'bench:ours-code:', // end-to-end sign-in
  theirs: 'bench:theirs:',
  theirsWrite: 'bench:theirs-w:',
  theirsSignIn: 'bench:theirs-code:',
};

async function createEnvironment({ now = Math.floor(Date.now() / 1000), tenants = 1000 } = {}) {
  const server = await startRedis();
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  // The plugin's warnings are counted (per case, see run.js), not printed: one case provokes them on purpose.
  const warnings = { count: 0, last: null };
  const logger = { warn: (message) => { warnings.count += 1; warnings.last = message; } };
  const idp = createFakeIdentityProvider({ clientId: CLIENT_ID, tenantId: USER_TENANT });
  const user = userFixture({ now });
  const app = appFixture({ now, tenants });
  const caches = Object.fromEntries(
    ['ours', 'oursBlob', 'oursWrite', 'oursSignIn'].map((name) => [name, new RedisTokenCache({ redis, prefix: PREFIX[name], logger })]),
  );
  const env = {
    server, redis, idp, user, app, now, warnings, caches,
    client: new RedisCacheClient(redis),
    clientId: CLIENT_ID,
    blobTenants: app.tenantIds.slice(0, BLOB_TENANTS),
    theirsUserKey: (prefix, homeAccountId = user.homeAccountId) => `${prefix}account:${homeAccountId}`,
    theirsAppKey: (prefix, tenant) => (tenant ? `${prefix}app:${CLIENT_ID}:${tenant}` : `${prefix}app:${CLIENT_ID}`),
    oursKey: (name, selector) => caches[name].cachePlugin(selector, CLIENT_ID).key,
    userConfig: idp.msalConfig(),
    // One msal configuration per tenant (authority https://login.microsoftonline.com/<tenant>), built up front.
    appConfigs: new Map(app.tenantIds.map((tenantId) => [tenantId, idp.msalConfig({ tenantId })])),
    async stop() {
      await redis.quit();
      await server.stop();
    },
  };
  try {
    env.stored = await seed(env, PREFIX);
  } catch (err) {
    await env.stop();
    throw err;
  }
  env.signInUser = idp.addUser({ oid: USER_OID, tid: USER_TENANT, username: Object.values(user.cache.Account)[0].username });
  return env;
}

module.exports = { createEnvironment, PREFIX };
