'use strict';
// The package's entry point: one RedisTokenCache per app (it holds the Redis client, the keys and the policy), and
// from it one ConfidentialClientApplication per request, bound to that request's cache partition. That per-request
// pattern is the one Microsoft recommends; this class makes it a one-liner.

const { RedisCachePlugin } = require('./msal/redis-cache-plugin');
const { resolvePartition } = require('./msal/partitions');
const { ConfigurationError, CacheFormatError, CacheStoreError } = require('./errors');
const { normalizeOptions, DEFAULTS } = require('./options');
const { PartitionStore } = require('./storage/partition-store');
const { PartitionWriter } = require('./storage/partition-writer');
const { loadPartition, checkInBackground } = require('./storage/partition-reader');
const { RedisGuard } = require('./redis/guard');
const { ReplicaWait } = require('./redis/replica-wait');
const { LocalCache } = require('./local-cache/local-cache');
const { InvalidationListener, trackerSink } = require('./local-cache/invalidation-listener');
const { ClusterTracker } = require('./local-cache/cluster-tracker');
const { createMetrics } = require('./metrics');
const { PartitionIndex } = require('./admin/partition-index');
const admin = require('./admin/admin-operations');
const { driverFor } = require('./redis/driver');
const core = require('./core');

// ConfidentialClientApplication methods that ask the identity provider before they read the cache.
const TOKEN_REQUEST_FIRST = ['acquireTokenByCode', 'acquireTokenByRefreshToken', 'acquireTokenByUsernamePassword', 'acquireTokenOnBehalfOf'];

let msalClientClass = null;
// Resolved once, on first use: require() per request costs ~100 µs in a full request.
function loadMsal() {
  if (msalClientClass) return msalClientClass;
  try {
    msalClientClass = require('@azure/msal-node').ConfidentialClientApplication;
  } catch {
    throw new ConfigurationError('@azure/msal-node is not installed: npm install @azure/msal-node');
  }
  return msalClientClass;
}

/**
 * What keeps the in-process cache coherent: on a Cluster one listener per master (cluster-tracker.js), else one
 * listener on the server the client talks to. On a Sentinel master it first checks that the server is still a master
 * (a tracking connection left on a demoted master would hear of no write).
 */
function invalidationTracker(driver, settings, localCache, onTracking) {
  const options = { prefix: settings.prefix, logger: settings.logger };
  if (driver.topology === 'cluster') return new ClusterTracker(driver, { ...options, localCache, onTracking });
  return new InvalidationListener((handlers) => driver.trackingConnection(handlers), {
    ...options,
    requireMaster: driver.topology === 'sentinel',
    sink: trackerSink(localCache, onTracking),
  });
}

class RedisTokenCache {
  /** @param {import('./index').RedisTokenCacheOptions} options */
  constructor(options) {
    const settings = normalizeOptions(options);
    this.settings = settings;
    const metrics = createMetrics(settings.metrics, settings.logger);
    const guard = new RedisGuard({ ...settings, metrics });
    const driver = driverFor(settings.redis);
    // The in-process cache needs tracking connections of its own (one per master on a Cluster), which the driver opens
    // (driver.canTrack); where it cannot, the cache stays off and every read goes to Redis.
    const localCache =
      settings.localCache && driver.canTrack
        ? new LocalCache({ ...settings.localCache, clock: settings.clock, metrics })
        : null;
    const context = {
      settings,
      keyring: settings.keyring,
      logger: settings.logger,
      clock: settings.clock,
      migrateLegacyValues: settings.migrateLegacyValues,
      guard,
      driver,
      store: new PartitionStore(driver, guard, settings),
      replicaWait: settings.signOutReplicas
        ? new ReplicaWait({ driver, guard, clock: settings.clock, signOutReplicas: settings.signOutReplicas })
        : null,
      localCache,
      counters: { staleReads: 0, missedReads: 0, failedReads: 0, failedWrites: 0 },
      metrics,
    };
    context.index = new PartitionIndex(context);
    if (localCache) {
      localCache.onUnconfirmed = (key, entry) => checkInBackground(context, key, entry);
      guard.onAnswer = () => localCache.answered();
      localCache.clientFailing = () => guard.inOutage;
    }
    // A listener that tracks again has proved Redis answers: the breaker need not wait for its next probe.
    context.listener = localCache ? invalidationTracker(driver, settings, localCache, () => guard.reachable()) : null;
    this.shared = { context, writer: new PartitionWriter(context) };
    // Past a user's cap of partitions the index signs the oldest out, as signOutEverywhere would (partition-index.js).
    context.index.evict = (key) => this.shared.writer.remove(key);
  }

