'use strict';
// Unit tests of the JS layer's small pieces: envelope, partition selection, options, and the plugin's behaviour
// when Redis misbehaves (one ioredis method replaced, everything else real).

const Redis = require('ioredis');
const { encodeEnvelope, decodeEnvelope } = require('../../js/envelope');
const { resolvePartition, userAssertionHash } = require('../../js/partitions');
const { RedisTokenCache, ConfigurationError, CacheFormatError } = require('../../js');
const { createFakeIdentityProvider } = require('../support/fake-identity-provider');

describe('envelope', () => {
  const body = Buffer.from('{"Account":{"é":1}}');

  test('round trips the creation time, the owner and the body bytes', () => {
    const value = encodeEnvelope('k', { createdAt: 1700000000, owner: 'uid.utid-b2c_1 x' }, body);
    const decoded = decodeEnvelope('k', value);
    expect(decoded).toMatchObject({ createdAt: 1700000000, owner: 'uid.utid-b2c_1 x' });
    expect(decoded.body.equals(body)).toBe(true);
    expect(decodeEnvelope('k', encodeEnvelope('k', { createdAt: 1, owner: null }, body)).owner).toBeNull();
  });

  test('refuses a value read under another key, or with any byte changed', () => {
    const value = encodeEnvelope('k', { createdAt: 1700000000, owner: 'a' }, body);
    expect(() => decodeEnvelope('other', value)).toThrow(/integrity check failed/);
    for (let i = 0; i < value.length; i += 1) {
      const changed = Buffer.from(value);
      changed[i] ^= 0x04;
      expect(() => decodeEnvelope('k', changed)).toThrow(/not a msal-redis-cache value|integrity check failed/);
    }
  });

  test.each([
    ['no header', '{"Account":{}}'],
    ['wrong magic', 'xyz1 1 - d\n{}'],
    ['bad time', 'mrc1 soon - d\n{}'],
    ['missing fields', 'mrc1 1700000000\n{}'],
    ['bad owner encoding', 'mrc1 1 %E0%A4%A d\n{}'],
    ['empty', ''],
  ])('rejects %s', (_, text) => {
    expect(() => decodeEnvelope('k', Buffer.from(text))).toThrow(/not a msal-redis-cache value/);
  });
});

describe('resolvePartition', () => {
  test('maps each selector to its key and allowed core partitions', () => {
    expect(resolvePartition({ sessionId: 's1' })).toMatchObject({ partitionKey: 'session:{s1}', allowed: null });
    expect(resolvePartition({ homeAccountId: 'u.t' })).toMatchObject({
      partitionKey: 'account:u.t',
      allowed: ['account:u.t'],
    });
    expect(resolvePartition({ tenantId: 't1' }, 'c1')).toMatchObject({
      partitionKey: 'app:c1:t1',
      allowed: ['app:t1'],
      kind: 'app',
    });
    const hash = userAssertionHash('assertion');
    expect(resolvePartition({ userAssertion: 'assertion' }, 'c1')).toMatchObject({
      partitionKey: `obo:c1:${hash}`,
      allowed: [`obo:${hash}`],
    });
  });

  test('matches msal-node userAssertionHash (base64url SHA-256, no padding)', () => {
    expect(userAssertionHash('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  test.each([[{}], [{ sessionId: 's', homeAccountId: 'h' }], [{ sessionId: '' }], [{ sessionId: 'a\nb' }], [{ tenantId: 't' }]])(
    'refuses %p',
    (selector) => {
      expect(() => resolvePartition(selector)).toThrow(ConfigurationError);
    },
  );
});

describe('RedisTokenCache options', () => {
  const redis = { getBuffer() {}, set() {} };
  test.each([
    [undefined],
    [{}],
    [{ redis: {} }],
    [{ redis, slidingSeconds: 0 }],
    [{ redis, absoluteSeconds: 1.5 }],
    [{ redis, skewSeconds: -1 }],
    [{ redis, maxValueBytes: 'big' }],
    [{ redis, prefix: 3 }],
  ])('refuses %p with a ConfigurationError', (options) => {
    expect(() => new RedisTokenCache(options)).toThrow(ConfigurationError);
  });
});

describe('plugin against a real Redis with one failure injected', () => {
  const CLIENT_ID = '00000000-0000-4000-8000-00000000beef';
  let redis;
  beforeAll(() => {
    redis = new Redis(process.env.TEST_REDIS_URL);
  });
  afterAll(() => redis.quit());

  function setup(prefix, options = {}) {
    const idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
    const warnings = [];
    const cache = new RedisTokenCache({ redis, prefix, logger: { warn: (m) => warnings.push(m) }, ...options });
    const signIn = (user) =>
      cache
        .createClientApplication(idp.msalConfig(), { sessionId: 's' })
        .acquireTokenByCode({ code: idp.issueCode(user, { scopes: ['user.read'] }), scopes: ['user.read'], redirectUri: 'http://localhost/r' });
    return { idp, cache, warnings, signIn };
  }

  test('a failed read never overwrites the stored partition', async () => {
    const { idp, signIn } = setup('unit-failed-read:');
    const alice = idp.addUser();
    await signIn(alice);
    const key = 'unit-failed-read:session:{s}';
    const before = await redis.getBuffer(key);

    const realGet = redis.getBuffer;
    redis.getBuffer = () => Promise.reject(new Error('connection reset'));
    try {
      await expect(signIn(alice)).rejects.toThrow(/Redis GET failed .*connection reset/);
    } finally {
      redis.getBuffer = realGet;
    }
    expect((await redis.getBuffer(key)).equals(before)).toBe(true);
  });

  test('an oversized stored value is a miss with a warning; an oversized write is a clear error', async () => {
    const { idp, signIn, warnings } = setup('unit-oversized:', { maxValueBytes: 4096 });
    await redis.set('unit-oversized:session:{s}', Buffer.alloc(5000, 0x41));
    await expect(signIn(idp.addUser())).rejects.toThrow(CacheFormatError);
    expect(warnings[0]).toMatch(/5000 bytes, over maxValueBytes/);
    expect(await redis.strlen('unit-oversized:session:{s}')).toBe(5000);
  });

  test('describePartition shows token kinds and expiry, never a secret', async () => {
    const { idp, cache, signIn } = setup('unit-describe:');
    const result = await signIn(idp.addUser({ username: 'zoe@contoso.example' }));
    const description = await cache.describePartition({ sessionId: 's' });
    expect(description.ttlSeconds).toBeGreaterThan(0);
    expect(description.accounts[0].username).toBe('zoe@contoso.example');
    expect(description.tokens.map((t) => t.kind).sort()).toEqual(['AccessToken', 'IdToken', 'RefreshToken']);
    const text = JSON.stringify(description);
    expect(text).not.toContain(result.accessToken);
    expect(text).not.toContain(result.idToken);
    expect(await cache.describePartition({ sessionId: 'nobody' })).toBeNull();
  });
});
