'use strict';
// Unit tests of the JS layer's small pieces: the stored value format, the keyring, partition selection and key
// names, options, and the plugin's behaviour when Redis misbehaves (one ioredis method replaced, everything else
// real).

const crypto = require('node:crypto');
const Redis = require('../../support/ioredis');
const { newRedis } = require('../../support/redis-client');
const {
  seal, open, tombstone, readHeader, UnreadableValue, TYPE, CLOCK_SKEW_SECONDS, MAX_HEADER_BYTES,
} = require('../../../js/storage/stored-value');
const { createKeyring } = require('../../../js/storage/keyring');
const { decodeLegacyValue, encodeLegacyValue } = require('../../../js/storage/legacy-value');
const { resolvePartition, userAssertionHash } = require('../../../js/msal/partitions');
const { etagOf } = require('../../../js/storage/partition-store');
const { RedisGuard } = require('../../../js/redis/guard');
const { RedisTokenCache, ConfigurationError, CacheFormatError } = require('../../../js');
const { createFakeIdentityProvider } = require('../../support/fake-identity-provider');
const { testSecrets } = require('../../support/test-secrets');

const newKey = () => crypto.randomBytes(32).toString('base64');
const FAR_FUTURE = 4102444800; // 2100-01-01
const ring = (...keys) => createKeyring({ encryptionKeys: keys, keyNameSecret: 'n'.repeat(43) + '=' });

