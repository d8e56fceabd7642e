'use strict';
// The msal-node ICachePlugin: before msal reads its cache, replace msal's memory with exactly the stored partition;
// after msal changed it, hand what msal now holds to the partition writer (compare-and-set against what was loaded,
// three-way merge on conflict). The plugin itself decides only what belongs to the partition.

const { loadPartition } = require('../storage/partition-reader');
const { replaceMsalMemory, serializeMsalMemory } = require('./msal-memory');
const { CacheStoreError } = require('../errors');

// A load this recent was made by the same msal call, just before it asked the identity provider: the write that
// follows is based on it rather than on a second read (if another server wrote meanwhile, the compare-and-set
// finds out and merges). An older load is from an earlier request of a reused client: read again.
const REUSE_LOAD_MS = 10000;

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
   * @param {{ context: object, writer: import('../storage/partition-writer').PartitionWriter }} cache the RedisTokenCache's
   *   shared parts
   */
  constructor(partition, { context, writer }) {
    this.partition = partition;
    this.context = context;
    this.writer = writer;
    const { prefix } = context.settings;
    this.key = prefix + partition.partitionKey;
    this.legacyKey = partition.legacyKey && prefix + partition.legacyKey;
    // A session partition belongs to one account: the one loaded from Redis, or else the first signed in
    // through this plugin. Any other account is refused, so a reused client can never mix users.
    this.owner = null;
    // Accounts that were in msal's memory before this plugin loaded anything: never ours to write.
    this.foreign = new Set();
    // What the last load read, and when: the base of the next write.
    this.loaded = null;
    this.loadedAt = 0;
    // Set while the last load failed: msal still calls afterCacheAccess, and writing then would replace the stored
    // partition with whatever little is in memory, and hide the load error behind a second one.
    this.loadFailed = false;
    // Set once a Redis call of this client (one request) failed: its later calls do not wait on Redis again, so a
    // request waits at most one commandTimeoutMs.
    this.redisFailed = false;
    // What this request's Redis calls took so far: together they get at most commandTimeoutMs (guard.js), so a slow
    // read and then a write that times out do not keep the caller twice as long. A read access (msal's first touch
    // of its cache in a call: acquireTokenSilent, a client-credential lookup) starts a new call's share.
    this.budget = { spentMs: 0 };
    // The version every write of this client is based on is read now, when the request starts, not when msal first
    // touches its cache: for a code redemption that is only after the identity provider answered, and a sign-out in
    // between must win (a write based on its tombstone would count as a new sign-in).
    this.startedAt = this.context.clock();
    this.firstLoad = this.#read();
    this.firstLoad.catch(() => {}); // awaited (and thrown) at the first cache access
  }

  /**
   * Resolves once the version this client's writes are based on has been read (rejects as that read did). Await it
   * before a token request that msal sends before touching its cache (acquireTokenByCode): createClientApplication
   * does; an app that builds its own client application from cachePlugin() should too.
   */
  async ready() {
    if (this.firstLoad) await this.firstLoad;
  }

  #read() {
    return loadPartition(this.context, { key: this.key, legacyKey: this.legacyKey }, { offline: this.redisFailed, budget: this.budget });
  }

  /** A load's result; one that failed (readFailure "closed") marks this request as having seen Redis fail. */
  async #settle(load) {
    try {
      return await load;
    } catch (err) {
      if (err instanceof CacheStoreError) this.redisFailed = true;
      throw err;
    }
  }

  async beforeCacheAccess(cacheContext) {
    const { tokenCache } = cacheContext;
    if (!cacheContext.cacheHasChanged && !this.firstLoad) this.budget = { spentMs: 0 }; // a new msal call
    for (const id of homeAccountIdsInMemory(tokenCache)) {
      if (id !== this.owner) this.foreign.add(id);
    }
    const keep = this.context.localCache !== null;
    let startedAt;
    let loaded;
    this.loadFailed = true;
    if (this.firstLoad) {
      // The read made when the request started: the base of this client's first write whatever happened since.
      startedAt = this.startedAt;
      const firstLoad = this.firstLoad;
      this.firstLoad = null;
      loaded = await this.#settle(firstLoad);
      // A client made long before its first use (kept, not made per request) reads again for a read access.
      if (!cacheContext.cacheHasChanged && this.context.clock() - startedAt >= REUSE_LOAD_MS) {
        startedAt = this.context.clock();
        loaded = await this.#settle(this.#read());
      }
    } else if (cacheContext.cacheHasChanged && this.loaded !== null && this.context.clock() - this.loadedAt < REUSE_LOAD_MS) {
      this.loadFailed = false;
      replaceMsalMemory(tokenCache, this.loaded, { keep });
      return;
    } else {
      startedAt = this.context.clock();
      loaded = await this.#settle(this.#read());
      if (cacheContext.cacheHasChanged && this.loaded !== null && loaded.removed && loaded.etag !== this.loaded.etag) {
        // msal is about to store a token response, and the partition was signed out after this client last read
        // it: that sign-out wins. The write stays based on the earlier read, so its compare-and-set finds the
        // tombstone and drops it.
        loaded = this.loaded;
      }
    }
    this.loadFailed = false;
    if (loaded.offline) this.redisFailed = true;
    if (this.partition.mode === 'session' && loaded.owner !== null) {
      if (this.owner !== null && loaded.owner !== this.owner) {
        this.context.logger.warn(
          `msal-redis-cache: ignoring cache partition "${this.key}" (a cache miss): it belongs to another account`,
        );
        loaded = { ...loaded, body: null, owner: null };
      } else {
        this.owner = loaded.owner;
        this.foreign.delete(loaded.owner);
      }
    }
    this.loaded = loaded;
    this.loadedAt = startedAt;
    // msal's deserialize() merges into memory and serialize() merges the last snapshot back in, so whatever a
    // client loaded earlier would survive a sign-out and be written back. Starting from exactly what is stored
    // also makes msal's own check fire: a refresh whose account is gone from the cache is not stored.
    replaceMsalMemory(tokenCache, loaded, { keep });
  }

  async afterCacheAccess(cacheContext) {
    if (!cacheContext.cacheHasChanged || this.loadFailed || this.loaded === null) return;
    const { tokenCache } = cacheContext;
    const allowed = this.#allowedPartitions(tokenCache);
    if (allowed.length === 0) {
      // Nothing in memory is this session's, and nothing is stored for it (a stored session has an owner).
      this.#warnForeign([...homeAccountIdsInMemory(tokenCache)]);
      return;
    }
    const { plan, outcome } = await this.writer.write({
      key: this.key,
      partition: this.partition,
      allowed,
      owner: this.partition.mode === 'session' ? this.owner : null,
      loaded: this.loaded,
      cache: serializeMsalMemory(tokenCache, this.loaded.body),
      offline: this.redisFailed,
      budget: this.budget,
    });
    if (outcome === 'failed') this.redisFailed = true;
    this.loadedAt = 0; // the stored version changed: the next write of this client reads it first
    // Only ids with nothing kept are foreign: msal drops userAssertionHash from refresh tokens it serializes, so an
    // on-behalf-of partition sheds its user's refresh token on every write without that being a leak.
    this.#warnForeign(plan.droppedHomeAccountIds.filter((id) => !plan.homeAccountIds.includes(id)));
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
    this.context.logger.warn(
      `msal-redis-cache: refused to store ${what} that do not belong to partition "${this.key}". A ` +
        'ConfidentialClientApplication seems to be shared across partitions: create one per request ' +
        '(RedisTokenCache.createClientApplication).',
    );
  }
}

module.exports = { RedisCachePlugin, homeAccountIdsInMemory };
