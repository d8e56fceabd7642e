'use strict';
// Error classes users can test with instanceof. Every message starts with the package name so it is easy to spot
// in an app's logs.

class MsalRedisCacheError extends Error {
  constructor(message, options) {
    super(`msal-redis-cache: ${message}`, options);
    this.name = this.constructor.name;
  }
}

/** A cache document (from msal or from Redis) that the core refused: invalid JSON, wrong schema, over a limit. */
class CacheFormatError extends MsalRedisCacheError {}

/** Redis failed or was unreachable while loading or storing a partition. `cause` holds the ioredis error. */
class CacheStoreError extends MsalRedisCacheError {}

/** Invalid options passed to this package. */
class ConfigurationError extends MsalRedisCacheError {}

/** Runs one Redis command, turning its failure into a CacheStoreError that names the command and the key. */
async function redisCommand(command, key, operation) {
  try {
    return await operation();
  } catch (err) {
    throw new CacheStoreError(`Redis ${command} failed for "${key}": ${err.message}`, { cause: err });
  }
}

module.exports = { MsalRedisCacheError, CacheFormatError, CacheStoreError, ConfigurationError, redisCommand };