describe('stored value (mrc2)', () => {
  const k1 = newKey();
  const body = Buffer.from('{"Account":{"é":1}}');

  test('round trips type, creation time, owner and body; the header names the key id, never the key', () => {
    const keyring = ring(k1);
    const { value, etag } = seal(keyring, 'k', { type: TYPE.partition, createdAt: 1700000000, notAfter: FAR_FUTURE, meta: 'uid.utid x', body });
    const opened = open(keyring, 'k', value);
    expect(opened).toMatchObject({ type: 'c', etag, createdAt: 1700000000, meta: 'uid.utid x', keyId: keyring.current.id });
    expect(opened.body.equals(body)).toBe(true);
    expect(open(keyring, 'k', seal(keyring, 'k', { type: 's', createdAt: 1, notAfter: FAR_FUTURE, body }).value).meta).toBeNull();
    expect(value.toString('latin1')).not.toContain('uid.utid');
    expect(value.toString('latin1')).not.toContain('Account');
    expect(value.includes(Buffer.from(k1, 'base64'))).toBe(false);
    expect(etagOf(value)).toBe(etag);
  });

  test('every write draws a new etag (the GCM nonce)', () => {
    const keyring = ring(k1);
    const etags = new Set(Array.from({ length: 100 }, () => seal(keyring, 'k', { type: 'c', createdAt: 1, notAfter: FAR_FUTURE, body }).etag));
    expect(etags.size).toBe(100);
  });

  test('refuses a value opened under another key name, or with any byte changed', () => {
    const keyring = ring(k1);
    const { value } = seal(keyring, 'k', { type: TYPE.partition, createdAt: 1700000000, notAfter: FAR_FUTURE, meta: 'a', body });
    expect(() => open(keyring, 'other', value)).toThrow(UnreadableValue);
    for (let i = 0; i < value.length; i += 1) {
      const changed = Buffer.from(value);
      changed[i] ^= 0x04;
      expect(() => open(keyring, 'k', changed)).toThrow(UnreadableValue);
    }
    for (let length = 0; length < value.length; length += 1) {
      expect(() => open(keyring, 'k', value.subarray(0, length))).toThrow(UnreadableValue);
    }
  });

  test('a value under a key not in the ring is refused, naming the key id', () => {
    const { value } = seal(ring(k1), 'k', { type: 'c', createdAt: 1, notAfter: FAR_FUTURE, body });
    expect(() => open(ring(newKey()), 'k', value)).toThrow(new RegExp(`key id ${ring(k1).current.id}, which is not in encryptionKeys`));
  });

  test('plaintext values (insecurePlaintextStorage) are checked, and refused by an encrypting cache', () => {
    const plain = createKeyring({ insecurePlaintextStorage: true });
    const { value } = seal(plain, 'k', { type: 'c', createdAt: 1, notAfter: FAR_FUTURE, meta: 'o', body });
    expect(open(plain, 'k', value).body.equals(body)).toBe(true);
    expect(() => open(plain, 'other', value)).toThrow(/integrity check failed/);
    expect(() => open(ring(k1), 'k', value)).toThrow(/stored unencrypted/);
  });

  test('a tombstone carries its removal time and notAfter, and is bound to its key like any value', () => {
    const keyring = ring(k1);
    const { value, etag } = tombstone(keyring, 'k', 1700000000, 1700000600);
    expect(value.toString('latin1', 0, value.indexOf(0x0a))).toBe(`mrc2 t ${etag} 1700000000 1700000600 ${keyring.current.id}`);
    expect(open(keyring, 'k', value, 1700000001)).toMatchObject({ type: 't', etag, createdAt: 1700000000, notAfter: 1700000600, body: null });
    expect(() => open(keyring, 'other key', value, 1700000001)).toThrow(/does not decrypt/);
    expect(() => open(keyring, 'k', Buffer.concat([value, Buffer.from('x')]), 1700000001)).toThrow(/does not decrypt/);
    // A forged one, without the key, does not open.
    const forged = Buffer.from(`mrc2 t ${etag} 1700000000 1700000600 -\n`);
    expect(() => open(keyring, 'k', forged, 1700000001)).toThrow(UnreadableValue);
  });

  test('notAfter is authenticated and enforced: a value past it is refused, whatever Redis kept', () => {
    const keyring = ring(k1);
    const written = 1700000000;
    const { value } = seal(keyring, 'k', { type: TYPE.partition, createdAt: written, notAfter: written + 3600, meta: 'a', body });
    expect(open(keyring, 'k', value, written + 3600).notAfter).toBe(written + 3600);
    // A little clock skew between servers is tolerated, no more.
    expect(open(keyring, 'k', value, written + 3600 + CLOCK_SKEW_SECONDS).body.equals(body)).toBe(true);
    const late = () => open(keyring, 'k', value, written + 3601 + CLOCK_SKEW_SECONDS);
    expect(late).toThrow(UnreadableValue);
    expect(late).toThrow(/expired .* \(its notAfter\)/);
    try {
      late();
    } catch (err) {
      expect(err.expired).toBe(true);
    }
    // Moving notAfter forward in the header (a writer without the key) breaks the authentication.
    const text = value.toString('latin1');
    const extended = Buffer.from(text.replace(` ${written + 3600} `, ` ${written + 99999} `), 'latin1');
    expect(extended.length).toBe(value.length);
    expect(() => open(keyring, 'k', extended, written + 7200)).toThrow(/does not decrypt/);
    // Only a session stored without a TTL may have no notAfter (0).
    const session = seal(keyring, 'k', { type: TYPE.session, createdAt: written, notAfter: 0, body }).value;
    expect(open(keyring, 'k', session, FAR_FUTURE).type).toBe('s');
    const timeless = seal(keyring, 'k', { type: TYPE.partition, createdAt: written, notAfter: 0, body }).value;
    expect(() => open(keyring, 'k', timeless, written)).toThrow(/has no notAfter/);
    expect(() => seal(keyring, 'k', { type: TYPE.partition, createdAt: written, body })).toThrow(/notAfter/);
  });

  test.each([
    ['no header', '{"Account":{}}'],
    ['an mrc1 value', 'mrc1 1 - d\n{}'],
    ['an unknown version', 'mrc3 c AAAAAAAAAAAAAAAA 1 abc\nxx'],
    ['an unknown type', 'mrc2 x AAAAAAAAAAAAAAAA 1 abc\nxx'],
    ['a bad time', 'mrc2 c AAAAAAAAAAAAAAAA soon abc\nxx'],
    ['empty', ''],
  ])('refuses %s', (_, text) => {
    expect(() => open(ring(k1), 'k', Buffer.from(text))).toThrow(UnreadableValue);
    expect(etagOf(Buffer.from(text))).toMatch(/^(!foreign|AAAAAAAAAAAAAAAA)$/);
  });

  test('readHeader gives the creation time without the key (for the session store)', () => {
    const { value } = seal(ring(k1), 'k', { type: 'c', createdAt: 1234, notAfter: FAR_FUTURE, body });
    expect(readHeader(value.subarray(0, MAX_HEADER_BYTES))).toMatchObject({ type: 'c', createdAt: 1234, notAfter: FAR_FUTURE });
  });
});

describe('legacy values (mrc1, read only)', () => {
  test('decodes an intact value of its key, refuses a changed or moved one', () => {
    const value = encodeLegacyValue('k', { createdAt: 5, owner: 'o' }, Buffer.from('{}'));
    expect(decodeLegacyValue('k', value)).toMatchObject({ createdAt: 5, owner: 'o' });
    expect(() => decodeLegacyValue('other', value)).toThrow(/integrity/);
  });
});

