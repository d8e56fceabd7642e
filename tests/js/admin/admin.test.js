'use strict';
// Admin operations (js/admin/admin-operations.js) and their indexes (js/admin/partition-index.js), with real
// ConfidentialClientApplications against the fake identity provider, on the run's Redis (standalone, Cluster or
// Sentinel: tests/support/redis-client.js):
//   - signOutEverywhere removes exactly that user's session, account and on-behalf-of partitions (tombstones), and
//     another server with a warm in-process cache then fails their silent calls; other users keep theirs;
//   - it fails closed (CacheStoreError) and costs O(that user's partitions) Redis commands, whatever else is stored;
//   - a partition joins its index before it exists; the indexes hold no personal data;
//   - clearAppTokens and removeTenant, with client-credential tokens for several tenants and two clients;
//   - countPartitions after sign-ins, sign-outs and expiry.

const crypto = require('node:crypto');
const { newRedis, keysAll, monitorAll, onEveryMaster, hasLocalCache } = require('../../support/redis-client');
const { RedisTokenCache, RedisSessionStore, CacheStoreError } = require('../../../js');
const { PartitionStore } = require('../../../js/storage/partition-store');
const { MARGIN_SECONDS, USER_INDEX_CAP, PAGE, SCRIPTS: INDEX_SCRIPTS } = require('../../../js/admin/partition-index');
const { resolvePartition } = require('../../../js/msal/partitions');
const { createFakeIdentityProvider } = require('../../support/fake-identity-provider');
const { testSecrets } = require('../../support/test-secrets');
const { storedPartition, isTombstone, testKeyring } = require('../../support/stored');

const CLIENT_ID = '00000000-0000-4000-8000-00000000ad01';
const OTHER_CLIENT_ID = '00000000-0000-4000-8000-00000000ad02';
const SCOPES = ['user.read'];
const APP_SCOPES = ['https://graph.microsoft.com/.default'];
const REDIRECT_URI = 'http://localhost/auth/redirect';
const TENANTS = ['aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002', 'aaaaaaaa-0000-4000-8000-000000000003'];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let redis;
let prefix;
let idp;
let warnings;
let caches;

beforeAll(() => {
  redis = newRedis();
});
afterAll(() => redis.quit());
beforeEach(() => {
  prefix = `admin:${expect.getState().currentTestName.replace(/\W+/g, '-').slice(0, 60)}:${crypto.randomBytes(3).toString('hex')}:`;
  idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
  warnings = [];
  caches = [];
});
afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(caches.map((cache) => cache.close()));
});

/** A RedisTokenCache on the run's Redis: another one is another server. */
function newTokenCache(options = {}) {
  const cache = new RedisTokenCache({ redis, prefix, logger: { warn: (m) => warnings.push(m) }, ...testSecrets(), ...options });
  caches.push(cache);
  return cache;
}

const keyOf = (selector, clientId) => prefix + resolvePartition(selector, clientId, testKeyring).partitionKey;
const tokenRequests = (provider = idp) => provider.requests.filter((r) => r.method === 'POST').length;

