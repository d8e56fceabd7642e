'use strict';
// The package's entry point: one RedisTokenCache per app (it holds the Redis client and the policy), and from it
// one ConfidentialClientApplication per request, bound to that request's cache partition. That per-request pattern
// is the one Microsoft recommends; this class makes it a one-liner.

const { RedisCachePlugin } = require('./redis-cache-plugin');
const { resolvePartition } = require('./partitions');
const { ConfigurationError, CacheFormatError, redisCommand } = require('./errors');
const core = require('./core');
const { decodeEnvelope } = require('./envelope');

const DEFAULTS = Object.freeze({
  prefix: 'msal:',
  slidingSeconds: 24 * 3600,
  absoluteSeconds: 14 * 24 * 3600,
  skewSeconds: 300,
  maxValueBytes: 16 * 1024 * 1024,
});

function positiveInteger(value, name) {
  if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigurationError(`${name} must be a positive integer`);
  return value;
}

function normalizeOptions(options) {
  if (!options || typeof options !== 'object') throw new ConfigurationError('options must be an object');
  const { redis } = options;
  if (!redis || typeof redis.getBuffer !== 'function' || typeof redis.set !== 'function') {
    throw new ConfigurationError('options.redis must be an ioredis client (Redis or Cluster)');
  }
  const settings = { ...DEFAULTS, ...options };
  if (typeof settings.prefix !== 'string') throw new ConfigurationError('prefix must be a string');
  positiveInteger(settings.slidingSeconds, 'slidingSeconds');
  positiveInteger(settings.absoluteSeconds, 'absoluteSeconds');
  positiveInteger(settings.maxValueBytes, 'maxValueBytes');
  if (!Number.isSafeInteger(settings.skewSeconds) || settings.skewSeconds < 0) {
    throw new ConfigurationError('skewSeconds must be a non-negative integer');
  }
  settings.logger = options.logger ?? console;
  settings.clock = options.clock ?? Date.now;
  settings.ConfidentialClientApplication = options.ConfidentialClientApplication ?? null;
  return settings;
}

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

class RedisTokenCache {
  /** @param {import('./index').RedisTokenCacheOptions} options */
  constructor(options) {
    this.settings = normalizeOptions(options);
  }

  /** An ICachePlugin for one partition, for apps that build their own client application. */
  cachePlugin(selector, clientId) {
    return new RedisCachePlugin(resolvePartition(selector, clientId), this.settings);
  }

  /** A new ConfidentialClientApplication whose cache is the selected partition. Create one per request. */
  createClientApplication(msalConfig, selector) {
    const clientId = msalConfig && msalConfig.auth && msalConfig.auth.clientId;
    const ConfidentialClientApplication = this.settings.ConfidentialClientApplication ?? loadMsal();
    return new ConfidentialClientApplication({
      ...msalConfig,
      cache: { ...(msalConfig.cache || {}), cachePlugin: this.cachePlugin(selector, clientId) },
    });
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

  /** Deletes a partition (sign-out). Resolves to true when a key was deleted. */
  async removePartition(selector, clientId) {
    const key = this.#key(selector, clientId);
    return (await redisCommand('DEL', key, () => this.settings.redis.del(key))) > 0;
  }

  /**
   * A secret-free summary of a stored partition (accounts, token kinds, scopes, expiry times, TTL, sizes), or
   * null when there is none.
   */
  async describePartition(selector, clientId) {
    const key = this.#key(selector, clientId);
    const [[, value], [, ttlSeconds]] = await redisCommand('GET', key, () =>
      this.settings.redis.multi().getBuffer(key).ttl(key).exec(),
    );
    if (value === null) return null;
    let envelope;
    try {
      envelope = decodeEnvelope(key, value);
    } catch (err) {
      throw new CacheFormatError(`partition "${key}" is unreadable: ${err.message}`);
    }
    const { createdAt, body } = envelope;
    return { key, ttlSeconds, createdAt, storedBytes: value.length, ...core.describe(body) };
  }

  #key(selector, clientId) {
    return this.settings.prefix + resolvePartition(selector, clientId).partitionKey;
  }
}

module.exports = { RedisTokenCache, DEFAULTS };
