'use strict';
// The WebAssembly core seen from JavaScript: the byte boundary, error mapping and memory behaviour.

const core = require('../../js/core');
const { CacheFormatError } = require('../../js/errors');
const { emptyCache, addUser, addAppToken, typicalUserCache, guid } = require('../support/cache-fixtures');

const NOW = 1_800_000_000;
const CLIENT = guid(7);
const writeRequest = (allowed, overrides = {}) => ({
  allowed,
  kind: 'account',
  now: NOW,
  skewSeconds: 300,
  slidingSeconds: 3600,
  absoluteSeconds: 86400,
  createdAt: NOW,
  ...overrides,
});

function twoUsersAndApps() {
  const cache = emptyCache();
  const alice = addUser(cache, { oid: guid(11), tid: guid(2), clientId: CLIENT, now: NOW });
  const bob = addUser(cache, { oid: guid(12), tid: guid(2), clientId: CLIENT, now: NOW });
  addAppToken(cache, { tenant: guid(21), clientId: CLIENT, now: NOW });
  addAppToken(cache, { tenant: guid(22), clientId: CLIENT, now: NOW });
  return { cache, alice, bob };
}

describe('planWrite', () => {
  test('keeps only the allowed account and reports the dropped one', () => {
    const { cache, alice, bob } = twoUsersAndApps();
    const plan = core.planWrite(JSON.stringify(cache), writeRequest([`account:${alice}`]));
    const stored = JSON.parse(plan.cache.toString('utf8'));
    expect(plan.hasTokens).toBe(true);
    expect(plan.homeAccountIds).toEqual([alice]);
    expect(plan.droppedHomeAccountIds).toContain(bob);
    const owners = new Set(
      ['Account', 'IdToken', 'AccessToken', 'RefreshToken'].flatMap((s) =>
        Object.values(stored[s] || {}).map((e) => e.home_account_id),
      ),
    );
    expect([...owners]).toEqual([alice]);
    expect(plan.ttlSeconds).toBe(3600);
  });

  test('an app partition lives exactly until its last access token expires', () => {
    const cache = emptyCache();
    addAppToken(cache, { tenant: guid(21), clientId: CLIENT, now: NOW, expiresIn: 4000 });
    addAppToken(cache, { tenant: guid(22), clientId: CLIENT, now: NOW, expiresIn: 5000 });
    const plan = core.planWrite(JSON.stringify(cache), writeRequest([`app:${guid(21)}`], { kind: 'app' }));
    expect(plan.ttlSeconds).toBe(4000);
    expect(Object.keys(JSON.parse(plan.cache).AccessToken)).toHaveLength(1);
  });

  test('a partition with nothing usable left is not stored', () => {
    const cache = emptyCache();
    addAppToken(cache, { tenant: guid(21), clientId: CLIENT, now: NOW - 7200 });
    const plan = core.planWrite(JSON.stringify(cache), writeRequest([`app:${guid(21)}`], { kind: 'app' }));
    expect(plan.hasTokens).toBe(false);
    expect(plan.cache.length).toBe(0);
    expect(plan.expired.accessTokens).toBe(1);
  });

  test('non-ASCII text survives the byte boundary in both directions', () => {
    const { cache, homeAccountId } = typicalUserCache({ now: NOW });
    const account = Object.values(cache.Account)[0];
    account.name = 'Zoë Ångström 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 日本語 \u2028';
    const plan = core.planWrite(JSON.stringify(cache), writeRequest([`account:${homeAccountId}`]));
    expect(Object.values(JSON.parse(plan.cache.toString('utf8')).Account)[0].name).toBe(account.name);
  });

  test('core errors arrive as CacheFormatError with the core message', () => {
    const { cache, homeAccountId } = typicalUserCache({ now: NOW });
    Object.values(cache.AccessToken)[0].expires_on = { soon: true };
    expect(() => core.planWrite(JSON.stringify(cache), writeRequest([`account:${homeAccountId}`]))).toThrow(
      CacheFormatError,
    );
    expect(() => core.planWrite(JSON.stringify(cache), writeRequest([`account:${homeAccountId}`]))).toThrow(
      /AccessToken\[.*\]\.expires_on/,
    );
    expect(() => core.planWrite('{"Account": {', writeRequest(['account:x']))).toThrow(CacheFormatError);
  });

  test('input over maxBytes is refused before parsing', () => {
    const { cache, homeAccountId } = typicalUserCache({ now: NOW });
    const text = JSON.stringify(cache);
    expect(() =>
      core.planWrite(text, writeRequest([`account:${homeAccountId}`], { maxBytes: text.length - 1 })),
    ).toThrow(CacheFormatError);
  });
});

