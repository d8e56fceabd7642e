'use strict';
// The options of a RedisTokenCache and of a RedisSessionStore, checked up front: a wrong option fails at start-up
// with a message that says what to do, not later inside a request.

const { ConfigurationError } = require('./errors');
const { createKeyring } = require('./storage/keyring');
const { PARTITION_KEY_KINDS } = require('./msal/partitions');
const { encodePrefix } = require('./session/session-keys');
const { checkRedisClient } = require('./redis/driver');

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
  readFailure: 'closed',
  localCache: Object.freeze({ maxBytes: 64 * 1024 * 1024, maxEntries: 10000, staleIfErrorSeconds: 300 }),
  signOutReplicas: Object.freeze({ replicas: 'auto', timeoutMs: 200 }),
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
  'metrics',
]);

// Names people bring from connect-redis, Microsoft.Identity.Web (MsalDistributedTokenCacheAdapterOptions) and
// Microsoft.Extensions.Caching.StackExchangeRedis, and ioredis. Looked up ignoring case.
const SESSION_STORE_OPTION = 'is a RedisSessionStore option (new RedisSessionStore({ redis, tokenCache, ... }))';
const HINTS = hintTable({
  client: 'redis',
  ttl: 'slidingSeconds (and absoluteSeconds)',
  SlidingExpiration: 'slidingSeconds',
  AbsoluteExpiration: 'absoluteSeconds',
  AbsoluteExpirationRelativeToNow: 'absoluteSeconds',
  keyPrefix: 'prefix',
  InstanceName: 'prefix',
  Configuration: 'redis: new Redis(connectionString)',
  Encrypt: 'encryptionKeys',
  encryptionKey: 'encryptionKeys: [key]',
  DisableL1Cache: 'localCache: false',
  L1CacheOptions: 'localCache: { maxBytes, maxEntries, staleIfErrorSeconds }',
  OnL2CacheFailure: 'writeFailure',
  serializer: null,
  scanCount: null,
  disableTouch: null,
  disableTTL: null,
  tokenCache: null,
});

// connect-redis's names are RedisSessionStore options (they work there); these are the ones people get wrong.
const SESSION_HINTS = hintTable({
  host: 'redis: new Redis(url)',
  port: 'redis: new Redis(url)',
  url: 'redis: new Redis(url)',
  db: 'redis: new Redis(url)',
  pass: 'redis: new Redis(url)',
  password: 'redis: new Redis(url)',
  socket: 'redis: new Redis(url)',
  keyPrefix: 'prefix',
  expiration: 'ttl',
  maxAge: "ttl (or express-session's cookie.maxAge)",
  logErrors: 'logger (Redis errors reach express-session as CacheStoreError)',
  encryptionKey: 'encryptionKeys: [key]',
  secret: "encryptionKeys and keyNameSecret (express-session's own secret stays in session({ secret }))",
  slidingSeconds: 'tokenCache (a RedisTokenCache option: pass the token cache, and sessions never outlive its partitions)',
  absoluteSeconds: 'tokenCache (a RedisTokenCache option: pass the token cache, and sessions never outlive its partitions)',
});

/** A hint table keyed by lower-case name; a null hint means "a RedisSessionStore option". */
function hintTable(hints) {
  return new Map(Object.entries(hints).map(([name, hint]) => [name.toLowerCase(), hint]));
}

function positiveInteger(value, name) {
  if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigurationError(`${name} must be a positive integer`);
  return value;
}

/** Throws a ConfigurationError naming the first option this package does not know, with a hint when there is one. */
function rejectUnknown(options, known, hints, path = '') {
  for (const name of Object.keys(options)) {
    if (known.has(name)) continue;
    const hint = hints.get(name.toLowerCase());
    let advice = '';
    if (hint === null) advice = `; ${name} ${SESSION_STORE_OPTION}`;
    else if (hint !== undefined) advice = `; did you mean ${hint}?`;
    throw new ConfigurationError(`unknown option "${path}${name}"${advice}`);
  }
}

/** A logger must have warn(message): it is called from inside requests, where a TypeError would be a failed call. */
function checkLogger(logger) {
  if (!logger || typeof logger.warn !== 'function') {
    throw new ConfigurationError('logger must have a warn(message) method (console, pino, winston... all do)');
  }
  return logger;
}

/** The options given a value: an option set to undefined (`prefix: process.env.PREFIX`) takes its default. */
const definedOnly = (options) => Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));

/**
 * false, or how many replicas must hold a tombstone before a sign-out is acknowledged ('auto': one when the master
 * has any) and how long WAIT may take. WAIT blocks the connection the app's other commands share (js/redis/
 * replica-wait.js), and a sign-out may wait two of them: timeoutMs stays well under commandTimeoutMs.
 */
