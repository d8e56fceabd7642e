'use strict';
// The CommonJS entry, and the one list of the package's exports. index.mjs re-exports it with `export *`, which
// sees only the names Node's CommonJS export detection (cjs-module-lexer) finds, so keep to the two forms it reads:
// `module.exports = { name, name: identifier }` and a getter that returns `identifier.name`.
// tests/js/package.test.js checks that CommonJS, ESM and the types (index.d.ts, index.d.mts) list the same names.

const { RedisTokenCache, DEFAULTS } = require('./redis-token-cache');
const { RedisCachePlugin } = require('./msal/redis-cache-plugin');
const { userAssertionHash } = require('./msal/partitions');
const { MsalRedisCacheError, CacheFormatError, CacheStoreError, ConfigurationError } = require('./errors');
const coreModule = require('./core');

// The WebAssembly core, for tools and benchmarks.
const core = {
  planRead: coreModule.planRead,
  planWrite: coreModule.planWrite,
  planMergeWrite: coreModule.planMergeWrite,
  split: coreModule.split,
  merge: coreModule.merge,
  describe: coreModule.describe,
};

module.exports = {
  RedisTokenCache,
  RedisCachePlugin,
  DEFAULTS,
  userAssertionHash,
  MsalRedisCacheError,
  CacheFormatError,
  CacheStoreError,
  ConfigurationError,
  core,
};

// RedisSessionStore is loaded on first use, so that only apps that use express-session need it installed. Reading
// the export never throws: an ESM import reads every export, and must work in apps without express-session. There
// the export is a class whose constructor throws the explanation.
let sessionStoreClass = null;
const lazyExports = {
  get RedisSessionStore() {
    if (sessionStoreClass) return sessionStoreClass;
    try {
      sessionStoreClass = require('./session/session-store').RedisSessionStore;
    } catch (err) {
      if (!(err instanceof ConfigurationError)) throw err;
      sessionStoreClass = class RedisSessionStore {
        constructor() {
          throw new ConfigurationError(err.message.replace(/^msal-redis-cache: /, ''));
        }
      };
    }
    return sessionStoreClass;
  },
};
Object.defineProperty(module.exports, 'RedisSessionStore', {
  enumerable: true,
  get: function () {
    return lazyExports.RedisSessionStore;
  },
});
