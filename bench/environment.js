'use strict';
// One throw-away Redis, one ioredis client shared by both implementations (as one app would), the offline fake
// identity provider, the fixtures, and the seeded keys (bench/seed.js). Every key either side reads exists before
// timing starts.

const crypto = require('node:crypto');
const Redis = require('ioredis');
const { RedisTokenCache } = require('../js');
const { startRedis } = require('../tests/support/redis-server');
const redisCluster = require('../tests/support/redis-cluster');
const { createFakeIdentityProvider } = require('../tests/support/fake-identity-provider');
const { RedisCacheClient } = require('./distributed-baseline');
const { CLIENT_ID, USER_OID, USER_TENANT, userFixture, sizedUserFixture, appFixture } = require('./msal-fixtures');
const { seed } = require('./seed');

const BLOB_TENANTS = 8; // the 1,000-tenant value is stored under this many of our per-tenant keys
// The partition sizes of the cost-of-encryption cases.
const SIZED_USERS = [{ name: 'user8k', label: '8 KB', bytes: 8 * 1024 }, { name: 'user100k', label: '100 KB', bytes: 100 * 1024 }];

// Key layout. Ours: RedisTokenCache prefixes + its own partition keys (HMAC names, AES-256-GCM values). Theirs: the
// same shapes (one key per user, one per tenant), raw msal JSON.
const PREFIX = {
  ours: 'bench:ours:', // read cases: session partition, 1,000 per-tenant partitions
  oursBlob: 'bench:ours-blob:', // read case: a 1,000-tenant value under a per-tenant key
  oursWrite: 'bench:ours-w:', // write cases (they overwrite what they find)
  oursSignIn: 'bench:ours-code:', // end-to-end sign-in
  theirs: 'bench:theirs:',
  theirsWrite: 'bench:theirs-w:',
  theirsSignIn: 'bench:theirs-code:',
  oursPlain: 'bench:ours-plain:', // encryption cost: the same partitions with insecurePlaintextStorage: true
  oursToken: 'bench:ours-token:', // writes after a real token response (refresh / client credentials)
  theirsToken: 'bench:theirs-token:',
};

// The app's secrets, as every server of one app shares them: drawn for this run (the bench keeps nothing).
const SECRETS = Object.freeze({
  encryptionKeys: [crypto.randomBytes(32).toString('base64')],
  keyNameSecret: crypto.randomBytes(32).toString('base64'),
});
// The one warning a plaintext cache logs at construction (by design); any other warning is counted.
const PLAINTEXT_NOTICE = /insecurePlaintextStorage is on/;

/**
 * topology 'cluster' (run.js --topology=cluster): a throw-away 3-master Redis Cluster and one ioredis Cluster client
 * shared by both sides; `server.url` is then null (the cases that need one server are not run there).
 */
async function createEnvironment({ now = Math.floor(Date.now() / 1000), tenants = 1000, topology = 'standalone' } = {}) {
  const cluster = topology === 'cluster' ? await redisCluster.start({ masters: 3 }) : null;
  const server = cluster ? { url: null, stop: () => cluster.stop(), nodes: cluster.nodes } : await startRedis();
  const redis = cluster
    ? new Redis.Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
    : new Redis(server.url, { maxRetriesPerRequest: 1 });
  // The plugin's warnings are counted (per case, see run.js), not printed: one case provokes them on purpose.
  const warnings = { count: 0, last: null };
  const logger = {
    warn: (message) => {
      if (PLAINTEXT_NOTICE.test(message)) return;
      warnings.count += 1;
      warnings.last = message;
    },
  };
  const idp = createFakeIdentityProvider({ clientId: CLIENT_ID, tenantId: USER_TENANT });
  const user = userFixture({ now });
  const app = appFixture({ now, tenants });
  // Ours as an app deploys it: encrypted (AES-256-GCM) with HMAC key names; and one plaintext cache, only for the
  // cost-of-encryption cases.
  const caches = Object.fromEntries(
    ['ours', 'oursBlob', 'oursWrite', 'oursSignIn', 'oursToken'].map((name) => [name, new RedisTokenCache({ redis, prefix: PREFIX[name], logger, ...SECRETS })]),
  );
  caches.oursPlain = new RedisTokenCache({ redis, prefix: PREFIX.oursPlain, logger, insecurePlaintextStorage: true });
  const env = {
    server, redis, idp, user, app, now, warnings, caches, logger, topology,
    secrets: SECRETS,
    client: new RedisCacheClient(redis),
    clientId: CLIENT_ID,
    blobTenants: app.tenantIds.slice(0, BLOB_TENANTS),
    // { name, label, bytes, cache, json, homeAccountId, readSession, writeSession }
    sizedUsers: SIZED_USERS.map(({ name, label, bytes }) => ({
      name, label, ...sizedUserFixture({ now, bytes }), readSession: `${name}-read`, writeSession: `${name}-write`,
    })),
    theirsUserKey: (prefix, homeAccountId = user.homeAccountId) => `${prefix}account:${homeAccountId}`,
    theirsAppKey: (prefix, tenant) => (tenant ? `${prefix}app:${CLIENT_ID}:${tenant}` : `${prefix}app:${CLIENT_ID}`),
    oursKey: (name, selector) => caches[name].cachePlugin(selector, CLIENT_ID).key,
    keyringOf: (name) => caches[name].settings.keyring,
    userConfig: idp.msalConfig(),
    // One msal configuration per tenant (authority https://login.microsoftonline.com/<tenant>), built up front.
    appConfigs: new Map(app.tenantIds.map((tenantId) => [tenantId, idp.msalConfig({ tenantId })])),
    async stop() {
      // A RedisTokenCache with connections of its own has close(); the committed one has none.
      await Promise.all(Object.values(caches).map((c) => (typeof c.close === 'function' ? c.close() : undefined)));
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
  // The fixture's user, so that a sign-in over a seeded partition rewrites its entries as they are.
  const { username, name } = Object.values(user.cache.Account)[0];
  env.signInUser = idp.addUser({ oid: USER_OID, tid: USER_TENANT, username, name });
  return env;
}

/**
 * The identity provider keeps only its last requests (LIMITS.requests): a count of them stops moving once it is full.
 * requestsSince(idp, mark) is what came after `mark`, which is idp.requests.at(-1) taken before (all of what is kept
 * if that one was dropped meanwhile).
 */
const requestMark = (idp) => idp.requests[idp.requests.length - 1];
const requestsSince = (idp, mark) => idp.requests.slice(idp.requests.indexOf(mark) + 1);

module.exports = { createEnvironment, requestMark, requestsSince, PREFIX, SECRETS };
