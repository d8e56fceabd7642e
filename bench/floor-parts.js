'use strict';
// Diagnostic (not part of npm run bench): what a cache hit with the in-process cache costs above msal's own
// in-memory cache, part by part, in one process, the parts interleaved in rounds:
//   node bench/floor-parts.js [8k|100k] [rounds]
//   PACKAGE=<other checkout> node bench/floor-parts.js ...   the same with that checkout's js/ (before/after runs)
// memory     a kept client (loaded once) + acquireTokenSilent: msal's in-memory cache, the floor
// newClient  new ConfidentialClientApplication(config) alone (no call)
// oursClient createClientApplication(config, selector) alone (plugin, partition name, the L1 lookup started)
// ours       createClientApplication + acquireTokenSilent (the L1 hit as in l1.read)
// plugin     the plugin's beforeCacheAccess + afterCacheAccess on a fresh msal TokenCache (L1 hit)

const Redis = require('ioredis');
const { ConfidentialClientApplication, TokenCacheContext } = require('@azure/msal-node');
const path = require('node:path');

const { RedisTokenCache } = require(path.resolve(process.env.PACKAGE || path.join(__dirname, '..'), 'js'));
const { startRedis } = require('../tests/support/redis-server');
const { createFakeIdentityProvider } = require('../tests/support/fake-identity-provider');
const { writeThrough } = require('./seed');
const { CLIENT_ID, USER_TENANT, sizedUserFixture } = require('./msal-fixtures');
const { SECRETS } = require('./environment');

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function main() {
  const [size = '8k', rounds = '200'] = process.argv.slice(2);
  const server = await startRedis();
  const redis = new Redis(server.url);
  const idp = createFakeIdentityProvider({ clientId: CLIENT_ID, tenantId: USER_TENANT });
  const config = idp.msalConfig();
  const fixture = sizedUserFixture({ now: Math.floor(Date.now() / 1000), bytes: size === '8k' ? 8 * 1024 : 100 * 1024 });
  const cache = new RedisTokenCache({ redis, prefix: 'floor:', ...SECRETS });
  const selector = { sessionId: 's' };
  await writeThrough(cache.cachePlugin(selector), config, fixture.json);
  const account = await cache.createClientApplication(config, selector).getTokenCache().getAccountByHomeId(fixture.homeAccountId);
  const scopes = [Object.values(fixture.cache.AccessToken)[0].target.split(' ')[0]];
  const kept = new ConfidentialClientApplication(config);
  kept.getTokenCache().deserialize(fixture.json);
  const parts = {
    memory: () => kept.acquireTokenSilent({ account, scopes }),
    newClient: () => new ConfidentialClientApplication(config),
    oursClient: () => cache.createClientApplication(config, selector),
    ours: () => cache.createClientApplication(config, selector).acquireTokenSilent({ account, scopes }),
    plugin: async () => {
      const plugin = cache.cachePlugin(selector);
      const context = new TokenCacheContext(new ConfidentialClientApplication(config).getTokenCache(), false);
      await plugin.beforeCacheAccess(context);
      await plugin.afterCacheAccess(context);
    },
  };
  const times = Object.fromEntries(Object.keys(parts).map((n) => [n, []]));
  for (let r = 0; r < Number(rounds) + 20; r++) {
    for (const [name, run] of Object.entries(parts)) {
      for (let i = 0; i < 25; i++) {
        const start = process.hrtime.bigint();
        await run();
        if (r >= 20) times[name].push(Number(process.hrtime.bigint() - start) / 1000);
      }
    }
  }
  const m = Object.fromEntries(Object.entries(times).map(([n, t]) => [n, median(t)]));
  console.log(`${size}: median µs ${Object.entries(m).map(([n, v]) => `${n} ${v.toFixed(1)}`).join(', ')}; ours/memory ${(m.ours / m.memory).toFixed(2)}x`);
  await cache.close();
  redis.disconnect();
  await server.stop();
}

main().catch((err) => { console.error(err); process.exitCode = 1; });