async function signIn(cache, user, selector) {
  const client = cache.createClientApplication(idp.msalConfig(), selector);
  return client.acquireTokenByCode({ code: idp.issueCode(user, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
}

const silent = (cache, selector, account) =>
  cache.createClientApplication(idp.msalConfig(), selector).acquireTokenSilent({ account, scopes: SCOPES });

const onBehalfOf = (cache, user) =>
  cache.acquireTokenOnBehalfOf(idp.msalConfig(), { oboAssertion: idp.issueAccessToken(user), scopes: SCOPES });

const appToken = (cache, tenantId, provider = idp) =>
  cache.createClientApplication(provider.msalConfig({ tenantId }), { tenantId }).acquireTokenByClientCredential({ scopes: APP_SCOPES });

/**
 * alice: three sessions, her account partition and an on-behalf-of partition; bob: a session and his account
 * partition. Each session also has its express session.
 */
async function signInBoth(cache, sessionStore) {
  const alice = idp.addUser({ username: 'alice@contoso.example', name: 'Alice Admintest' });
  const bob = idp.addUser({ username: 'bob@contoso.example', name: 'Bob Admintest' });
  const aliceSessions = ['alice-laptop', 'alice-phone', 'alice-tablet'];
  let account;
  for (const sessionId of aliceSessions) ({ account } = await signIn(cache, alice, { sessionId }));
  await signIn(cache, alice, { homeAccountId: alice.homeAccountId });
  await onBehalfOf(cache, alice);
  const bobs = await signIn(cache, bob, { sessionId: 'bob-laptop' });
  await signIn(cache, bob, { homeAccountId: bob.homeAccountId });
  if (sessionStore) {
    const cookie = { originalMaxAge: 3600000, expires: new Date(Date.now() + 3600000).toISOString(), path: '/' };
    for (const sessionId of [...aliceSessions, 'bob-laptop']) await sessionStore.set(sessionId, { cookie, sessionId });
  }
  const aliceKeys = [
    ...aliceSessions.map((sessionId) => keyOf({ sessionId })),
    keyOf({ homeAccountId: alice.homeAccountId }),
    (await keysAll(redis, `${prefix}obo:*`))[0],
  ];
  const bobKeys = [keyOf({ sessionId: 'bob-laptop' }), keyOf({ homeAccountId: bob.homeAccountId })];
  return { alice, bob, aliceAccount: account, bobAccount: bobs.account, aliceSessions, aliceKeys, bobKeys };
}

/** Waits until the cache's invalidation connection tracks (it connects on the cache's first read). */
async function untilTracking(cache) {
  await cache.exportPartition({ sessionId: 'start-the-listener' });
  for (let waited = 0; waited < 3000; waited += 5) {
    if (cache.stats().localCache.coherent) return;
    await sleep(5);
  }
  throw new Error('the in-process cache never started tracking');
}

describe('signOutEverywhere', () => {
  test("removes exactly that user's partitions; another server with a warm in-process cache then fails their silent calls", async () => {
    const server1 = newTokenCache();
    const server2 = newTokenCache();
    const sessionStore = new RedisSessionStore({ redis, prefix: `${prefix}sess:`, tokenCache: server1 });
    const { alice, aliceAccount, bobAccount, aliceSessions, aliceKeys, bobKeys } = await signInBoth(server1, sessionStore);
    for (const key of [...aliceKeys, ...bobKeys]) expect(await storedPartition(redis, key)).not.toBeNull();

    // Server 2 serves alice from its in-process cache (where there is one: not on a Cluster).
    if (hasLocalCache) await untilTracking(server2);
    for (const sessionId of aliceSessions) {
      for (let i = 0; i < 2; i++) expect((await silent(server2, { sessionId }, aliceAccount)).fromCache).toBe(true);
    }
    if (hasLocalCache) {
      const held = server2.shared.context.localCache.entries;
      expect(aliceSessions.every((sessionId) => held.has(keyOf({ sessionId })))).toBe(true);
      expect(server2.stats().localCache.hits).toBeGreaterThanOrEqual(aliceSessions.length);
    }

    expect(await server1.signOutEverywhere({ homeAccountId: alice.homeAccountId }, { sessionStore })).toBe(5);

    for (const key of aliceKeys) expect([key, await isTombstone(redis, key)]).toEqual([key, true]);
    for (const key of bobKeys) expect(await storedPartition(redis, key)).not.toBeNull();
    for (const sessionId of aliceSessions) expect(await sessionStore.get(sessionId)).toBeNull();
    expect(await sessionStore.get('bob-laptop')).toMatchObject({ sessionId: 'bob-laptop' });

    // Server 2 hears of the tombstones from Redis (invalidation) and drops its copies; its silent calls then fail.
    if (hasLocalCache) {
      const held = server2.shared.context.localCache.entries;
      for (let waited = 0; aliceKeys.some((key) => held.has(key)) && waited < 2000; waited += 5) await sleep(5);
      expect(aliceKeys.filter((key) => held.has(key))).toEqual([]);
    }
    const before = tokenRequests();
    for (const sessionId of aliceSessions) {
      await expect(silent(server2, { sessionId }, aliceAccount)).rejects.toThrow(/no_tokens_found|interaction_required|no refresh token/i);
    }
    await expect(silent(server2, { homeAccountId: alice.homeAccountId }, aliceAccount)).rejects.toThrow();
    expect(tokenRequests()).toBe(before); // nothing left to redeem
    expect((await silent(server2, { sessionId: 'bob-laptop' }, bobAccount)).fromCache).toBe(true);

    // Signing in again works at once (the tombstone is the new write's base), and is found by the next one.
    const again = await signIn(server2, alice, { sessionId: aliceSessions[0] });
    expect((await silent(server1, { sessionId: aliceSessions[0] }, again.account)).fromCache).toBe(true);
    expect(await server1.signOutEverywhere({ homeAccountId: alice.homeAccountId })).toBe(1);
    expect(await isTombstone(redis, aliceKeys[0])).toBe(true);
    expect(warnings).toEqual([]);
  });

  test('a session signed in to by another account since is left alone', async () => {
    const cache = newTokenCache();
    const alice = idp.addUser();
    const bob = idp.addUser();
    await signIn(cache, alice, { sessionId: 'shared-kiosk' });
    expect(await cache.removePartition({ sessionId: 'shared-kiosk' })).toBe(true);
    const bobs = await signIn(cache, bob, { sessionId: 'shared-kiosk' }); // same session id, now bob's
    // alice's index still lists the kiosk session: it is read, found to be bob's, and kept.
    expect(await cache.signOutEverywhere({ homeAccountId: alice.homeAccountId })).toBe(0);
    expect((await silent(newTokenCache(), { sessionId: 'shared-kiosk' }, bobs.account)).fromCache).toBe(true);
    expect(await cache.signOutEverywhere({ homeAccountId: bob.homeAccountId })).toBe(1);
    expect(await isTombstone(redis, keyOf({ sessionId: 'shared-kiosk' }))).toBe(true);
  });

  test('a Redis failure rejects with CacheStoreError; a partial one says so, and calling again finishes', async () => {
    const cache = newTokenCache();
    const { alice, aliceKeys } = await signInBoth(cache);

    // Redis unreachable (every call fails, in the driver the package reaches either client through): nothing can be
    // found, nothing is pretended.
    const own = newRedis(); // a client of its own: its driver is this client's only
    const offline = newTokenCache({ redis: own, localCache: false });
    const { driver } = offline.shared.context;
    for (const method of Object.getOwnPropertyNames(Object.getPrototypeOf(driver))) {
      if (method !== 'constructor' && typeof driver[method] === 'function') driver[method] = () => Promise.reject(new Error('connect ECONNREFUSED'));
    }
    await expect(offline.signOutEverywhere({ homeAccountId: alice.homeAccountId })).rejects.toThrow(CacheStoreError);
    own.disconnect();

    // One tombstone fails: every other partition is still removed, and the error says how many were not.
    const failing = aliceKeys[1];
    const compareAndSet = PartitionStore.prototype.compareAndSet;
    jest.spyOn(PartitionStore.prototype, 'compareAndSet').mockImplementation(function (key, ...args) {
      if (key === failing) return Promise.reject(new CacheStoreError(`Redis SET failed for "${key}": connection lost`));
      return compareAndSet.call(this, key, ...args);
    });
    const partial = cache.signOutEverywhere({ homeAccountId: alice.homeAccountId });
    await expect(partial).rejects.toThrow(CacheStoreError);
    await expect(partial).rejects.toThrow(/1 of 5 partitions could not be removed \(the others were\).*Call again/);
    for (const key of aliceKeys) expect([key, await isTombstone(redis, key)]).toEqual([key, key !== failing]);
    jest.restoreAllMocks();
    expect(await cache.signOutEverywhere({ homeAccountId: alice.homeAccountId })).toBe(1);
    for (const key of aliceKeys) expect(await isTombstone(redis, key)).toBe(true);
  });

  test("Redis commands: O(that user's partitions), whatever else is stored", async () => {
    const cache = newTokenCache({ localCache: false });
    const { alice, aliceKeys } = await signInBoth(cache);
    const carol = idp.addUser();
    await signIn(cache, carol, { sessionId: 'carol-only' });
    for (let i = 0; i < 30; i++) await signIn(cache, idp.addUser(), { sessionId: `other-${i}` });

    /** The commands (outside scripts) signOutEverywhere sends for `homeAccountId`, as [command, key]. */
    async function commandsOf(homeAccountId) {
      // The index prune's first use would be an EVALSHA refused (NOSCRIPT) and an EVAL: one call, two commands.
      await onEveryMaster(redis, (node) => node.script('LOAD', INDEX_SCRIPTS.PRUNE.lua));
      await cache.shared.context.index.settle(); // the sign-ins' count updates (count-updates.js: sent every 50 ms)
      const monitor = await monitorAll(redis);
      const seen = [];
      monitor.on('monitor', (time, args, source) => {
        if (source === 'lua') return;
        const [command, ...rest] = args.map(String);
        const key = command.toLowerCase().startsWith('eval') ? rest[2] : rest[0];
        // EVAL instead of EVALSHA when a node's script cache was empty: the same script.
        if (key && key.startsWith(prefix)) seen.push([command.toLowerCase().replace(/^eval$/, 'evalsha'), key]);
      });
      try {
        await cache.signOutEverywhere({ homeAccountId });
        await cache.shared.context.index.settle(); // the count updates are noted after the tombstones, not awaited
        // MONITOR sees a node's commands in order: once PING's reply is in, every command before it was seen.
        await onEveryMaster(redis, (node) => node.ping());
        await sleep(50);
      } finally {
        monitor.disconnect();
      }
      return seen;
    }

    // alice: her index (a page, and once done the prune of what was tombstoned), then per session a read and a
    // tombstone, a tombstone for her account and on-behalf-of partitions, and per kind of partition removed one count
    // update (ZREM of its members, ZREMRANGEBYSCORE of the expired).
    const alices = await commandsOf(alice.homeAccountId);
    const kindOf = (key) => key.slice(prefix.length).split(':')[0];
    const byKind = (seen) => Object.fromEntries(
      ['index', 'session', 'account', 'obo'].map((kind) => [kind, seen.filter(([, key]) => kindOf(key) === kind).map(([c]) => c).sort()]),
    );
    const partitionsTouched = (seen) => new Set(seen.map(([, key]) => key).filter((key) => kindOf(key) !== 'index'));
    expect(byKind(alices)).toEqual({
      index: ['evalsha', 'zrange', 'zrem', 'zrem', 'zrem', 'zremrangebyscore', 'zremrangebyscore', 'zremrangebyscore'],
      session: ['evalsha', 'evalsha', 'evalsha', 'getrange', 'getrange', 'getrange', 'pttl', 'pttl', 'pttl'], // 3 sessions: read, tombstone
      account: ['evalsha'],
      obo: ['evalsha'],
    });
    expect(alices).toHaveLength(19);
    expect(partitionsTouched(alices)).toEqual(new Set(aliceKeys));
    for (const key of aliceKeys) expect(await isTombstone(redis, key)).toBe(true);

    // carol, one session among 30 other users' and bob's: 2 (her index) + 3 (her session: the read's two commands, the
    // tombstone) + 1 (her account key, known without the index, absent) + 2 count updates of two commands. None of the
    // others' keys is touched.
    const carols = await commandsOf(carol.homeAccountId);
    expect(byKind(carols)).toEqual({
      index: ['evalsha', 'zrange', 'zrem', 'zrem', 'zremrangebyscore', 'zremrangebyscore'],
      session: ['evalsha', 'getrange', 'pttl'],
      account: ['evalsha'],
      obo: [],
    });
    expect(carols).toHaveLength(10);
    expect(partitionsTouched(carols)).toEqual(new Set([keyOf({ sessionId: 'carol-only' }), keyOf({ homeAccountId: carol.homeAccountId })]));
  });
});

describe('the indexes', () => {
  test('a partition joins its index before the write that creates it; when the index cannot be written, nothing is stored', async () => {
    const cache = newTokenCache({ localCache: false });
    const alice = idp.addUser();
    const indexKey = cache.shared.context.index.userKey(alice.homeAccountId);

    // The order, as Redis runs it: the partition's read (GETRANGE alone: without the in-process cache no PTTL), its
    // index, then its compare-and-set.
    const monitor = await monitorAll(redis);
    const seen = [];
    monitor.on('monitor', (time, args, source) => {
      if (source !== 'lua' && args.map(String).some((arg) => arg === indexKey || arg === keyOf({ sessionId: 'first' }))) {
        seen.push([Number(time), args.map(String).includes(indexKey) ? 'index' : 'partition']);
      }
    });
    try {
      await signIn(cache, alice, { sessionId: 'first' });
      await onEveryMaster(redis, (node) => node.ping());
      await sleep(50);
    } finally {
      monitor.disconnect();
    }
    expect(seen.sort(([a], [b]) => a - b).map(([, what]) => what)).toEqual(['partition', 'index', 'partition']);

    // An index key that is not a sorted set (WRONGTYPE): the sign-in's write is not sent.
    await redis.del(indexKey);
    await redis.set(indexKey, 'not an index');
    const closed = newTokenCache({ localCache: false, writeFailure: 'closed' });
    await expect(signIn(closed, alice, { sessionId: 'second' })).rejects.toThrow(/not stored: it could not be added to its index.*WRONGTYPE/);
    const open = newTokenCache({ localCache: false });
    expect((await signIn(open, alice, { sessionId: 'third' })).accessToken).toBeTruthy(); // the caller keeps its token
    expect(open.stats().failedWrites).toBe(1);
    expect(await keysAll(redis, `${prefix}session:*`)).toEqual([keyOf({ sessionId: 'first' })]);
    // A refresh of an existing partition does not touch the user's index.
    await redis.del(indexKey);
    await redis.set(indexKey, 'not an index');
    const client = cache.createClientApplication(idp.msalConfig(), { sessionId: 'first' });
    const [account] = await client.getTokenCache().getAllAccounts();
    const refreshed = await client.acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true });
    expect(refreshed.fromCache).toBe(false);
    expect(cache.stats().failedWrites).toBe(0);
  });

  test('members are pruned once their partition cannot exist any more, and an index expires with its last member', async () => {
    const cache = newTokenCache({ slidingSeconds: 60, absoluteSeconds: 60 });
    const alice = idp.addUser();
    await signIn(cache, alice, { sessionId: 'old' });
    const indexKey = cache.shared.context.index.userKey(alice.homeAccountId);
    const lifetime = 60 + MARGIN_SECONDS; // absoluteSeconds, and the margin for clock skew
    expect(await redis.ttl(indexKey)).toBeGreaterThan(lifetime - 5);
    expect(await redis.ttl(indexKey)).toBeLessThanOrEqual(lifetime);

    // A server whose clock is past that: the old session cannot exist any more (Redis would have dropped it), so
    // it is neither removed nor kept in the index once another sign-in adds to it.
    const later = newTokenCache({ slidingSeconds: 60, absoluteSeconds: 60, clock: () => Date.now() + (lifetime + 5) * 1000 });
    expect(await later.signOutEverywhere({ homeAccountId: alice.homeAccountId })).toBe(0);
    expect(await isTombstone(redis, keyOf({ sessionId: 'old' }))).toBe(false);
    await signIn(later, alice, { sessionId: 'new' });
    expect(await redis.zrange(indexKey, 0, -1)).toEqual([keyOf({ sessionId: 'new' }).slice(prefix.length)]);
  });

  /** Seeds `count` members named session:{<name>-<i>} into an index, 1,000 per ZADD. */
  async function seed(indexKey, name, count, score) {
    for (let i = 0; i < count; i += 1000) {
      const members = [];
      for (let j = i; j < Math.min(count, i + 1000); j++) members.push(score, `session:{${name}-${j}}`);
      await redis.zadd(indexKey, ...members);
    }
  }

  test('signOutEverywhere reads a 30,000-member index in pages: every Redis call within the command timeout', async () => {
    const events = [];
    const cache = newTokenCache({ localCache: false, metrics: { meterProvider: false, onEvent: (event) => events.push(event) } });
    const { absoluteSeconds, commandTimeoutMs } = cache.settings;
    const alice = idp.addUser();
    for (const sessionId of ['s1', 's2', 's3']) await signIn(cache, alice, { sessionId });
    await signIn(cache, alice, { homeAccountId: alice.homeAccountId });
    const indexKey = cache.shared.context.index.userKey(alice.homeAccountId);
    const now = Math.floor(Date.now() / 1000);
    // 29,000 members whose partitions are gone and that joined long ago; 1,000 that joined within the last hour.
    await seed(indexKey, 'gone', 29000, now + absoluteSeconds - 60);
    await seed(indexKey, 'recent', 1000, now + absoluteSeconds + MARGIN_SECONDS);
    expect(await redis.zcard(indexKey)).toBe(30004);
    // The driver's page read (js/redis/driver.js), whichever client is under it: ZRANGE ... BYSCORE LIMIT offset count.
    const zrange = jest.spyOn(cache.shared.context.driver, 'zrangeByScore');
    events.length = 0;

    expect(await cache.signOutEverywhere({ homeAccountId: alice.homeAccountId })).toBe(4);

    for (const selector of [{ sessionId: 's1' }, { sessionId: 's2' }, { sessionId: 's3' }, { homeAccountId: alice.homeAccountId }]) {
      expect(await isTombstone(redis, keyOf(selector))).toBe(true);
    }
    const calls = events.filter(({ name }) => name === 'msal_redis_cache.redis.duration');
    expect(calls.length).toBeGreaterThan(30000);
    expect(calls.filter(({ attributes }) => attributes['error.type'])).toEqual([]);
    expect(Math.max(...calls.map(({ value }) => value))).toBeLessThan(commandTimeoutMs / 1000);
    // No call asked for more than a page.
    for (const args of zrange.mock.calls) expect(args.slice(2)).toEqual([expect.any(Number), PAGE]);
    expect(zrange.mock.calls.length).toBeGreaterThanOrEqual(30004 / PAGE);
    // Dropped from the index: what was tombstoned, and the members whose partitions were gone long after they joined.
    expect(await redis.zcard(indexKey)).toBe(1000);
    expect(await redis.zrange(indexKey, 0, 0)).toEqual(['session:{recent-0}']);
  }, 60000);

  test(`past ${USER_INDEX_CAP} members a sign-in prunes the gone ones and signs the oldest out: no live partition is left unindexed`, async () => {
    const cache = newTokenCache({ localCache: false });
    const { absoluteSeconds } = cache.settings;
    const { index } = cache.shared.context;
    const alice = idp.addUser();
    const live = ['live-0', 'live-1', 'live-2', 'live-3', 'live-4'];
    for (const sessionId of live) await signIn(cache, alice, { sessionId });
    const indexKey = index.userKey(alice.homeAccountId);
    const now = Math.floor(Date.now() / 1000);
    // Oldest first: 300 gone, then the 5 live sessions, then 1,000 members that joined within the last hour, a minute
    // ago (their partitions may still be on their way: they are never dropped for being missing).
    await seed(indexKey, 'gone', 300, now + absoluteSeconds - 60);
    for (const sessionId of live) await redis.zadd(indexKey, 'XX', now + absoluteSeconds - 30, keyOf({ sessionId }).slice(prefix.length));
    await seed(indexKey, 'recent', 1000, now + absoluteSeconds + MARGIN_SECONDS - 60);
    expect(await redis.zcard(indexKey)).toBe(1305);

    await signIn(cache, alice, { sessionId: 'new' });
    await index.settle(); // the index is checked after the sign-in, not during it

    expect(await redis.zcard(indexKey)).toBe(USER_INDEX_CAP);
    const members = new Set(await redis.zrange(indexKey, 0, -1));
    expect([...members].filter((member) => member.startsWith('session:{gone-'))).toEqual([]);
    // 1,306 - 300 gone = 1,006: the 6 oldest are signed out (tombstones) before they leave the index.
    for (const sessionId of live) {
      expect(await isTombstone(redis, keyOf({ sessionId }))).toBe(true);
      expect(members.has(keyOf({ sessionId }).slice(prefix.length))).toBe(false);
    }
    expect(await isTombstone(redis, `${prefix}session:{recent-0}`)).toBe(true);
    expect(members.has('session:{recent-1}')).toBe(true);
    // Every partition of alice that is not a tombstone is in her index.
    const stored = await keysAll(redis, `${prefix}session:*`);
    const unindexed = [];
    for (const key of stored) {
      if (!(await isTombstone(redis, key)) && !members.has(key.slice(prefix.length))) unindexed.push(key);
    }
    expect(stored).toContain(keyOf({ sessionId: 'new' }));
    expect(unindexed).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`more than ${USER_INDEX_CAP} partitions .* the oldest are signed out`))]);
    expect(warnings[0]).not.toContain(alice.homeAccountId);
  });

  test('a member added again while it is being pruned keeps its place', async () => {
    const cache = newTokenCache({ localCache: false });
    const { index } = cache.shared.context;
    const indexKey = index.userKey('someone');
    const now = Math.floor(Date.now() / 1000);
    await seed(indexKey, 'm', 2, now + 100);
    const [page] = await index.pages(indexKey).next().then(({ value }) => [value]);
    // A sign-in re-creates session:{m-0} meanwhile: its add raises the score, even to the same bound.
    await redis.eval(INDEX_SCRIPTS.ADD.lua, 1, indexKey, 'session:{m-0}', now + 100, now, 'max');
    await index.prune(indexKey, { removed: page });
    expect(await redis.zrange(indexKey, 0, -1, 'WITHSCORES')).toEqual(['session:{m-0}', String(now + 101)]);
  });

  test('index keys and members hold no personal data: no id, name, e-mail, session id, tenant or client id in clear', async () => {
    const cache = newTokenCache();
    const sessionStore = new RedisSessionStore({ redis, prefix: `${prefix}sess:`, tokenCache: cache });
    const { alice, bob } = await signInBoth(cache, sessionStore);
    for (const tenantId of TENANTS) await appToken(cache, tenantId);
    await cache.shared.context.index.settle(); // the count updates (sent every 50 ms: count-updates.js)
    const indexKeys = await keysAll(redis, `${prefix}index:*`);
    expect(indexKeys.map((key) => key.slice(prefix.length).replace(/:[\w-]{27}$/, ':<h>')).sort()).toEqual([
      'index:app:<h>', 'index:count:account', 'index:count:app', 'index:count:obo', 'index:count:session',
      'index:obo:<h>', 'index:user:<h>', 'index:user:<h>',
    ]);
    const members = [];
    for (const key of indexKeys) {
      expect(await redis.type(key)).toBe('zset');
      expect(await redis.ttl(key)).toBeGreaterThan(0); // every index expires with its last member
      members.push(...(await redis.zrange(key, 0, -1)));
    }
    // Every member is a partition key (without the prefix) that exists.
    const partitionKeys = (await keysAll(redis, `${prefix}*`))
      .filter((key) => !key.startsWith(`${prefix}index:`) && !key.startsWith(`${prefix}sess:`));
    expect(new Set(members.map((member) => prefix + member))).toEqual(new Set(partitionKeys));
    const secrets = [
      alice.homeAccountId, alice.oid, alice.username, alice.name, bob.homeAccountId, bob.oid, bob.username, bob.name,
      alice.tid, 'alice-laptop', 'bob-laptop', CLIENT_ID, ...TENANTS,
    ];
    for (const text of [...indexKeys, ...members]) {
      for (const secret of secrets) expect([text, text.toLowerCase().includes(secret.toLowerCase())]).toEqual([text, false]);
    }
  });
});

