'use strict';
// The baseline: msal-node's own DistributedCachePlugin over a plain ioredis client, with the two tiny adapters it
// needs (ICacheClient {get, set} and IPartitionManager {getKey, extractKey}), written the way msal-node's docs and
// samples do. It stores msal's serialized cache as is: no encryption, no validation, no TTL.

const { DistributedCachePlugin } = require('@azure/msal-node');

/** ICacheClient over ioredis or node-redis (the same get/set). A missing key reads as null, which msal's deserialize() treats as an empty cache. */
class RedisCacheClient {
  constructor(redis) {
    this.redis = redis;
  }

  get(key) {
    return this.redis.get(key);
  }

  set(key, value) {
    return this.redis.set(key, value);
  }
}

/**
 * IPartitionManager whose key the app already knows at request time (msal-node's sample looks it up in the
 * session store with one more Redis GET; this one does not, which only helps the baseline). For a user partition,
 * extractKey must land on the same key: `keyOf(homeAccountId)`.
 */
class KnownKeyPartitionManager {
  constructor(key, keyOf = () => key) {
    this.key = key;
    this.keyOf = keyOf;
  }

  async getKey() {
    return this.key;
  }

  async extractKey(accountEntity) {
    return this.keyOf(accountEntity.homeAccountId);
  }
}

/** A DistributedCachePlugin for one partition key. */
function distributedPlugin(client, key, keyOf) {
  return new DistributedCachePlugin(client, new KnownKeyPartitionManager(key, keyOf));
}

module.exports = { RedisCacheClient, KnownKeyPartitionManager, distributedPlugin };