describe('keyring', () => {
  test('accepts base64, base64url and Buffers of 32 bytes; the first key encrypts', () => {
    const bytes = crypto.randomBytes(32);
    const keyring = ring(bytes.toString('base64url'), newKey(), new Uint8Array(crypto.randomBytes(32)));
    expect(keyring.byId.size).toBe(3);
    expect(keyring.current.id).toBe(ring(bytes).current.id);
  });

  test.each([
    [{}, /encryptionKeys is required.*randomBytes\(32\)/],
    [{ encryptionKeys: [] }, /non-empty array/],
    [{ encryptionKeys: ['c2hvcnQ='] }, /32 random bytes.*got 5 bytes/],
    [{ encryptionKeys: ['not base64!'] }, /32 random bytes/],
    [{ encryptionKeys: [newKey()] }, /keyNameSecret is required/],
    [{ encryptionKeys: [newKey()], keyNameSecret: 'x' }, /keyNameSecret must be 32 random bytes/],
    [{ encryptionKeys: [newKey()], insecurePlaintextStorage: true }, /choose one/],
    [{ insecurePlaintextStorage: 'yes' }, /true or false/],
  ])('refuses %p', (options, message) => {
    expect(() => createKeyring(options)).toThrow(message);
  });

  test('refuses a repeated key, and a key-name secret equal to an encryption key', () => {
    const key = newKey();
    expect(() => createKeyring({ encryptionKeys: [key, key], keyNameSecret: newKey() })).toThrow(/repeats/);
    expect(() => createKeyring({ encryptionKeys: [key], keyNameSecret: key })).toThrow(/must differ/);
  });

  test('key names depend on the key-name secret only: stable across a rotation of the encryption keys', () => {
    const nameSecret = newKey();
    const before = createKeyring({ encryptionKeys: [newKey()], keyNameSecret: nameSecret });
    const after = createKeyring({ encryptionKeys: [newKey(), newKey()], keyNameSecret: nameSecret });
    expect(after.name('account', 'u.t')).toBe(before.name('account', 'u.t'));
    expect(createKeyring({ encryptionKeys: [newKey()], keyNameSecret: newKey() }).name('account', 'u.t')).not.toBe(
      before.name('account', 'u.t'),
    );
    expect(before.name('account', 'u.t')).not.toBe(before.name('session', 'u.t'));
  });
});