describe('clearAppTokens and removeTenant', () => {
  test('with client-credential tokens for several tenants and two clients', async () => {
    const otherIdp = createFakeIdentityProvider({ clientId: OTHER_CLIENT_ID });
    const server1 = newTokenCache();
    const alice = idp.addUser();
    const signedIn = await signIn(server1, alice, { sessionId: 'alice' });
    await onBehalfOf(server1, alice);
    for (const tenantId of TENANTS) await appToken(server1, tenantId);
    await appToken(server1, TENANTS[0], otherIdp);
    const appKey = (tenantId, clientId = CLIENT_ID) => keyOf({ tenantId }, clientId);
    for (const tenantId of TENANTS) expect(await storedPartition(redis, appKey(tenantId))).not.toBeNull();

    // One tenant: one key. Another server then asks the identity provider for that tenant only.
    expect(await server1.removeTenant({ tenantId: TENANTS[0] }, CLIENT_ID)).toBe(true);
    expect(await isTombstone(redis, appKey(TENANTS[0]))).toBe(true);
    expect(await server1.removeTenant({ tenantId: TENANTS[0] }, CLIENT_ID)).toBe(false);
    const server2 = newTokenCache();
    let before = tokenRequests();
    expect((await appToken(server2, TENANTS[1])).fromCache).toBe(true);
    expect(tokenRequests()).toBe(before);
    expect((await appToken(server2, TENANTS[0])).fromCache).toBe(false);
    expect(tokenRequests()).toBe(before + 1);

    // Every tenant of the client (the first one again, just stored by server 2); the other client keeps its own.
    expect(await server1.clearAppTokens(CLIENT_ID)).toBe(3);
    for (const tenantId of TENANTS) expect(await isTombstone(redis, appKey(tenantId))).toBe(true);
    expect(await storedPartition(redis, appKey(TENANTS[0], OTHER_CLIENT_ID))).not.toBeNull();
    before = tokenRequests(otherIdp);
    expect((await appToken(server2, TENANTS[0], otherIdp)).fromCache).toBe(true);
    expect(tokenRequests(otherIdp)).toBe(before);
    const oboKey = (await keysAll(redis, `${prefix}obo:*`))[0];
    expect(await storedPartition(redis, oboKey)).not.toBeNull(); // on-behalf-of only when asked

    expect(await server1.clearAppTokens(CLIENT_ID, { includeOnBehalfOf: true })).toBe(1);
    expect(await isTombstone(redis, oboKey)).toBe(true);
    expect((await silent(server2, { sessionId: 'alice' }, signedIn.account)).fromCache).toBe(true); // users untouched
    expect(await server1.clearAppTokens(OTHER_CLIENT_ID)).toBe(1);
    await expect(server1.clearAppTokens()).rejects.toThrow(/clearAppTokens needs the client id/);
    await expect(server1.removeTenant({}, CLIENT_ID)).rejects.toThrow(/removeTenant needs the tenant/);
  });
});