function signOutReplicasOptions(value, commandTimeoutMs) {
  if (value === false) return false;
  if (!value || typeof value !== 'object') {
    throw new ConfigurationError("signOutReplicas must be false or { replicas: 'auto' or a number (0: off), timeoutMs }");
  }
  rejectUnknown(value, new Set(Object.keys(DEFAULTS.signOutReplicas)), new Map(), 'signOutReplicas.');
  // The default bound shrinks with a short commandTimeoutMs (a quarter of it), so that the default always fits.
  const defaultTimeoutMs = Math.max(1, Math.min(DEFAULTS.signOutReplicas.timeoutMs, Math.floor(commandTimeoutMs / 4)));
  const given = value === DEFAULTS.signOutReplicas ? {} : definedOnly(value);
  const merged = { ...DEFAULTS.signOutReplicas, timeoutMs: defaultTimeoutMs, ...given };
  if (merged.replicas === 0) return false;
  if (merged.replicas !== 'auto') positiveInteger(merged.replicas, "signOutReplicas.replicas (or 'auto')");
  positiveInteger(merged.timeoutMs, 'signOutReplicas.timeoutMs');
  if (merged.timeoutMs * 2 >= commandTimeoutMs) {
    throw new ConfigurationError(
      `signOutReplicas.timeoutMs (${merged.timeoutMs}) must be below half of commandTimeoutMs (${commandTimeoutMs}): ` +
        'a sign-out may wait for two WAITs, each within commandTimeoutMs',
    );
  }
  return merged;
}

/** false, or the in-process cache's settings with their defaults. */
function localCacheOptions(value) {
  if (value === false) return false;
  if (!value || typeof value !== 'object') {
    throw new ConfigurationError('localCache must be false or { maxBytes, maxEntries, staleIfErrorSeconds }');
  }
  rejectUnknown(value, new Set(Object.keys(DEFAULTS.localCache)), new Map(), 'localCache.');
  const merged = { ...DEFAULTS.localCache, ...value };
  for (const name of Object.keys(merged)) positiveInteger(merged[name], `localCache.${name}`);
  return merged;
}

