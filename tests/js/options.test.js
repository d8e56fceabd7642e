'use strict';
// Options checked up front (issue 8, part 2), beyond the basic checks in plugin.unit.test.js: a missing
// auth.clientId, the names people bring from connect-redis, Microsoft.Identity.Web and StackExchangeRedis, and a
// client that is not ioredis. No Redis is needed: every check fails before the first command.

const Redis = require('../support/ioredis');
const { RedisTokenCache, ConfigurationError } = require('../../js');
const { createFakeIdentityProvider } = require('../support/fake-identity-provider');
const { testSecrets } = require('../support/test-secrets');

const CLIENT_ID = '00000000-0000-4000-8000-00000000c1d0';
const redis = new Redis({ lazyConnect: true });
afterAll(() => redis.disconnect());

const newTokenCache = (options = {}) => new RedisTokenCache({ redis, logger: { warn() {} }, localCache: false, ...testSecrets(), ...options });

describe('createClientApplication without auth.clientId', () => {
  const idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
  const withoutClientId = () => {
    const config = idp.msalConfig();
    delete config.auth.clientId;
    return config;
  };

  test.each([
    ['no clientId', withoutClientId()],
    ['an empty clientId', { ...withoutClientId(), auth: { ...withoutClientId().auth, clientId: '' } }],
    ['a clientId that is no string', { ...withoutClientId(), auth: { ...withoutClientId().auth, clientId: 42 } }],
    ['no auth', { system: idp.msalConfig().system }],
    ['no config', undefined],
  ])('%s: a ConfigurationError that says what to pass', (what, config) => {
    const make = () => newTokenCache().createClientApplication(config, { sessionId: 's' });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(/createClientApplication needs msalConfig\.auth\.clientId, your app registration's Application \(client\) ID: \{ auth: \{ clientId, authority, clientSecret \} \}/);
  });

  test('acquireTokenOnBehalfOf rejects the same way, before any request', async () => {
    await expect(newTokenCache().acquireTokenOnBehalfOf(withoutClientId(), { oboAssertion: 'a.b.c', scopes: ['x'] }))
      .rejects.toThrow(/needs msalConfig\.auth\.clientId/);
    expect(idp.requests).toEqual([]);
  });

  test('with a clientId the sign-in URL names it (what msal-node does without one: client_id=undefined)', async () => {
    const url = await newTokenCache().createClientApplication(idp.msalConfig(), { sessionId: 's' })
      .getAuthCodeUrl({ scopes: ['user.read'], redirectUri: 'http://localhost/r' });
    expect(new URL(url).searchParams.get('client_id')).toBe(CLIENT_ID);
  });
});

describe('RedisTokenCache: names from other libraries get a hint', () => {
  test.each([
    // Microsoft.Identity.Web (MsalDistributedTokenCacheAdapterOptions) and StackExchangeRedis (RedisCacheOptions).
    ['SlidingExpiration', /did you mean slidingSeconds\?/],
    ['slidingExpiration', /did you mean slidingSeconds\?/],
    ['AbsoluteExpirationRelativeToNow', /did you mean absoluteSeconds\?/],
    ['AbsoluteExpiration', /did you mean absoluteSeconds\?/],
    ['Encrypt', /did you mean encryptionKeys\?/],
    ['DisableL1Cache', /did you mean localCache: false\?/],
    ['L1CacheOptions', /did you mean localCache: \{ maxBytes, maxEntries, staleIfErrorSeconds \}\?/],
    ['OnL2CacheFailure', /did you mean writeFailure\?/],
    ['InstanceName', /did you mean prefix\?/],
    ['Configuration', /did you mean redis: new Redis\(connectionString\)\?/],
    // ioredis and connect-redis.
    ['keyPrefix', /did you mean prefix\?/],
    ['client', /did you mean redis\?/],
    ['ttl', /did you mean slidingSeconds \(and absoluteSeconds\)\?/],
    ['disableTouch', /disableTouch is a RedisSessionStore option/],
    ['serializer', /serializer is a RedisSessionStore option/],
    ['scanCount', /scanCount is a RedisSessionStore option/],
    ['tokenCache', /tokenCache is a RedisSessionStore option/],
  ])('%s', (name, hint) => {
    const make = () => newTokenCache({ [name]: 1 });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(new RegExp(`unknown option "${name}"; `));
    expect(make).toThrow(hint);
  });

  test('a name nobody uses gets no guess', () => {
    expect(() => newTokenCache({ sliding: 1 })).toThrow(/unknown option "sliding"$/);
  });
});

describe('a client that is neither ioredis nor node-redis: what was passed, and what is needed', () => {
  // Told apart by shape (neither package is required by the check): this one looks half like node-redis.
  class Commander {
    get isOpen() {
      return false;
    }

    sendCommand() {}
  }

  test.each([
    ['an object shaped like neither', new Commander(), /options\.redis must be an ioredis client \(new Redis\(\.\.\.\) or new Redis\.Cluster\(\.\.\.\) from "ioredis" or "iovalkey"\) or a node-redis client \(createClient\(\), createCluster\(\) or createSentinel\(\) from "redis", 5 or 6\); got Commander$/],
    ['a URL', 'redis://localhost:6379', /got a string \(a URL\? pass a connected client: new Redis\(url\) or createClient\(\{ url \}\)\)/],
    ['a promise', Promise.resolve(), /got Promise \(a promise\? await createClient\(\.\.\.\)\.connect\(\) first\)/],
    ['nothing', undefined, /got undefined/],
    ['another object', new Map(), /got Map$/],
  ])('%s', (what, client, message) => {
    const make = () => newTokenCache({ redis: client });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(message);
  });
});

describe('node-redis clients are accepted (not connected: no command is sent at construction)', () => {
  test.each([
    ['redis 6 createClient', () => require('redis').createClient()],
    ['redis 6 createCluster', () => require('redis').createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] })],
    ['redis 6 createSentinel', () => require('redis').createSentinel({ name: 'm', sentinelRootNodes: [{ host: '127.0.0.1', port: 1 }] })],
    ['redis 5 createClient', () => require('redis5').createClient()],
    ['redis 5 createCluster', () => require('redis5').createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] })],
    ['redis 5 createSentinel', () => require('redis5').createSentinel({ name: 'm', sentinelRootNodes: [{ host: '127.0.0.1', port: 1 }] })],
    ['iovalkey', () => new (require('iovalkey'))({ lazyConnect: true })],
  ])('%s', (what, make) => {
    const client = make();
    expect(newTokenCache({ redis: client }).settings.redis).toBe(client);
    if (typeof client.disconnect === 'function' && what === 'iovalkey') client.disconnect();
  });
});

