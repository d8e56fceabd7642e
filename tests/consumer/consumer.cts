// A strict TypeScript CommonJS app (module nodenext, .cts): what the types of `require('msal-redis-cache')` declare
// must be what index.js gives at run time.
import assert = require('node:assert/strict');
import type { ConfidentialClientApplication } from '@azure/msal-node';
import { Redis, Cluster } from 'ioredis';
import { createClient, createCluster, createSentinel } from 'redis';
import msalRedisCache = require('msal-redis-cache');
import {
  RedisTokenCache, RedisSessionStore, ConfigurationError, MsalRedisCacheError, CacheFormatError, core,
  type RedisTokenCacheOptions,
} from 'msal-redis-cache';

// Every value the types export, no more and no fewer: the compiler checks these keys against the types, the run
// against the module.
const declared: Record<keyof typeof msalRedisCache, true> = {
  RedisTokenCache: true, RedisCachePlugin: true, RedisSessionStore: true, DEFAULTS: true, userAssertionHash: true,
  core: true, MsalRedisCacheError: true, CacheFormatError: true, CacheStoreError: true, ConfigurationError: true,
};
assert.deepEqual(Object.keys(declared).sort(), Object.keys(msalRedisCache).sort());

async function main(): Promise<void> {
  const redis = new Redis({ lazyConnect: true });
  const options: RedisTokenCacheOptions = {
    redis,
    encryptionKeys: [process.env.MRC_ENCRYPTION_KEY ?? ''],
    keyNameSecret: process.env.MRC_KEY_NAME_SECRET ?? '',
    localCache: false,
  };
  const tokenCache = new RedisTokenCache(options);
  // node-redis clients type-check where ioredis ones do (not connected: the constructors send nothing).
  new RedisTokenCache({ ...options, redis: createClient() });
  new RedisTokenCache({ ...options, redis: createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] }) });
  new RedisTokenCache({
    ...options,
    redis: createSentinel({ name: 'mymaster', sentinelRootNodes: [{ host: '127.0.0.1', port: 1 }] }),
    signOutReplicas: false, // a node-redis Sentinel client cannot wait for a replica (it would warn)
    readFailure: 'open',
  });
  // And ioredis's Cluster and Sentinel clients; the session store on a node-redis client (connect-redis's name).
  const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
  new RedisTokenCache({ ...options, redis: cluster, signOutReplicas: { replicas: 1, timeoutMs: 100 } });
  const sentinel = new Redis({ sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'mymaster', lazyConnect: true });
  new RedisTokenCache({ ...options, redis: sentinel, localCache: { maxBytes: 1 << 20, maxEntries: 100, staleIfErrorSeconds: 60 } });
  new RedisSessionStore({ client: createClient(), tokenCache });
  // @ts-expect-error a URL is not a client
  assert.throws(() => new RedisTokenCache({ ...options, redis: 'redis://localhost' }), ConfigurationError);
  const client: ConfidentialClientApplication = tokenCache.createClientApplication(
    { auth: { clientId: '00000000-0000-0000-0000-000000000001', clientSecret: 'not-a-secret' } },
    { homeAccountId: 'uid.utid' },
  );
  assert.equal(typeof client.acquireTokenByCode, 'function');

  const store = new RedisSessionStore({ redis, tokenCache });
  assert.equal(store.prefix, 'sess:');

  // @ts-expect-error: absoluteSeconds is a number; a ConfigurationError at run time too
  assert.throws(() => new RedisTokenCache({ ...options, absoluteSeconds: '14d' }), ConfigurationError);
  assert.ok(new CacheFormatError('bad') instanceof MsalRedisCacheError);
  assert.equal(typeof JSON.parse(core.merge(['{}', '{}'])), 'object');

  await tokenCache.close();
  redis.disconnect();
  cluster.disconnect();
  sentinel.disconnect();
  console.log(JSON.stringify({ resolved: require.resolve('msal-redis-cache'), names: Object.keys(msalRedisCache) }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
