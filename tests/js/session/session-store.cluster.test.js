'use strict';
// RedisSessionStore on a real 3-master Redis Cluster (tests/support/redis-cluster.js): all, ids, length and clear
// cover every master; any session id and any prefix work, a session and its token partition in one hash slot.
// On the cluster pass (TEST_REDIS_TOPOLOGY=cluster) it uses the run's Cluster; otherwise it starts one of its own.

const { start } = require('../../support/redis-cluster');
const { topology, clusterNodes, newRedisOfCluster } = require('../../support/redis-client');
const { RedisSessionStore } = require('../../../js/session/session-store');
const { RedisTokenCache } = require('../../../js/redis-token-cache');
const { testSecrets } = require('../../support/test-secrets');
const { isTombstone } = require('../../support/stored');
const { typicalUserCache } = require('../../support/cache-fixtures');

let cluster;
let redis;
let prefix;
let warnings;
let now;
const logger = { warn: (m) => warnings.push(m) };
// The run's client kind (TEST_REDIS_CLIENT): under node-redis the store gets a createCluster() client.
const newClient = () => newRedisOfCluster(cluster.nodes);

const newTokenCache = () => new RedisTokenCache({ redis, prefix: `${prefix}msal:`, logger, ...testSecrets() });

// From the test's start time, so that two cookies made in one test are equal.
const cookie = (seconds) => ({ originalMaxAge: seconds * 1000, expires: new Date(now + seconds * 1000).toISOString(), path: '/' });
const userCache = () => JSON.stringify(typicalUserCache({ now: Math.floor(now / 1000) }).cache);

/** The keys matching `pattern` on one master, read from that node itself. */
async function keysOn(node, pattern) {
  const keys = [];
  let cursor = '0';
  do {
    const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys;
}

const slotOf = (key) => redis.nodes('master')[0].cluster('KEYSLOT', key);

beforeAll(async () => {
  cluster = topology === 'cluster' ? { nodes: clusterNodes(), stop: async () => {} } : await start();
  redis = newClient();
}, 30000);
afterAll(async () => {
  if (redis) await redis.quit();
  if (cluster) await cluster.stop();
});
beforeEach(() => {
  prefix = `cl:${expect.getState().currentTestName.replace(/\W+/g, '-')}:`;
  warnings = [];
  now = Date.now();
});

test('50 sessions: length, ids, all and clear cover every master', async () => {
  const tokenCache = newTokenCache();
  const store = new RedisSessionStore({ redis, prefix: `${prefix}sess:`, tokenCache });
  const ids = Array.from({ length: 50 }, (_, i) => `session-${i}`);
  for (const [i, sid] of ids.entries()) await store.set(sid, { cookie: cookie(600), i });
  for (const sid of ids.slice(0, 5)) expect(await tokenCache.importPartition({ sessionId: sid }, userCache())).toBe('stored');
  // The sessions are spread over the three masters: a store that scans one node sees a third of them.
  const masters = redis.nodes('master');
  expect(masters).toHaveLength(3);
  const perMaster = await Promise.all(masters.map((node) => keysOn(node, `${prefix}sess:*`)));
  expect(perMaster.every((keys) => keys.length > 0)).toBe(true);

  expect(await store.length()).toBe(50);
  expect((await store.ids()).sort()).toEqual([...ids].sort());
  const all = await store.all();
  expect(all.map((s) => [s.id, s.i]).sort()).toEqual(ids.map((sid, i) => [sid, i]).sort());

  await store.clear();
  for (const node of masters) expect(await keysOn(node, `${prefix}sess:*`)).toEqual([]);
  expect(await store.length()).toBe(0);
  for (const sid of ids.slice(0, 5)) expect(await isTombstone(redis, store.partitionKey(sid))).toBe(true);
  expect(warnings).toEqual([]);
});

test('any session id and any prefix: one hash slot for a session and its partition; set, touch, ids, destroy work', async () => {
  const tokenCache = newTokenCache();
  const store = new RedisSessionStore({ redis, prefix: `${prefix}{app}}{\n{ü}:`, tokenCache });
  const ids = ['{x}', 'a{b}c', '}{', '{', '}', '{}', 'ünïcødé 🙂', 'x'.repeat(300), 'line\nbreak', ''];
  for (const sid of ids) {
    expect([sid, await slotOf(store.sessionKey(sid))]).toEqual([sid, await slotOf(store.partitionKey(sid))]);
    await store.set(sid, { cookie: cookie(600), sid });
    // msal partitions are for ids msal may see (the token cache refuses empty ids and line breaks).
    if (sid !== '' && !sid.includes('\n')) expect(await tokenCache.importPartition({ sessionId: sid }, userCache())).toBe('stored');
  }
  const slots = new Set(await Promise.all(ids.map((sid) => slotOf(store.sessionKey(sid)))));
  expect(slots.size).toBeGreaterThan(3); // not one slot for all: the prefix's braces took nothing over

  for (const sid of ids) {
    expect(await store.get(sid)).toEqual({ cookie: cookie(600), sid });
    await store.touch(sid, { cookie: cookie(1200), sid }); // one MULTI over the session and its partition
    expect(await redis.ttl(store.sessionKey(sid))).toBeGreaterThan(1190);
  }
  expect((await store.ids()).sort()).toEqual([...ids].sort());
  expect(await store.length()).toBe(ids.length);

  for (const sid of ids) {
    await store.destroy(sid);
    expect(await redis.exists(store.sessionKey(sid))).toBe(0);
    expect(await isTombstone(redis, store.partitionKey(sid))).toBe(true);
  }
  expect(await store.length()).toBe(0);
  expect(warnings).toEqual([]);
});

test('a Cluster client used at once, before it has read the slot map, still scans every master', async () => {
  const store = new RedisSessionStore({ redis, prefix: `${prefix}sess:`, ...testSecrets() });
  for (let i = 0; i < 30; i++) await store.set(`s${i}`, { cookie: cookie(600) });
  const fresh = newClient();
  try {
    const freshStore = new RedisSessionStore({ redis: fresh, prefix: `${prefix}sess:`, ...testSecrets() });
    expect(fresh.status).not.toBe('ready');
    expect(await freshStore.length()).toBe(30);
  } finally {
    await fresh.quit();
  }
});

test('importConnectRedisSessions finds connect-redis sessions on every master', async () => {
  const store = new RedisSessionStore({ redis, prefix: `${prefix}sess:`, ...testSecrets() });
  for (let i = 0; i < 20; i++) await redis.set(`${prefix}old:sid-${i}`, JSON.stringify({ cookie: cookie(600), i }), 'EX', 600);
  expect(await store.importConnectRedisSessions({ prefix: `${prefix}old:`, deleteImported: true })).toEqual({ imported: 20, existing: 0, unreadable: 0 });
  expect(await store.length()).toBe(20);
  expect(await store.get('sid-7')).toEqual({ cookie: cookie(600), i: 7 });
  for (const node of redis.nodes('master')) expect(await keysOn(node, `${prefix}old:*`)).toEqual([]);
});
