'use strict';
// Seeds the keys the read cases read. Each plugin's keys are written by that plugin's own write path (msal's:
// beforeCacheAccess, then the cache changes in memory, then afterCacheAccess) from an msal TokenCache loaded with
// the fixture, so every read case reads exactly what its plugin would have stored.
// One exception, said where it is used: the 1,000-tenant value under our per-tenant keys, a value our plugin never
// writes (its app partitions hold one tenant); it carries the same bytes as the baseline's value, sealed as ours
// (AES-256-GCM under the cache's key, see js/storage/stored-value.js).

const { ConfidentialClientApplication, TokenCacheContext } = require('@azure/msal-node');
const { seal, TYPE } = require('../js/storage/stored-value');
const { distributedPlugin } = require('./distributed-baseline');

/** msal's write path through `plugin`: load (our writes are compare-and-set against what was loaded), change, store. */
async function writeThrough(plugin, config, json) {
  const tokenCache = new ConfidentialClientApplication(config).getTokenCache();
  await plugin.beforeCacheAccess(new TokenCacheContext(tokenCache, false));
  tokenCache.deserialize(json);
  await plugin.afterCacheAccess(new TokenCacheContext(tokenCache, true));
}

/** @returns the stored sizes in bytes: { user: {ours, theirs}, tenant: {...}, blob: {...} } */
async function seed(env, PREFIX) {
  const { redis, user, app, caches, client, now } = env;
  const userKeyOf = (prefix) => (homeAccountId) => env.theirsUserKey(prefix, homeAccountId);

  for (const [oursCache, sessionId, theirsPrefix] of [['ours', 'user-read', PREFIX.theirs], ['oursSignIn', 'user-code', PREFIX.theirsSignIn]]) {
    await writeThrough(caches[oursCache].cachePlugin({ sessionId }), env.userConfig, user.json);
    await writeThrough(distributedPlugin(client, env.theirsUserKey(theirsPrefix), userKeyOf(theirsPrefix)), env.userConfig, user.json);
  }
  // The cost-of-encryption partitions (8 KB, 100 KB): the same user, encrypted and in plaintext.
  for (const sized of env.sizedUsers) {
    for (const cacheName of ['ours', 'oursPlain']) {
      await writeThrough(caches[cacheName].cachePlugin({ sessionId: sized.readSession }), env.userConfig, sized.json);
    }
  }
  for (const tenantId of app.tenantIds) {
    const json = JSON.stringify(app.tenantCache(tenantId));
    const config = env.appConfigs.get(tenantId);
    await writeThrough(caches.ours.cachePlugin({ tenantId }, env.clientId), config, json);
    await writeThrough(distributedPlugin(client, env.theirsAppKey(PREFIX.theirs, tenantId)), config, json);
  }
  const blobKey = env.theirsAppKey(PREFIX.theirs);
  await writeThrough(distributedPlugin(client, blobKey), env.appConfigs.get(app.tenantIds[0]), app.json);
  const blob = await redis.getBuffer(blobKey);
  for (const tenantId of env.blobTenants) {
    const key = env.oursKey('oursBlob', { tenantId });
    const { value } = seal(env.keyringOf('oursBlob'), key, { type: TYPE.partition, createdAt: now, notAfter: now + 86400, meta: null, body: blob });
    await redis.set(key, value, 'EX', 3600);
  }

  const size = (key) => redis.strlen(key);
  const sized = {};
  for (const { name, readSession } of env.sizedUsers) {
    sized[name] = {
      encrypted: await size(env.oursKey('ours', { sessionId: readSession })),
      plaintext: await size(env.oursKey('oursPlain', { sessionId: readSession })),
    };
  }
  return {
    user: { ours: await size(env.oursKey('ours', { sessionId: 'user-read' })), theirs: await size(env.theirsUserKey(PREFIX.theirs)) },
    tenant: { ours: await size(env.oursKey('ours', { tenantId: app.tenantIds[0] })), theirs: await size(env.theirsAppKey(PREFIX.theirs, app.tenantIds[0])) },
    blob: { ours: await size(env.oursKey('oursBlob', { tenantId: env.blobTenants[0] })), theirs: await size(blobKey) },
    ...sized,
  };
}

module.exports = { seed, writeThrough };
