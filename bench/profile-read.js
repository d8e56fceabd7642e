'use strict';
// Diagnostic (not part of npm run bench): where a cache-hit read without the L1 spends its time, next to DCP's.
//   node --cpu-prof --cpu-prof-dir=<dir> bench/profile-read.js [ours|theirs] [8k|100k] [calls] [read|refresh]
// One process, one side, one partition size: a new ConfidentialClientApplication + acquireTokenSilent per call, as
// in l1.read, after a warm-up. Prints µs per call; open the .cpuprofile in Chrome DevTools, or summarize it with
// bench/profile-summary.js.

const Redis = require('ioredis');
const { ConfidentialClientApplication } = require('@azure/msal-node');
const { RedisTokenCache } = require('../js');
const { startRedis } = require('../tests/support/redis-server');
const { createFakeIdentityProvider } = require('../tests/support/fake-identity-provider');
const { distributedPlugin, RedisCacheClient } = require('./distributed-baseline');
const { writeThrough } = require('./seed');
const { CLIENT_ID, USER_TENANT, sizedUserFixture } = require('./msal-fixtures');
const { SECRETS } = require('./environment');

async function main() {
  const [side = 'ours', size = '8k', calls = '5000', what = 'read'] = process.argv.slice(2);
  const server = await startRedis();
  const redis = new Redis(server.url);
  const idp = createFakeIdentityProvider({ clientId: CLIENT_ID, tenantId: USER_TENANT });
  const config = idp.msalConfig();
  const fixture = sizedUserFixture({ now: Math.floor(Date.now() / 1000), bytes: size === '8k' ? 8 * 1024 : 100 * 1024 });
  const cache = new RedisTokenCache({ redis, prefix: 'prof:', ...SECRETS, ...(process.env.PROFILE_L1 ? {} : { localCache: false }) });
  const client = new RedisCacheClient(redis);
  let sessionId = 's';
  const plugin = side === 'ours' ? () => cache.cachePlugin({ sessionId }) : () => distributedPlugin(client, `theirs:${sessionId}`);
  await writeThrough(plugin(), config, fixture.json);
  const newClient = side === 'ours'
    ? () => cache.createClientApplication(config, { sessionId })
    : () => new ConfidentialClientApplication({ ...config, cache: { cachePlugin: plugin() } });
  const refresh = what === 'refresh';
  let account = await newClient().getTokenCache().getAccountByHomeId(fixture.homeAccountId);
  let scopes = [Object.values(fixture.cache.AccessToken)[0].target.split(' ')[0]];
  if (refresh) { // a user the fake identity provider knows, signed in on a session partition of its own
    sessionId = 'refresh';
    scopes = ['user.read'];
    const code = idp.issueCode(idp.addUser(), { scopes });
    ({ account } = await newClient().acquireTokenByCode({ code, scopes, redirectUri: 'http://localhost/auth/redirect' }));
  }
  const once = async () => {
    const result = await newClient().acquireTokenSilent({ account, scopes, forceRefresh: refresh });
    if (result.fromCache === refresh) throw new Error(refresh ? 'not a refresh' : 'not a cache hit');
  };
  for (let i = 0; i < 500; i++) await once();
  await redis.config('RESETSTAT');
  let writes = 0;
  let bytes = 0;
  const write = redis.stream.write.bind(redis.stream);
  redis.stream.write = (chunk, ...rest) => { writes++; bytes += chunk.length; return write(chunk, ...rest); };
  const started = process.hrtime.bigint();
  for (let i = 0; i < Number(calls); i++) await once();
  const us = Number(process.hrtime.bigint() - started) / 1000 / Number(calls);
  const commands = (await redis.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat_'))
    .map((l) => `${l.slice(8, l.indexOf(":"))} ${(Number(/calls=(\d+)/.exec(l)[1]) / Number(calls)).toFixed(2)} (${/usec_per_call=([\d.]+)/.exec(l)[1]} µs)`);
  console.log(`${side} ${size} ${what}: ${us.toFixed(1)} µs per call; Redis commands per call: ${commands.join(', ')}; ` +
    `socket writes per call ${(writes / Number(calls)).toFixed(2)}, ${(bytes / Number(calls)).toFixed(0)} B`);
  await cache.close();
  redis.disconnect();
  await server.stop();
}

main().catch((err) => { console.error(err); process.exitCode = 1; });