describe('resolvePartition', () => {
  const keyring = createKeyring(testSecrets());

  test('maps each selector to a key without the id in it, and to its allowed core partitions', () => {
    const session = resolvePartition({ sessionId: 's1' }, undefined, keyring);
    // A session's 0.1 partition is never read (it would decide who the session is): no legacy key.
    expect(session).toMatchObject({ allowed: null, legacyKey: null });
    expect(session.partitionKey).toMatch(/^session:\{[\w-]{27}\}$/);
    const account = resolvePartition({ homeAccountId: 'u.t' }, undefined, keyring);
    expect(account).toMatchObject({ allowed: ['account:u.t'], legacyKey: 'account:u.t' });
    expect(account.partitionKey).toMatch(/^account:[\w-]{27}$/);
    const app = resolvePartition({ tenantId: 't1' }, 'c1', keyring);
    expect(app).toMatchObject({ allowed: ['app:t1'], kind: 'app', legacyKey: 'app:c1:t1' });
    expect(app.partitionKey).not.toContain('t1');
    expect(resolvePartition({ tenantId: 't1' }, 'c2', keyring).partitionKey).not.toBe(app.partitionKey);
    const hash = userAssertionHash('assertion');
    const obo = resolvePartition({ userAssertion: 'assertion' }, 'c1', keyring);
    expect(obo).toMatchObject({ allowed: [`obo:${hash}`] });
    expect(obo.partitionKey).not.toContain(hash);
  });

  test('matches msal-node userAssertionHash (base64url SHA-256, no padding)', () => {
    expect(userAssertionHash('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  test.each([[{}], [{ sessionId: 's', homeAccountId: 'h' }], [{ sessionId: '' }], [{ sessionId: 'a\nb' }], [{ tenantId: 't' }]])(
    'refuses %p',
    (selector) => {
      expect(() => resolvePartition(selector, undefined, keyring)).toThrow(ConfigurationError);
    },
  );

  // Hashed as UTF-8, a lone surrogate becomes U+FFFD: these pairs would share one partition.
  test.each([
    ['sessionId', 'sess-\uD800', 'sess-\uDFFF'],
    ['homeAccountId', 'uid.\uD83D', 'uid.\uDE00'],
    ['tenantId', '\uDBFFt', '\uDC00t'],
    ['userAssertion', 'eyJ\uD800', 'eyJ\uDBFF'],
  ])('refuses a %s with a lone surrogate (two such ids would share a partition)', (name, a, b) => {
    expect(Buffer.from(a, 'utf8').equals(Buffer.from(b, 'utf8'))).toBe(true); // why it matters
    for (const value of [a, b]) {
      expect(() => resolvePartition({ [name]: value }, 'c1', keyring)).toThrow(/well-formed Unicode/);
    }
    expect(resolvePartition({ [name]: 'sess-\u{1F600}' }, 'c1', keyring).partitionKey).toBeTruthy(); // a surrogate pair is fine
  });
});

describe('RedisTokenCache options', () => {
  const redis = new Redis({ lazyConnect: true });
  afterAll(() => redis.disconnect());

  test.each([
    [undefined, /options must be an object/],
    [{}, /ioredis client/],
    [{ redis: {} }, /ioredis client.*got Object/],
    [{ redis, slidingSeconds: 0 }, /slidingSeconds/],
    [{ redis, absoluteSeconds: 1.5 }, /absoluteSeconds/],
    [{ redis, skewSeconds: -1 }, /skewSeconds/],
    [{ redis, maxValueBytes: 'big' }, /maxValueBytes/],
    [{ redis, prefix: 3 }, /prefix/],
    [{ redis, tombstoneSeconds: 0 }, /tombstoneSeconds/],
    [{ redis, slidingSeconds: 100, absoluteSeconds: 50 }, /absoluteSeconds \(50\) must not be below slidingSeconds/],
    [{ redis, logger: {} }, /logger must have a warn/],
    [{ redis, ttl: 60 }, /unknown option "ttl"; did you mean slidingSeconds/],
    [{ redis, client: redis }, /unknown option "client"; did you mean redis/],
    [{ redis, encryptionKey: 'k' }, /did you mean encryptionKeys/],
  ])('refuses %p with a ConfigurationError', (options, message) => {
    const make = () => new RedisTokenCache(options && { ...testSecrets(), ...options });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(message);
  });

  test('is secure by default: without encryptionKeys it refuses, showing the command that makes a key', () => {
    const make = () => new RedisTokenCache({ redis });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(/encryptionKeys is required.*node -e .*randomBytes\(32\)\.toString\('base64'\)/);
  });

  test('insecurePlaintextStorage works and says so once', () => {
    const warnings = [];
    const cache = new RedisTokenCache({ redis, insecurePlaintextStorage: true, logger: { warn: (m) => warnings.push(m) } });
    expect(cache.settings.keyring.plaintext).toBe(true);
    expect(warnings).toEqual([expect.stringMatching(/UNENCRYPTED/)]);
  });
});

describe('plugin against a real Redis with one failure injected', () => {
  const CLIENT_ID = '00000000-0000-4000-8000-00000000beef';
  let redis;
  beforeAll(() => {
    redis = newRedis();
  });
  afterAll(() => redis.quit());

  function setup(prefix, options = {}) {
    const idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
    const warnings = [];
    const cache = new RedisTokenCache({ redis, prefix, logger: { warn: (m) => warnings.push(m) }, ...testSecrets(), ...options });
    const signIn = (user) =>
      cache
        .createClientApplication(idp.msalConfig(), { sessionId: 's' })
        .acquireTokenByCode({ code: idp.issueCode(user, { scopes: ['user.read'] }), scopes: ['user.read'], redirectUri: 'http://localhost/r' });
    const key = prefix + resolvePartition({ sessionId: 's' }, undefined, cache.settings.keyring).partitionKey;
    return { idp, cache, warnings, signIn, key };
  }

  test('a reply that arrived while this process was busy past commandTimeoutMs is used, not reported as a timeout', async () => {
    const guard = new RedisGuard({ commandTimeoutMs: 200, clock: Date.now, logger: { warn: () => {} } });
    await redis.ping(); // connected
    const busy = (ms) => {
      const until = Date.now() + ms;
      while (Date.now() < until); // a long synchronous task: the reply and the deadline both pass meanwhile
    };
    const answered = guard.run('PING', '(test)', () => redis.ping());
    busy(600);
    await expect(answered).resolves.toBe('PONG');
    // Two round trips (as a script's NOSCRIPT fallback): the second could only be sent once the process was free. It
    // gets one more commandTimeoutMs at most (guard.js): 200 ms, so that a loaded machine's Cluster round trip fits.
    const twice = guard.run('PING', '(test)', async () => `${await redis.ping()} ${await redis.ping()}`);
    busy(600);
    await expect(twice).resolves.toBe('PONG PONG');
    // A Redis that does not answer in time is still a timeout.
    await expect(guard.run('PING', '(test)', () => new Promise(() => {}))).rejects.toThrow(/no answer within 200 ms/);
  });

  test('a failed read is a miss whose write never overwrites the stored partition', async () => {
    for (const writeFailure of ['open', 'closed']) {
      const { idp, signIn, key, cache } = setup(`unit-failed-read-${writeFailure}:`, { writeFailure, readFailure: 'open', localCache: false });
      const alice = idp.addUser();
      await signIn(alice);
      const before = await redis.getBuffer(key);

      // The partition read and compare-and-set (binary replies) fail, in the driver the package reaches the client
      // through.
      const { driver } = cache.shared.context;
      const realScript = driver.script;
      const realRead = driver.getRangeAndPttl;
      driver.script = (script, scriptKey, args, options) => (options && options.buffers
        ? Promise.reject(new Error('connection reset'))
        : realScript.call(driver, script, scriptKey, args, options));
      driver.getRangeAndPttl = () => Promise.reject(new Error('connection reset'));
      try {
        if (writeFailure === 'closed') await expect(signIn(alice)).rejects.toThrow(/Redis SET not sent .*failed earlier in this request/);
        else await expect(signIn(alice)).resolves.toMatchObject({ account: { homeAccountId: alice.homeAccountId } });
      } finally {
        driver.script = realScript;
        driver.getRangeAndPttl = realRead;
      }
      expect((await redis.getBuffer(key)).equals(before)).toBe(true);
      expect(cache.stats()).toMatchObject({ missedReads: 1, failedWrites: writeFailure === 'open' ? 1 : 0 });
      await cache.close();
    }
  });


  test('an oversized stored value is a miss with a warning, and no more than maxValueBytes + 1 of it is transferred', async () => {
    const { idp, signIn, warnings, key, cache } = setup('unit-oversized:', { maxValueBytes: 4096 });
    await redis.set(key, Buffer.alloc(5000, 0x41));
    // What the reads and the compare-and-set's conflict reply bring back, in the driver the package reaches Redis through.
    const { driver } = cache.shared.context;
    const realRead = driver.getRangeAndPttl;
    const realScript = driver.script;
    const transferred = [];
    driver.getRangeAndPttl = async (...args) => {
      const reply = await realRead.apply(driver, args);
      transferred.push(reply[0].length);
      return reply;
    };
    driver.script = async (...args) => {
      const reply = await realScript.apply(driver, args);
      transferred.push(...reply.filter(Buffer.isBuffer).map((part) => part.length));
      return reply;
    };
    try {
      await expect(signIn(idp.addUser())).rejects.toThrow(CacheFormatError); // the new partition is over 4096 too
    } finally {
      driver.getRangeAndPttl = realRead;
      driver.script = realScript;
    }
    expect(warnings[0]).toMatch(/5000 bytes, over maxValueBytes/);
    expect(transferred.length).toBeGreaterThan(0);
    expect(Math.max(...transferred)).toBeLessThanOrEqual(4097);
    expect(await redis.strlen(key)).toBe(5000);
  });

  test('a Redis hash at the partition key is a miss with a warning, and sign-in replaces it', async () => {
    const { idp, signIn, warnings, key, cache } = setup('unit-wrongtype:');
    await redis.hset(key, 'field', 'value');
    const alice = idp.addUser();
    await signIn(alice);
    expect(warnings[0]).toMatch(/holds a Redis hash, not a string/);
    expect(await redis.type(key)).toBe('string');
    expect((await cache.describePartition({ sessionId: 's' })).accounts[0].home_account_id).toBe(alice.homeAccountId);
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

test('an mrc1 value is named as such whatever its header length', () => {
  for (const owner of [null, 'uid.utid']) {
    const value = encodeLegacyValue('msal:app:c:t', { createdAt: 1700000000, owner }, Buffer.from('{}'));
    expect(() => readHeader(value)).toThrow(/an mrc1 value \(from version 0\.1\)/);
  }
});
