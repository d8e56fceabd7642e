'use strict';
// A CommonJS app: requires every export, uses a few, and reports what it loaded.

const assert = require('node:assert/strict');
const {
  RedisTokenCache, RedisCachePlugin, RedisSessionStore, DEFAULTS, userAssertionHash, core,
  MsalRedisCacheError, CacheFormatError, CacheStoreError, ConfigurationError,
} = require('msal-redis-cache');
const everything = require('msal-redis-cache');

for (const value of [RedisTokenCache, RedisCachePlugin, RedisSessionStore, MsalRedisCacheError, CacheFormatError,
  CacheStoreError, ConfigurationError, userAssertionHash]) {
  assert.equal(typeof value, 'function');
}
assert.equal(DEFAULTS.prefix, 'msal:');
assert.ok(new ConfigurationError('x') instanceof MsalRedisCacheError);
assert.throws(() => new RedisTokenCache({}), ConfigurationError);
assert.deepEqual(core.describe('{}').tokens, []);

console.log(JSON.stringify({
  resolved: require.resolve('msal-redis-cache'),
  names: Object.keys(everything),
}));