describe('an option set to undefined takes its default', () => {
  // As in `prefix: process.env.PREFIX` with the variable unset: connect-redis treats it the same way.
  test('RedisTokenCache', () => {
    const cache = newTokenCache({ prefix: undefined, slidingSeconds: undefined, metrics: undefined });
    expect(cache.settings.prefix).toBe('msal:');
    expect(cache.settings.slidingSeconds).toBe(24 * 3600);
  });

  test('RedisSessionStore', () => {
    const { RedisSessionStore } = require('../../js');
    const store = new RedisSessionStore({ redis, tokenCache: newTokenCache(), prefix: undefined, scanCount: undefined });
    expect(store.prefix).toBe('sess:');
  });
});

describe('signOutReplicas', () => {
  test('defaults to "auto" with a 200 ms bound, a quarter of a short commandTimeoutMs, false or 0 to turn it off', () => {
    expect(newTokenCache().settings.signOutReplicas).toEqual({ replicas: 'auto', timeoutMs: 200 });
    expect(newTokenCache({ commandTimeoutMs: 100 }).settings.signOutReplicas).toEqual({ replicas: 'auto', timeoutMs: 25 });
    expect(newTokenCache({ signOutReplicas: { replicas: 2, timeoutMs: 300 } }).settings.signOutReplicas).toEqual({ replicas: 2, timeoutMs: 300 });
    expect(newTokenCache({ signOutReplicas: false }).settings.signOutReplicas).toBe(false);
    expect(newTokenCache({ signOutReplicas: { replicas: 0 } }).settings.signOutReplicas).toBe(false);
  });

  test.each([
    ['a bare number', 1, /signOutReplicas must be false or \{ replicas: 'auto' or a number \(0: off\), timeoutMs \}/],
    ['a negative count', { replicas: -1 }, /signOutReplicas\.replicas \(or 'auto'\) must be a positive integer/],
    ['an unknown name', { replica: 1 }, /unknown option "signOutReplicas\.replica"/],
    ['a bound of half commandTimeoutMs or more', { timeoutMs: 500 }, /signOutReplicas\.timeoutMs \(500\) must be below half of commandTimeoutMs \(1000\)/],
  ])('refuses %s', (what, value, message) => {
    expect(() => newTokenCache({ signOutReplicas: value })).toThrow(message);
  });

  test('a node-redis Sentinel client: sign-outs wait there too (no warning; a number is taken)', () => {
    const client = require('redis').createSentinel({ name: 'm', sentinelRootNodes: [{ host: '127.0.0.1', port: 1 }] });
    const warnings = [];
    const auto = newTokenCache({ redis: client, logger: { warn: (m) => warnings.push(m) } });
    expect(warnings).toEqual([]);
    expect(auto.stats().signOutReplicas).toEqual({ waits: 0, confirmed: 0, shortfalls: 0, skipped: 0 });
    expect(() => newTokenCache({ redis: client, signOutReplicas: { replicas: 1 } })).not.toThrow();
  });
});
