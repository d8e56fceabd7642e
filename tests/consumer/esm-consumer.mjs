// An ESM app: imports every export by name, the namespace and the default, and checks that they are the CommonJS
// entry's exports, the very same objects (one copy of every class, so instanceof works across module systems).

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  RedisTokenCache, RedisCachePlugin, RedisSessionStore, DEFAULTS, userAssertionHash, core,
  MsalRedisCacheError, CacheFormatError, CacheStoreError, ConfigurationError,
} from 'msal-redis-cache';
import * as namespace from 'msal-redis-cache';
import defaultExport from 'msal-redis-cache';

const commonJs = createRequire(import.meta.url)('msal-redis-cache');
const named = {
  RedisTokenCache, RedisCachePlugin, RedisSessionStore, DEFAULTS, userAssertionHash, core,
  MsalRedisCacheError, CacheFormatError, CacheStoreError, ConfigurationError,
};
for (const [name, value] of Object.entries(named)) assert.equal(value, commonJs[name], name);
assert.equal(defaultExport, commonJs);
assert.ok(new CacheStoreError('x') instanceof commonJs.MsalRedisCacheError);
assert.equal(typeof core.planWrite, 'function');

// Node 23+ adds a 'module.exports' name to a CommonJS module's namespace, which `export *` passes on.
const names = Object.keys(namespace).filter((name) => name !== 'default' && name !== 'module.exports');
console.log(JSON.stringify({
  resolved: import.meta.resolve('msal-redis-cache'),
  names,
  commonJsNames: Object.keys(commonJs),
}));
