'use strict';
// The options of a RedisTokenCache, checked up front: a wrong option fails at start-up with a message that says
// what to do, not later inside a request.

const { ConfigurationError } = require('./errors');
const { createKeyring } = require('./keyring');

const DEFAULTS = Object.freeze({
  prefix: 'msal:',
  slidingSeconds: 24 * 3600,
  absoluteSeconds: 14 * 24 * 3600,
  skewSeconds: 300,
  maxValueBytes: 16 * 1024 * 1024,
  tombstoneSeconds: 600,
  migrateLegacyValues: false,
  commandTimeoutMs: 1000,
  writeFailure: 'open',
  localCache: Object.freeze({ maxBytes: 64 * 1024 * 1024, maxEntries: 10000, staleIfErrorSeconds: 300 }),
});

const KNOWN = new Set([
  ...Object.keys(DEFAULTS),
  'redis',
  'logger',
  'clock',
  'encryptionKeys',
  'keyNameSecret',
  'insecurePlaintextStorage',
  'ConfidentialClientApplication',
]);

// Names people bring from connect-redis, Microsoft.Identity.Web and ioredis.
const HINTS = {
  client: 'redis',
  ttl: 'slidingSeconds (and absoluteSeconds)',
  SlidingExpiration: 'slidingSeconds',
  AbsoluteExpirationRelativeToNow: 'absoluteSeconds',
  keyPrefix: 'prefix',
  Encrypt: 'encryptionKeys',
  encrypt: 'encryptionKeys',
  encryptionKey: 'encryptionKeys: [key]',
};

function positiveInteger(value, name) {
  if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigurationError(`${name} must be a positive integer`);
  return value;
}

/** Throws a ConfigurationError naming the first option this package does not know, with a hint when there is one. */
function rejectUnknown(options, known, hints, path = '') {
  for (const name of Object.keys(options)) {
    if (known.has(name)) continue;
    const hint = hints[name] ? `; did you mean ${hints[name]}?` : '';
    throw new ConfigurationError(`unknown option "${path}${name}"${hint}`);
  }
}

/** A logger must have warn(message): it is called from inside requests, where a TypeError would be a failed call. */
function checkLogger(logger) {
  if (!logger || typeof logger.warn !== 'function') {
    throw new ConfigurationError('logger must have a warn(message) method (console, pino, winston... all do)');
  }
  return logger;
}

/** Checks an ioredis client: the package uses its Buffer and script commands. */
function checkRedisClient(redis) {
  if (!redis || typeof redis.evalshaBuffer !== 'function' || typeof redis.getBuffer !== 'function') {
    const what = redis && redis.constructor ? redis.constructor.name : typeof redis;
    throw new ConfigurationError(
      `options.redis must be an ioredis client (new Redis(...) or new Redis.Cluster(...)); got ${what}`,
    );
  }
  return redis;
}

/** false, or the in-process cache's settings with their defaults. */
function localCacheOptions(value) {
  if (value === false) return false;
  if (!value || typeof value !== 'object') {
    throw new ConfigurationError('localCache must be false or { maxBytes, maxEntries, staleIfErrorSeconds }');
  }
  rejectUnknown(value, new Set(Object.keys(DEFAULTS.localCache)), {}, 'localCache.');
  const merged = { ...DEFAULTS.localCache, ...value };
  for (const name of Object.keys(merged)) positiveInteger(merged[name], `localCache.${name}`);
  return merged;
}

function normalizeOptions(options) {
  if (!options || typeof options !== 'object') throw new ConfigurationError('options must be an object');
  rejectUnknown(options, KNOWN, HINTS);
  const settings = { ...DEFAULTS, ...options };
  checkRedisClient(settings.redis);
  if (typeof settings.prefix !== 'string') throw new ConfigurationError('prefix must be a string');
  for (const name of ['slidingSeconds', 'absoluteSeconds', 'maxValueBytes', 'tombstoneSeconds']) {
    positiveInteger(settings[name], name);
  }
  if (settings.absoluteSeconds < settings.slidingSeconds) {
    throw new ConfigurationError(
      `absoluteSeconds (${settings.absoluteSeconds}) must not be below slidingSeconds (${settings.slidingSeconds})`,
    );
  }
  if (!Number.isSafeInteger(settings.skewSeconds) || settings.skewSeconds < 0) {
    throw new ConfigurationError('skewSeconds must be a non-negative integer');
  }
  if (typeof settings.migrateLegacyValues !== 'boolean') {
    throw new ConfigurationError('migrateLegacyValues must be true or false');
  }
  positiveInteger(settings.commandTimeoutMs, 'commandTimeoutMs');
  if (!['open', 'closed'].includes(settings.writeFailure)) {
    throw new ConfigurationError('writeFailure must be "open" (not stored, counted) or "closed" (a CacheStoreError)');
  }
  settings.localCache = localCacheOptions(settings.localCache);
  settings.logger = checkLogger(options.logger ?? console);
  settings.clock = options.clock ?? Date.now;
  settings.ConfidentialClientApplication = options.ConfidentialClientApplication ?? null;
  settings.keyring = createKeyring(options);
  delete settings.encryptionKeys;
  delete settings.keyNameSecret;
  if (settings.keyring.plaintext) {
    settings.logger.warn(
      'msal-redis-cache: insecurePlaintextStorage is on: tokens are stored UNENCRYPTED in Redis. Use encryptionKeys in production.',
    );
  }
  return settings;
}

module.exports = { normalizeOptions, DEFAULTS };