describe('planRead', () => {
  test('accepts a Buffer and hands back the stored text untouched when it is all allowed', () => {
    const { cache, homeAccountId } = typicalUserCache({ now: NOW });
    const plan = core.planRead(Buffer.from(JSON.stringify(cache)), [`account:${homeAccountId}`]);
    expect(plan.rewritten).toBeNull();
    expect(plan.homeAccountIds).toEqual([homeAccountId]);
  });

  test('drops entries of other partitions from a stored value', () => {
    const { cache, alice, bob } = twoUsersAndApps();
    const plan = core.planRead(JSON.stringify(cache), [`account:${bob}`]);
    expect(plan.droppedHomeAccountIds).toContain(alice);
    expect(JSON.stringify(JSON.parse(plan.rewritten))).not.toContain(alice);
  });

  test.each([
    ['not JSON', 'garbage'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ['deep nesting', '['.repeat(100000)],
    ['duplicate keys', '{"Account":{},"Account":{}}'],
    ['an array at the top', '[]'],
  ])('rejects %s with a clear error', (_, input) => {
    expect(() => core.planRead(input, [])).toThrow(CacheFormatError);
  });
});

describe('split and merge', () => {
  test('merge(split(cache)) is the original cache', () => {
    const { cache } = twoUsersAndApps();
    const partitions = core.split(JSON.stringify(cache));
    expect(Object.keys(partitions).sort()).toEqual(
      [`account:${guid(11)}.${guid(2)}`, `account:${guid(12)}.${guid(2)}`, `app:${guid(21)}`, `app:${guid(22)}`].sort(),
    );
    const merged = JSON.parse(core.merge(Object.values(partitions).map((p) => JSON.stringify(p))));
    for (const section of Object.keys(cache)) expect(merged[section]).toEqual(cache[section]);
  });
});

describe('memory', () => {
  test('a million calls do not grow the wasm heap', () => {
    const { cache, homeAccountId } = typicalUserCache({ now: NOW });
    const small = JSON.stringify({ Account: {}, AccessToken: {} });
    const typical = JSON.stringify(cache);
    const allowed = [`account:${homeAccountId}`];
    // Warm up: buffers reach their working size.
    for (let i = 0; i < 1000; i += 1) {
      core.planRead(typical, allowed);
      core.planWrite(typical, writeRequest(allowed));
      expect(() => core.planRead('{"x":', [])).toThrow();
    }
    const memoryBefore = core.memoryBytes();
    const allocatedBefore = core.allocatedBytes();
    for (let i = 0; i < 1_000_000; i += 1) {
      core.planRead(small, []);
      if (i % 100 === 0) {
        core.planWrite(typical, writeRequest(allowed));
        try {
          core.planRead('{"x":', []);
        } catch {
          // error paths must free what they allocated too
        }
      }
    }
    expect(core.memoryBytes()).toBe(memoryBefore);
    expect(core.allocatedBytes()).toBeLessThanOrEqual(allocatedBefore + 64 * 1024);
  }, 120000);
});

describe('host process', () => {
  test('loading the core installs no process-wide handlers: the app keeps control of errors', () => {
    const { spawnSync } = require('node:child_process');
    const script = `
      require(${JSON.stringify(require.resolve('../../js'))});
      process.on('uncaughtException', (e) => console.log('handled:' + e.message));
      setTimeout(() => { throw new Error('boom'); }, 5);
      setTimeout(() => console.log('alive'), 30);`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    expect(child.status).toBe(0);
    expect(child.stdout).toBe('handled:boom\nalive\n');
    const rejection = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(require.resolve('../../js'))}); Promise.reject(new Error('nope'));`], {
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(rejection.stderr).toContain('nope');
    expect(rejection.stderr.length).toBeLessThan(10000); // not the 300 KB generated module
  });
});
