'use strict';
// Diagnostic (not part of npm run bench): where one side's request spends its time, step by step, by wrapping the
// package's own functions (this process only; nothing in js/ changes).
//   node bench/spans.js [read|refresh] [8k|100k] [calls] [l1|nol1]
// Prints, per step, the mean µs per request and its share of the request (a step's time includes the awaits inside
// it: a Redis round trip shows as the time from sending to the reply being handled).

const Module = require('node:module');
const path = require('node:path');

const spans = new Map();
const add = (name, us) => { const s = spans.get(name) || { us: 0, n: 0 }; s.us += us; s.n++; spans.set(name, s); };
const now = () => Number(process.hrtime.bigint()) / 1000;
function wrap(object, name, label = name) {
  const original = object[name];
  object[name] = function timed(...args) {
    const start = now();
    const result = original.apply(this, args);
    if (result && typeof result.then === 'function') return result.finally(() => add(label, now() - start));
    add(label, now() - start);
    return result;
  };
}
// Wrap module exports before the package destructures them.
const js = (p) => require.resolve(path.join(__dirname, '..', 'js', p));
const core = require(js('core'));
['planWrite', 'planMergeWrite'].forEach((n) => wrap(core, n, `core.${n}`));
const stored = require(js('storage/stored-value'));
['seal', 'open'].forEach((n) => wrap(stored, n, `stored-value.${n}`));
const memory = require(js('msal/msal-memory'));
['replaceMsalMemory', 'serializeMsalMemory'].forEach((n) => wrap(memory, n, `msal-memory.${n}`));
const reader = require(js('storage/partition-reader'));
wrap(reader, 'loadPartition', 'partition-reader.loadPartition');
wrap(reader, 'interpret', 'partition-reader.interpret (open + checks)');

const Redis = require('ioredis');
const { RedisTokenCache } = require('../js');
const { RedisCachePlugin } = require(js('msal/redis-cache-plugin'));
const { PartitionStore } = require(js('storage/partition-store'));
const { PartitionWriter } = require(js('storage/partition-writer'));
const { PartitionIndex } = require(js('admin/partition-index'));
wrap(RedisCachePlugin.prototype, 'beforeCacheAccess', 'plugin.beforeCacheAccess');
wrap(RedisCachePlugin.prototype, 'afterCacheAccess', 'plugin.afterCacheAccess');
wrap(PartitionStore.prototype, 'read', 'store.read (GETRANGE+PTTL round trip)');
wrap(PartitionStore.prototype, 'compareAndSet', 'store.compareAndSet (EVALSHA round trip)');
wrap(PartitionWriter.prototype, 'write', 'writer.write');
wrap(PartitionIndex.prototype, 'beforeStore', 'index.beforeStore');
wrap(PartitionIndex.prototype, 'afterWrite', 'index.afterWrite (send only)');
const { startRedis } = require('../tests/support/redis-server');
const { createFakeIdentityProvider } = require('../tests/support/fake-identity-provider');
const { writeThrough } = require('./seed');
const { CLIENT_ID, USER_TENANT, sizedUserFixture } = require('./msal-fixtures');
const { SECRETS } = require('./environment');

async function main() {
  const [what = 'refresh', size = '8k', calls = '2000', l1 = 'l1'] = process.argv.slice(2);
  const server = await startRedis();
  const redis = new Redis(server.url);
  const idp = createFakeIdentityProvider({ clientId: CLIENT_ID, tenantId: USER_TENANT });
  const config = idp.msalConfig();
  const fixture = sizedUserFixture({ now: Math.floor(Date.now() / 1000), bytes: size === '8k' ? 8 * 1024 : 100 * 1024 });
  const cache = new RedisTokenCache({ redis, prefix: 'spans:', ...SECRETS, ...(l1 === 'l1' ? {} : { localCache: false }) });
  let sessionId = 's';
  await writeThrough(cache.cachePlugin({ sessionId }), config, fixture.json);
  const newClient = () => cache.createClientApplication(config, { sessionId });
  let account = await newClient().getTokenCache().getAccountByHomeId(fixture.homeAccountId);
  let scopes = [Object.values(fixture.cache.AccessToken)[0].target.split(' ')[0]];
  const refresh = what === 'refresh';
  if (refresh) {
    sessionId = 'refresh';
    scopes = ['user.read'];
    const code = idp.issueCode(idp.addUser(), { scopes });
    ({ account } = await newClient().acquireTokenByCode({ code, scopes, redirectUri: 'http://localhost/auth/redirect' }));
  }
  const once = async () => {
    const start = now();
    const result = await newClient().acquireTokenSilent({ account, scopes, forceRefresh: refresh });
    add('REQUEST (new client + acquireTokenSilent)', now() - start);
    if (result.fromCache === refresh) throw new Error(refresh ? 'not a refresh' : 'not a cache hit');
  };
  for (let i = 0; i < 300; i++) await once();
  spans.clear();
  for (let i = 0; i < Number(calls); i++) await once();
  const request = spans.get('REQUEST (new client + acquireTokenSilent)').us / Number(calls);
  console.log(`${what} ${size} ${l1}: ${calls} requests`);
  for (const [name, s] of [...spans].sort((a, b) => b[1].us - a[1].us)) {
    const per = s.us / Number(calls);
    console.log(`${per.toFixed(1).padStart(8)} µs ${(100 * per / request).toFixed(1).padStart(5)}%  ${(s.n / Number(calls)).toFixed(2)}x  ${name}`);
  }
  await cache.close();
  redis.disconnect();
  await server.stop();
}

main().catch((err) => { console.error(err); process.exitCode = 1; });
