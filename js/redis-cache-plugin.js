'use strict';
// The msal-node ICachePlugin: loads one partition from Redis before msal reads its cache, and after msal changed
// it, stores back only what belongs to that partition, swept of dead tokens, with the TTL the core computed.

const core = require('./core');
const { encodeEnvelope, decodeEnvelope } = require('./envelope');
const { CacheFormatError, redisCommand } = require('./errors');

/** Home account ids of everything in msal's in-memory cache (accounts and credentials; "" for app tokens). */
function homeAccountIdsInMemory(tokenCache) {
  const ids = new Set();
  for (const entity of Object.values(tokenCache.getKVStore())) {
    if (entity && typeof entity.homeAccountId === 'string' && entity.homeAccountId !== '') {
      ids.add(entity.homeAccountId);
    }
  }
  return ids;
}

class RedisCachePlugin {
  /**
   * @param {import('./partitions').Partition} partition
   * @param {object} settings normalized options of the RedisTokenCache that made this plugin
   */
  constructor(partition, settings) {
    this.partition = partition;
    this.settings = settings;
    this.key = settings.prefix + partition.partitionKey;
    // A session partition belongs to one account: the one loaded from Redis, or else the first signed in
    // through this plugin. Any other account is refused, so a reused client can never mix users.
    this.owner = null;
    // Accounts that were in msal's memory before this plugin loaded anything: never ours to write.
    this.foreign = new Set();
    this.createdAt = null;
    // Set while the last load failed: msal still calls afterCacheAccess, and writing then would replace the stored
    // partition with whatever little is in memory, and hide the load error behind a second one.
    this.loadFailed = false;
  }

  async beforeCacheAccess(cacheContext) {
    const { tokenCache } = cacheContext;
    for (const id of homeAccountIdsInMemory(tokenCache)) {
      if (id !== this.owner) this.foreign.add(id);
    }
    this.loadFailed = true;
    const stored = await this.#load();
    this.loadFailed = false;
    if (stored !== null) tokenCache.deserialize(stored);
  }

  async afterCacheAccess(cacheContext) {
    if (!cacheContext.cacheHasChanged || this.loadFailed) return;
    const { tokenCache } = cacheContext;
    const allowed = this.#allowedPartitions(tokenCache);
    if (allowed.length === 0) {
      // Nothing in memory belongs to this session (e.g. its only account was removed): the partition is empty.
      this.#warnForeign([...homeAccountIdsInMemory(tokenCache)]);
      await this.#delete();
      return;
    }
    const now = Math.floor(this.settings.clock() / 1000);
    const createdAt = this.createdAt ?? now;
    const plan = core.planWrite(tokenCache.serialize(), {
      allowed,
      kind: this.partition.kind,
      now,
      skewSeconds: this.settings.skewSeconds,
      slidingSeconds: this.settings.slidingSeconds,
      absoluteSeconds: this.settings.absoluteSeconds,
      createdAt,
      maxBytes: this.settings.maxValueBytes,
    });
    // Only ids with nothing kept are foreign: msal drops userAssertionHash from refresh tokens it serializes, so an
    // on-behalf-of partition sheds its user's refresh token on every write without that being a leak.
    this.#warnForeign(plan.droppedHomeAccountIds.filter((id) => !plan.homeAccountIds.includes(id)));
    if (!plan.hasTokens) {
      await this.#delete(); // the core sets hasTokens only with a positive TTL
      return;
    }
    const value = encodeEnvelope(this.key, { createdAt, owner: this.owner }, plan.cache);
    if (value.length > this.settings.maxValueBytes) {
      throw new CacheFormatError(
        `partition "${this.key}" would be ${value.length} bytes, over maxValueBytes (${this.settings.maxValueBytes}); not stored`,
      );
    }
    await redisCommand('SET', this.key, () => this.settings.redis.set(this.key, value, 'EX', plan.ttlSeconds));
    this.createdAt = createdAt;
  }

  /** The stored cache JSON to hand msal, or null for a miss (absent, unreadable or foreign value). */
  async #load() {
    const value = await redisCommand('GET', this.key, () => this.settings.redis.getBuffer(this.key));
    if (value === null) return null;
    try {
      if (value.length > this.settings.maxValueBytes) {
        throw new Error(`value is ${value.length} bytes, over maxValueBytes (${this.settings.maxValueBytes})`);
      }
      const { createdAt, owner, body } = decodeEnvelope(this.key, value);
      if (this.partition.mode === 'session' && owner !== null) {
        if (this.owner !== null && owner !== this.owner) throw new Error('the stored partition belongs to another account');
        this.owner = owner;
        this.foreign.delete(owner);
      }
      this.createdAt = createdAt;
      return body.toString('utf8');
    } catch (err) {
      this.settings.logger.warn(
        `msal-redis-cache: ignoring unreadable cache partition "${this.key}" (treated as a cache miss): ${err.message}`,
      );
      return null;
    }
  }

  #allowedPartitions(tokenCache) {
    if (this.partition.allowed) return this.partition.allowed;
    if (this.owner === null) {
      // Claim the session for the account signed in through it; with several candidates nobody can tell which
      // one is this session's user, so none is stored.
      const candidates = [...homeAccountIdsInMemory(tokenCache)].filter((id) => !this.foreign.has(id));
      if (candidates.length === 1) [this.owner] = candidates;
    }
    return this.owner === null ? [] : [`account:${this.owner}`];
  }

  #warnForeign(homeAccountIds) {
    if (homeAccountIds.length === 0) return;
    const accounts = homeAccountIds.filter((id) => id !== '').length;
    const what = [accounts > 0 && `${accounts} account(s)`, accounts < homeAccountIds.length && 'app tokens']
      .filter(Boolean)
      .join(' and ');
    this.settings.logger.warn(
      `msal-redis-cache: refused to store ${what} that do not belong to partition "${this.key}". A ` +
        'ConfidentialClientApplication seems to be shared across partitions: create one per request ' +
        '(RedisTokenCache.createClientApplication).',
    );
  }

  #delete() {
    return redisCommand('DEL', this.key, () => this.settings.redis.del(this.key));
  }
}

module.exports = { RedisCachePlugin, homeAccountIdsInMemory };
