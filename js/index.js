'use strict';

const { RedisTokenCache, DEFAULTS } = require('./redis-token-cache');
const { RedisCachePlugin } = require('./redis-cache-plugin');
const { userAssertionHash } = require('./partitions');
const { MsalRedisCacheError, CacheFormatError, CacheStoreError, ConfigurationError } = require('./errors');
const core = require('./core');

module.exports = {
  RedisTokenCache,
  RedisCachePlugin,
  DEFAULTS,
  userAssertionHash,
  MsalRedisCacheError,
  CacheFormatError,
  CacheStoreError,
  ConfigurationError,
  // The WebAssembly core, for tools and benchmarks: planRead, planWrite, planMergeWrite, split, merge, describe.
  core: {
    planRead: core.planRead,
    planWrite: core.planWrite,
    planMergeWrite: core.planMergeWrite,
    split: core.split,
    merge: core.merge,
    describe: core.describe,
  },
};

// Loaded on first use, so that only apps that use express-session need it installed.
Object.defineProperty(module.exports, 'RedisSessionStore', {
  enumerable: true,
  get: () => require('./session-store').RedisSessionStore,
});
