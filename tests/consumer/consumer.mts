// A strict TypeScript ESM app (module nodenext): what the types of `import 'msal-redis-cache'` declare must be what
// index.mjs gives at run time.
import assert from 'node:assert/strict';
import type { ConfidentialClientApplication } from '@azure/msal-node';
import { Redis } from 'ioredis';
import {
  RedisTokenCache, RedisSessionStore, ConfigurationError, MsalRedisCacheError, CacheStoreError, core, DEFAULTS,
  type RedisTokenCacheOptions, type PartitionSelector,
} from 'msal-redis-cache';
import * as namespace from 'msal-redis-cache';
import msalRedisCache from 'msal-redis-cache';

// Every value the types export, no more and no fewer: the compiler checks these keys against the types, the run
// against the module.
const declared: Record<keyof typeof namespace, true> = {
  RedisTokenCache: true, RedisCachePlugin: true, RedisSessionStore: true, DEFAULTS: true, userAssertionHash: true,
  core: true, MsalRedisCacheError: true, CacheFormatError: true, CacheStoreError: true, ConfigurationError: true,
  default: true,
};
// Node 23+ adds a 'module.exports' name to a CommonJS module's namespace, which `export *` passes on.
const actual = Object.keys(namespace).filter((name) => name !== 'module.exports');
assert.deepEqual(Object.keys(declared).sort(), actual.sort());
// The default export is module.exports: the named exports, without a `default` of its own.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const defaultHasTheNamedExports: Same<keyof typeof msalRedisCache, Exclude<keyof typeof namespace, 'default'>> = true;
assert.ok(defaultHasTheNamedExports);
assert.deepEqual(Object.keys(msalRedisCache).sort(), actual.filter((name) => name !== 'default').sort());

const redis = new Redis({ lazyConnect: true });
const options: RedisTokenCacheOptions = {
  redis,
  encryptionKeys: [process.env.MRC_ENCRYPTION_KEY ?? ''],
  keyNameSecret: process.env.MRC_KEY_NAME_SECRET ?? '',
  localCache: false,
};
const tokenCache = new RedisTokenCache(options);
const selector: PartitionSelector = { sessionId: 'session-1' };
const client: ConfidentialClientApplication = tokenCache.createClientApplication(
  { auth: { clientId: '00000000-0000-0000-0000-000000000001', clientSecret: 'not-a-secret' } },
  selector,
);
assert.equal(typeof client.acquireTokenSilent, 'function');

const store = new RedisSessionStore({ redis, tokenCache });
assert.match(store.sessionKey('session-1'), /^sess:\{/);

// @ts-expect-error: an unknown option is a compile error, and a ConfigurationError at run time
assert.throws(() => new RedisTokenCache({ ...options, ttl: 60 }), ConfigurationError);
assert.ok(new CacheStoreError('down') instanceof MsalRedisCacheError);
assert.equal(core.describe('{}').tokens.length, 0);
assert.equal(DEFAULTS.writeFailure, 'open');
assert.equal(msalRedisCache.RedisTokenCache, RedisTokenCache);

await tokenCache.close();
redis.disconnect();
console.log(JSON.stringify({ resolved: import.meta.resolve('msal-redis-cache'), names: actual }));