function normalizeOptions(options) {
  if (!options || typeof options !== 'object') throw new ConfigurationError('options must be an object');
  rejectUnknown(options, KNOWN, HINTS);
  const settings = { ...DEFAULTS, ...definedOnly(options) };
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
  if (!['open', 'closed'].includes(settings.readFailure)) {
    throw new ConfigurationError(
      'readFailure must be "closed" (a user partition Redis cannot read is a CacheStoreError) or "open" (a miss)',
    );
  }
  settings.localCache = localCacheOptions(settings.localCache);
  settings.signOutReplicas = signOutReplicasOptions(settings.signOutReplicas, settings.commandTimeoutMs);
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

const SESSION_DEFAULTS = Object.freeze({
  prefix: 'sess:',
  ttl: 86400,
  scanCount: 100,
  disableTouch: false,
  disableTTL: false,
});
const SECRETS = ['encryptionKeys', 'keyNameSecret', 'insecurePlaintextStorage'];
const SESSION_KNOWN = new Set([
  ...Object.keys(SESSION_DEFAULTS),
  ...SECRETS,
  'redis',
  'client',
  'ttlSeconds',
  'serializer',
  'tokenCache',
  'logger',
  'clock',
  'maxValueBytes',
]);

/**
 * The options of a RedisSessionStore: connect-redis's (client, prefix, ttl, disableTouch, disableTTL, serializer,
 * scanCount) with connect-redis's meaning, and the package's own (redis, tokenCache, the secrets, logger, clock).
 * Where connect-redis takes anything (ttl: 0 means the default, any truthy value is true), this is strict.
 */
function normalizeSessionStoreOptions(options) {
  if (!options || typeof options !== 'object') throw new ConfigurationError('RedisSessionStore options must be an object');
  rejectUnknown(options, SESSION_KNOWN, SESSION_HINTS);
  if (options.redis !== undefined && options.client !== undefined) {
    throw new ConfigurationError('pass the Redis client once: as redis (or as client, its connect-redis name)');
  }
  const redis = options.redis === undefined && options.client !== undefined
    ? checkRedisClient(options.client, 'options.client')
    : checkRedisClient(options.redis);
  if (options.ttl !== undefined && options.ttlSeconds !== undefined) {
    throw new ConfigurationError('pass one: ttl (seconds, or a function of the session) or ttlSeconds, its earlier name');
  }
  const ttl = options.ttl ?? options.ttlSeconds ?? SESSION_DEFAULTS.ttl;
  const settings = { ...SESSION_DEFAULTS, ...definedOnly(options), redis, ttl };
  delete settings.client;
  delete settings.ttlSeconds;
  for (const name of SECRETS) delete settings[name];
  if (typeof settings.prefix !== 'string' || !settings.prefix.isWellFormed()) {
    throw new ConfigurationError('prefix must be a string (of well-formed Unicode)');
  }
  if (options.ttlSeconds !== undefined) positiveInteger(settings.ttl, 'ttlSeconds');
  if (typeof settings.ttl !== 'function' && !(Number.isSafeInteger(settings.ttl) && settings.ttl > 0)) {
    throw new ConfigurationError('ttl must be a positive integer (seconds) or a function(session) that returns one');
  }
  positiveInteger(settings.scanCount, 'scanCount');
  for (const name of ['disableTouch', 'disableTTL']) {
    if (typeof settings[name] !== 'boolean') throw new ConfigurationError(`${name} must be true or false`);
  }
  const { serializer = null } = options;
  if (serializer !== null && !(typeof serializer.parse === 'function' && typeof serializer.stringify === 'function')) {
    throw new ConfigurationError('serializer must have parse(text) and stringify(session) methods, as JSON has');
  }
  settings.serializer = serializer ?? JSON;
  settings.tokenCache = checkTokenCache(options);
  const { tokenCache } = settings;
  if (tokenCache) checkPrefixes(settings.prefix, tokenCache.settings.prefix);
  settings.keyring = tokenCache ? tokenCache.settings.keyring : createKeyring(options);
  settings.migrateLegacyValues = tokenCache ? tokenCache.settings.migrateLegacyValues : false;
  // Sessions are checked in Redis against the same limit as partitions (a larger value is read no further than the limit + 1 byte).
  settings.maxValueBytes = tokenCache
    ? tokenCache.settings.maxValueBytes
    : positiveInteger(settings.maxValueBytes === undefined ? DEFAULTS.maxValueBytes : settings.maxValueBytes, 'maxValueBytes');
  settings.logger = checkLogger(options.logger ?? (tokenCache ? tokenCache.settings.logger : console));
  settings.clock = options.clock ?? (tokenCache ? tokenCache.settings.clock : Date.now);
  if (typeof settings.clock !== 'function') {
    throw new ConfigurationError('clock must be a function returning epoch milliseconds');
  }
  return settings;
}

/** The RedisTokenCache a session store shares its keys and lifetimes with, or null; what conflicts with it fails here. */
function checkTokenCache(options) {
  const { tokenCache = null } = options;
  if (tokenCache === null) return null;
  if (!(tokenCache.settings && tokenCache.shared)) throw new ConfigurationError('tokenCache must be a RedisTokenCache');
  const given = SECRETS.filter((name) => options[name] !== undefined);
  if (given.length > 0) {
    throw new ConfigurationError(
      `sessions are encrypted with the tokenCache's keys: remove ${given.join(' and ')} from the RedisSessionStore options`,
    );
  }
  if (options.maxValueBytes !== undefined) {
    throw new ConfigurationError(
      "with tokenCache, sessions use the tokenCache's maxValueBytes: set it on the RedisTokenCache, not on the store",
    );
  }
  if (options.disableTTL === true) {
    throw new ConfigurationError(
      "disableTTL cannot be combined with tokenCache: a session's tokens expire (slidingSeconds, absoluteSeconds) and " +
        'the store expires the session with them, so that no session outlives its tokens nor tokens their session. ' +
        'Drop disableTTL, or use the store without tokenCache.',
    );
  }
  if (tokenCache.settings.prefix.includes('{')) {
    throw new ConfigurationError(
      `the tokenCache's prefix "${tokenCache.settings.prefix}" contains "{": on a Redis Cluster that would take over the ` +
        'hash tag ({<HMAC of the session id>}) that keeps a session and its token partition in one hash slot. ' +
        'Use a token cache prefix without "{".',
    );
  }
  return tokenCache;
}

/**
 * Refuses a session prefix under which a session key could be a token-cache key. Session keys are
 * `<encoded prefix>{<h>}` (version 0.1's: `<prefix>{<sid>}`); the token cache's are `<p><kind>:<name>` (0.1's:
 * `<p><kind>:<id>`, ids in clear), `<p>` without "{". They can be equal only when the session prefix is `<p><kind>:`
 * followed by anything: `<p>session:` makes a session's key its own partition's. A shorter prefix, or `<p>` itself,
 * cannot: the "{" that follows it is in no kind.
 */
function checkPrefixes(prefix, tokenCachePrefix) {
  const taken = [...PARTITION_KEY_KINDS, 'index'].map((kind) => `${tokenCachePrefix}${kind}:`);
  const collides = taken.find((start) => prefix.startsWith(start) || encodePrefix(prefix).startsWith(start));
  if (collides) {
    throw new ConfigurationError(
      `RedisSessionStore prefix "${prefix}" is inside the token cache's key names ("${collides}..."): a session key ` +
        "could be a token-cache partition or index key. Use a prefix that does not start with the token cache's " +
        `prefix followed by ${[...PARTITION_KEY_KINDS, 'index'].map((kind) => `"${kind}:"`).join(', ')} (e.g. "sess:").`,
    );
  }
}

module.exports = { normalizeOptions, normalizeSessionStoreOptions, DEFAULTS };
