'use strict';
// Seeds the keys the read cases read. Each plugin's keys are written by that plugin's own afterCacheAccess from an
// msal TokenCache loaded with the fixture, so every read case reads exactly what its plugin would have stored.
// One exception, said where it is used: the 1,000-tenant value under our per-tenant keys, a value our plugin never
// writes (its app partitions hold one tenant); it carries the same bytes as the baseline's value, in our envelope.

const { ConfidentialClientApplication, TokenCacheContext } = require('@azure/msal-node');
const { encodeEnvelope } = require('../js/envelope');
const { distributedPlugin } = require('./distributed-baseline');

async function writeThrough(plugin, config, json) {
  const tokenCache = new ConfidentialClientApplication(config).getTokenCache();
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
    await redis.set(key, encodeEnvelope(key, { createdAt: now, owner: null }, blob), 'EX', 3600);
  }

  const size = (key) => redis.strlen(key);
  return {
    user: { ours: await size(env.oursKey('ours', { sessionId: 'user-read' })), theirs: await size(env.theirsUserKey(PREFIX.theirs)) },
    tenant: { ours: await size(env.oursKey('ours', { tenantId: app.tenantIds[0] })), theirs: await size(env.theirsAppKey(PREFIX.theirs, app.tenantIds[0])) },
    blob: { ours: await size(env.oursKey('oursBlob', { tenantId: env.blobTenants[0] })), theirs: await size(blobKey) },
  };
}

module.exports = { seed };