  /** Stops the in-process cache's invalidation connection. The app's own Redis client is left alone. */
  async close() {
    await this.shared.context.index.settle();
    if (this.shared.context.listener) await this.shared.context.listener.close();
  }

  /**
   * Counters and state, for health checks and tests: the in-process cache (hits, misses, stale copies served,
   * invalidations, evictions, bytes, entries, coherent), reads that failed open, writes that failed open, and the
   * circuit breaker.
   */
  stats() {
    const { localCache, guard, counters, replicaWait } = this.shared.context;
    return {
      localCache: localCache && {
        ...localCache.stats,
        entries: localCache.entries.size,
        bytes: localCache.bytes,
        coherent: localCache.coherent,
      },
      ...counters,
      redis: { ...guard.stats, breaker: guard.state },
      signOutReplicas: replicaWait && replicaWait.enabled ? { ...replicaWait.stats } : null,
    };
  }

  /** An ICachePlugin for one partition, for apps that build their own client application. */
  cachePlugin(selector, clientId) {
    return new RedisCachePlugin(this.#partition(selector, clientId), this.shared);
  }

  /** A new ConfidentialClientApplication whose cache is the selected partition. Create one per request. */
  createClientApplication(msalConfig, selector) {
    const clientId = msalConfig && msalConfig.auth && msalConfig.auth.clientId;
    // msal-node accepts a config without one and sends the browser to client_id=undefined: say so here instead.
    if (typeof clientId !== 'string' || clientId.trim() === '') {
      throw new ConfigurationError(
        "createClientApplication needs msalConfig.auth.clientId, your app registration's Application (client) ID: " +
          '{ auth: { clientId, authority, clientSecret } }',
      );
    }
    const ConfidentialClientApplication = this.settings.ConfidentialClientApplication ?? loadMsal();
    const plugin = this.cachePlugin(selector, clientId);
    const client = new ConfidentialClientApplication({ ...msalConfig, cache: { ...(msalConfig.cache || {}), cachePlugin: plugin } });
    // These send their token request before msal first touches its cache: the partition's version must be read
    // (not only asked for) before that request leaves, so that a sign-out Redis orders after it wins.
    for (const method of TOKEN_REQUEST_FIRST) {
      if (typeof client[method] !== 'function') continue;
      const request = client[method].bind(client);
      client[method] = async (...args) => {
        await plugin.ready();
        return request(...args);
      };
    }
    return client;
  }

  /**
   * On-behalf-of with its cache partition. msal-node does not load the cache before an OBO lookup, so the
   * partition is read first (getAllAccounts) and only then is the token requested.
   */
  async acquireTokenOnBehalfOf(msalConfig, request) {
    const client = this.createClientApplication(msalConfig, { userAssertion: request.oboAssertion });
    await client.getTokenCache().getAllAccounts();
    return client.acquireTokenOnBehalfOf(request);
  }

  /**
   * Sign-out: the partition becomes a tombstone for tombstoneSeconds, so that no request that loaded it earlier
   * can write it back. Resolves to true when a partition was there.
   */
  async removePartition(selector, clientId) {
    const partition = this.#partition(selector, clientId);
    const { prefix } = this.settings;
    const legacyKey = this.settings.migrateLegacyValues && partition.legacyKey ? prefix + partition.legacyKey : null;
    return this.shared.writer.remove(prefix + partition.partitionKey, legacyKey);
  }

  /**
   * Signs a user out of every session, of their account partition, and of the on-behalf-of partitions made from
   * their tokens (on this Redis and prefix): each becomes a tombstone, as at sign-out, and every server's next silent
   * call for them fails. Found through the user's index, never by scanning Redis. With `sessionStore` (the app's
   * RedisSessionStore) their express sessions are deleted too. Resolves to the number of partitions that held
   * tokens; rejects with CacheStoreError when Redis fails (call it again: removing twice is harmless).
   */
  async signOutEverywhere({ homeAccountId } = {}, options = {}) {
    return admin.signOutEverywhere(this.shared, homeAccountId, options);
  }

  /**
   * Removes the app (client-credential) partitions of every tenant of a client, and with includeOnBehalfOf its
   * on-behalf-of partitions. Resolves to the number that held tokens.
   */
  async clearAppTokens(clientId, options = {}) {
    return admin.clearAppTokens(this.shared, clientId, options);
  }

  /** Removes the app (client-credential) partition of one tenant of a client. Resolves to true when there was one. */
  async removeTenant({ tenantId } = {}, clientId) {
    if (typeof tenantId !== 'string' || tenantId === '') {
      throw new ConfigurationError('removeTenant needs the tenant: removeTenant({ tenantId }, clientId)');
    }
    return this.removePartition({ tenantId }, clientId);
  }

  /**
   * How many partitions of each kind are stored: { session, account, app, obo }, from counts kept at every write
   * (see README.md, "Admin operations", for what they miss). A few Redis calls, whatever the number of keys.
   */
  async countPartitions() {
    return this.shared.context.index.counts();
  }

  /**
   * A secret-free summary of a stored partition (accounts, token kinds, scopes, expiry times, TTL, sizes), or
   * null when there is none.
   */
  async describePartition(selector, clientId) {
    const { key, loaded } = await this.#load(selector, clientId);
    if (loaded.problem) throw new CacheFormatError(`partition "${key}" is unreadable: ${loaded.problem}`);
    if (loaded.body === null) return null;
    const ttlSeconds = Number(await this.shared.context.guard.run('TTL', key, () => this.shared.context.driver.ttl(key)));
    return { key, ttlSeconds, createdAt: loaded.createdAt, storedBytes: loaded.storedBytes, ...core.describe(loaded.body) };
  }

  /** The partition's MSAL cache JSON, decrypted (for tooling, migration, other MSAL libraries), or null. */
  async exportPartition(selector, clientId) {
    return (await this.#load(selector, clientId)).loaded.body;
  }

  /**
   * Stores an MSAL cache JSON as the partition, through the same checks and compare-and-set as every write: only
   * what belongs to the partition is kept, expired tokens are swept. A session partition takes the one account the
   * cache holds. Resolves to what happened: "stored", "removed" (nothing usable in it), "dropped" or "unchanged".
   */
  async importPartition(selector, cacheJson, clientId) {
    // Checked first: the core copies its whole input into wasm memory before it can refuse anything, and the stored
    // value (header, encryption) can only be larger than the JSON.
    const bytes = typeof cacheJson === 'string' ? Buffer.byteLength(cacheJson, 'utf8') : cacheJson?.byteLength;
    const { maxValueBytes } = this.settings;
    if (bytes > maxValueBytes) {
      throw new CacheFormatError(`the cache JSON is ${bytes} bytes, over maxValueBytes (${maxValueBytes}); not imported`);
    }
    const partition = this.#partition(selector, clientId);
    const { key, loaded } = await this.#load(selector, clientId);
    let { allowed } = partition;
    let owner = null;
    if (partition.mode === 'session') {
      const { homeAccountIds } = core.planRead(cacheJson, []);
      if (homeAccountIds.length !== 1) {
        throw new CacheFormatError(`a session partition holds exactly one account; this cache holds ${homeAccountIds.length}`);
      }
      [owner] = homeAccountIds;
      if (loaded.owner !== null && loaded.owner !== owner) {
        throw new CacheFormatError('the stored session partition belongs to another account');
      }
      allowed = [`account:${owner}`];
    }
    const { outcome } = await this.shared.writer.write({ key, partition, allowed, owner, loaded, cache: cacheJson });
    return outcome;
  }

  #partition(selector, clientId) {
    // The client id names the per-client indexes of app and on-behalf-of partitions (partition-index.js).
    return { ...resolvePartition(selector, clientId, this.settings.keyring), clientId };
  }

  /** A partition as Redis holds it now: tools get an error, not a request's fallback, when Redis fails. */
  async #load(selector, clientId) {
    const partition = this.#partition(selector, clientId);
    const { prefix } = this.settings;
    const key = prefix + partition.partitionKey;
    const legacyKey = partition.legacyKey && prefix + partition.legacyKey;
    const loaded = await loadPartition(this.shared.context, { key, legacyKey });
    if (loaded.offline) throw new CacheStoreError(`Redis is unavailable: partition "${key}" could not be read`);
    return { key, loaded };
  }
}

module.exports = { RedisTokenCache, DEFAULTS };