describe('countPartitions', () => {
  test('counts after sign-ins, sign-outs and expiry', async () => {
    const cache = newTokenCache();
    const sessionStore = new RedisSessionStore({ redis, prefix: `${prefix}sess:`, tokenCache: cache });
    const { alice } = await signInBoth(cache, sessionStore);
    for (const tenantId of TENANTS) await appToken(cache, tenantId);
    expect(await cache.countPartitions()).toEqual({ session: 4, account: 2, app: 3, obo: 1 });
    expect(await newTokenCache().countPartitions()).toEqual({ session: 4, account: 2, app: 3, obo: 1 }); // any server

    await cache.removePartition({ sessionId: 'alice-laptop' });
    expect(await cache.countPartitions()).toEqual({ session: 3, account: 2, app: 3, obo: 1 });
    await sessionStore.destroy('alice-phone');
    expect(await cache.countPartitions()).toEqual({ session: 2, account: 2, app: 3, obo: 1 });
    await cache.signOutEverywhere({ homeAccountId: alice.homeAccountId });
    expect(await cache.countPartitions()).toEqual({ session: 1, account: 1, app: 3, obo: 0 });
    await cache.removeTenant({ tenantId: TENANTS[0] }, CLIENT_ID);
    expect(await cache.countPartitions()).toEqual({ session: 1, account: 1, app: 2, obo: 0 });
    await cache.clearAppTokens(CLIENT_ID);
    expect(await cache.countPartitions()).toEqual({ session: 1, account: 1, app: 0, obo: 0 });

    // Expiry: partitions whose TTL is 1 s (app tokens that live 1 s; a 1 s sliding window) stop being counted
    // when Redis drops them.
    const shortLived = newTokenCache({ skewSeconds: 0, slidingSeconds: 1, absoluteSeconds: 1 });
    idp.setAccessTokenLifetime(2);
    await appToken(shortLived, TENANTS[1]);
    await signIn(shortLived, idp.addUser(), { sessionId: 'brief' });
    expect(await cache.countPartitions()).toEqual({ session: 2, account: 1, app: 1, obo: 0 });
    const briefKeys = [keyOf({ sessionId: 'brief' }), keyOf({ tenantId: TENANTS[1] }, CLIENT_ID)];
    for (let waited = 0; (await Promise.all(briefKeys.map((key) => redis.exists(key)))).some(Boolean) && waited < 5000; waited += 50) {
      await sleep(50);
    }
    await sleep(1000); // counts are in whole seconds
    expect(await Promise.all(briefKeys.map((key) => redis.exists(key)))).toEqual([0, 0]);
    expect(await cache.countPartitions()).toEqual({ session: 1, account: 1, app: 0, obo: 0 });
  });
});
