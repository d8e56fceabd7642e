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

/** Redis failed or was unreachable while loading or storing a partition. `cause` holds the client's error. */
class CacheStoreError extends MsalRedisCacheError {}

/** Invalid options passed to this package. */
class ConfigurationError extends MsalRedisCacheError {}

module.exports = { MsalRedisCacheError, CacheFormatError, CacheStoreError, ConfigurationError };
