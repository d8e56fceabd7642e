'use strict';
// Diagnostic (not part of npm run bench): a read without the in-process cache, ours (localCache: false) and DCP,
// interleaved in one process, 8 KB, so that one CPU profile holds both sides under the same load:
//   node --cpu-prof --cpu-prof-dir=<dir> bench/profile-both.js
const Redis = require('ioredis');
const { ConfidentialClientApplication } = require('@azure/msal-node');
const { RedisTokenCache } = require('../js');
const { startRedis } = require('../tests/support/redis-server');
const { createFakeIdentityProvider } = require('../tests/support/fake-identity-provider');
const { distributedPlugin, RedisCacheClient } = require('./distributed-baseline');
const { writeThrough } = require('./seed');
const { CLIENT_ID, USER_TENANT, sizedUserFixture } = require('./msal-fixtures');
const { SECRETS } = require('./environment');
(async () => {
  const server = await startRedis();
  const redis = new Redis(server.url);
  const idp = createFakeIdentityProvider({ clientId: CLIENT_ID, tenantId: USER_TENANT });
  const config = idp.msalConfig();
  const fx = sizedUserFixture({ now: Math.floor(Date.now() / 1000), bytes: 8 * 1024 });
  const cache = new RedisTokenCache({ redis, prefix: 'both:', ...SECRETS, localCache: false });
  const client = new RedisCacheClient(redis);
  await writeThrough(cache.cachePlugin({ sessionId: 's' }), config, fx.json);
  await writeThrough(distributedPlugin(client, 'theirs'), config, fx.json);
  const account = await cache.createClientApplication(config, { sessionId: 's' }).getTokenCache().getAccountByHomeId(fx.homeAccountId);
  const scopes = [Object.values(fx.cache.AccessToken)[0].target.split(' ')[0]];
  const sides = {
    ours: () => cache.createClientApplication(config, { sessionId: 's' }).acquireTokenSilent({ account, scopes }),
    theirs: () => new ConfidentialClientApplication({ ...config, cache: { cachePlugin: distributedPlugin(client, 'theirs') } }).acquireTokenSilent({ account, scopes }),
  };
  const t = { ours: [], theirs: [] };
  for (let r = 0; r < 200; r++) for (const [n, f] of Object.entries(sides)) { const s = process.hrtime.bigint(); for (let i = 0; i < 25; i++) await f(); t[n].push(Number(process.hrtime.bigint() - s) / 25000); }
  const med = (x) => x.sort((a, b) => a - b)[x.length >> 1];
  console.log('median µs ours', med(t.ours).toFixed(1), 'theirs', med(t.theirs).toFixed(1));
  await cache.close(); redis.disconnect(); await server.stop();
})();
