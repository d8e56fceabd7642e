'use strict';
// Sign-outs that wait for a replica (signOutReplicas, js/redis/replica-wait.js), against a master and a replica of
// this file's own (tests/support/redis-replicated.js), on ioredis and on node-redis:
//   - "auto" (the default) waits for the replica the master has, and the replica holds the tombstone when the
//     sign-out resolves;
//   - a stopped replica (SIGSTOP): the sign-out fails closed within the bound, saying the tombstone is on the master;
//     concurrent sign-outs share WAITs, so none waits past two bounds and the circuit breaker stays closed; once
//     the replica continues (SIGCONT) sign-outs succeed again;
//   - a replica promoted while the old master takes writes: a sign-out that does not wait is acknowledged and lost
//     on the promoted replica; with replicas: 1 it fails closed (never reported done);
//   - a killed replica: with replicas: 1 sign-outs fail closed; with "auto" they go on without waiting once the master
//     has no replica (the first one after the kill may fail: the replica count is re-read after a shortfall).
// The Cluster case is tests/js/redis/cluster-failover.test.js. Standalone pass only (jest.config.js): it starts its
// own servers.

const Redis = require('../../support/ioredis');
const { nodeRedis } = require('../../support/node-redis');
const { RedisTokenCache, CacheStoreError } = require('../../../js');
const redisReplicated = require('../../support/redis-replicated');
const { testSecrets } = require('../../support/test-secrets');
const { typicalUserCache, guid } = require('../../support/cache-fixtures');

const CLIENT_ID = guid(7);

const secrets = testSecrets();

const BOUND_MS = 100; // signOutReplicas.timeoutMs where a sign-out must fail
const HEALTHY_BOUND_MS = 400; // where it must succeed: a replica busy on a loaded 2-core machine may ack late

/**
 * The cache, with every removePartition of a session that holds a partition (imported just before, as a sign-in
 * would store it): a tombstone over nothing waits for no replica (js/storage/partition-writer.js remove).
 */
function signedInSessions(cache) {
  const remove = cache.removePartition.bind(cache);
  const signedIn = new Set(); // selectors signed in ahead (cache.signIn), so that a timed sign-out times only itself
  cache.signIn = async (selector) => {
    const { cache: body } = typicalUserCache({ clientId: CLIENT_ID });
    await cache.importPartition(selector, JSON.stringify(body), CLIENT_ID);
    signedIn.add(JSON.stringify(selector));
  };
  cache.removePartition = async (selector) => {
    if (!signedIn.delete(JSON.stringify(selector))) await cache.signIn(selector);
    signedIn.delete(JSON.stringify(selector));
    return remove(selector);
  };
  return cache;
}

/**
 * A sign-out that must succeed: a loaded machine may delay the replica's ack past one bound, not five spread over
 * about three seconds (a clean-clone run once saw five back-to-back tries fail within a second).
 */
async function signOutConfirmed(cache, selector) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await cache.removePartition(selector);
    } catch (err) {
      if (attempt === 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 300 * attempt));
    }
  }
}
const MARGIN_MS = 400; // scheduling on a loaded 2-core machine

let group;
let replicaClient; // the test's own views of the replica and the master
let masterClient;

beforeAll(async () => {
  group = await redisReplicated.start({ replicas: 1 });
  // Killed in the last test: no reconnecting after that.
  replicaClient = new Redis({ port: group.replicas[0].port, host: group.replicas[0].host, retryStrategy: () => null });
  replicaClient.on('error', () => {});
  masterClient = new Redis({ port: group.master.port, host: group.master.host });
}, 30000);

afterAll(async () => {
  if (replicaClient) replicaClient.disconnect();
  if (masterClient) masterClient.disconnect();
  if (group) await group.stop();
});

const clients = {
  ioredis: async () => {
    const redis = new Redis({ port: group.master.port, host: group.master.host });
    return { redis, close: () => redis.disconnect() };
  },
  'node-redis': async () => {
    const redis = nodeRedis.createClient({ url: `redis://${group.master.host}:${group.master.port}` });
    redis.on('error', () => {});
    await redis.connect();
    return { redis, close: () => redis.destroy() };
  },
};

const timed = async (promise) => {
  const startedAt = performance.now();
  try {
    return { value: await promise, ms: performance.now() - startedAt };
  } catch (error) {
    return { error, ms: performance.now() - startedAt };
  }
};

describe.each(Object.keys(clients))('on %s', (kind) => {
  let client;
  let warnings;
  const makeCache = (prefix, signOutReplicas = { timeoutMs: HEALTHY_BOUND_MS }) => signedInSessions(new RedisTokenCache({
    redis: client.redis,
    prefix,
    ...secrets,
    localCache: false,
    signOutReplicas,
    logger: { warn: (message) => warnings.push(String(message)) },
  }));

  beforeAll(async () => { client = await clients[kind](); });
  afterAll(() => client && client.close());
  beforeEach(() => { warnings = []; });

  test('"auto" waits for the master\'s replica: the replica holds the tombstone when the sign-out resolves', async () => {
    const prefix = `wait-${kind}-ok:`;
    const cache = makeCache(prefix);
    await signOutConfirmed(cache, { sessionId: 'signed-out' });
    const [key] = await replicaClient.keys(`${prefix}session:*`);
    expect(String(await replicaClient.get(key)).slice(0, 7)).toBe('mrc2 t ');
    expect(cache.stats().signOutReplicas).toMatchObject({ confirmed: 1, skipped: 0 });
    // Off: no WAIT at all.
    const off = makeCache(prefix, false);
    await off.removePartition({ sessionId: 'other' });
    expect(off.stats().signOutReplicas).toBeNull();
  });

  test('a stopped replica: sign-outs fail closed within the bound, share WAITs, leave the breaker closed; SIGCONT: they succeed', async () => {
    const prefix = `wait-${kind}-stopped:`;
    const cache = makeCache(prefix, { timeoutMs: BOUND_MS });
    await signOutConfirmed(cache, { sessionId: 'warm-up' }); // the replica count is read
    await cache.signIn({ sessionId: 'one' });
    for (let i = 0; i < 20; i++) await cache.signIn({ sessionId: `many-${i}` });
    group.signal(group.replicas[0].port, 'SIGSTOP');
    try {
      const one = await timed(cache.removePartition({ sessionId: 'one' }));
      expect(one.error).toBeInstanceOf(CacheStoreError);
      expect(one.error.message).toMatch(/not confirmed: 0 of 1 replica\(s\) acknowledged it within 100 ms\. The tombstone is written on the Redis master/);
      expect(one.ms).toBeGreaterThanOrEqual(BOUND_MS - 5);
      expect(one.ms).toBeLessThan(BOUND_MS + MARGIN_MS);
      // The tombstone is on the master all the same (a retry writes it again: harmless).
      const { key } = cache.cachePlugin({ sessionId: 'one' });
      expect(String(await masterClient.get(key)).slice(0, 7)).toBe('mrc2 t ');

      // 20 at once: they share WAITs (one in flight, one queued), so none waits more than two bounds.
      const waitsBefore = cache.stats().signOutReplicas.waits;
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => timed(cache.removePartition({ sessionId: `many-${i}` }))));
      for (const r of many) expect(r.error).toBeInstanceOf(CacheStoreError);
      expect(Math.max(...many.map((r) => r.ms))).toBeLessThan(2 * BOUND_MS + MARGIN_MS);
      expect(cache.stats().signOutReplicas.waits - waitsBefore).toBeLessThanOrEqual(3);
      expect(cache.stats().redis).toMatchObject({ breaker: 'closed', failures: 0, timeouts: 0 });
    } finally {
      group.signal(group.replicas[0].port, 'SIGCONT');
    }
    // The replica catches up; the next sign-out is confirmed.
    await signOutConfirmed(makeCache(prefix), { sessionId: 'after' });
    expect(cache.stats().signOutReplicas.confirmed).toBeGreaterThanOrEqual(1);
    expect(warnings).toEqual([]);
  });
});

describe('as the least-privilege user README.md documents', () => {
  const { documentedAclUser } = require('../../support/redis-acl');
  const user = documentedAclUser('replica-wait-password');
  let app;
  beforeAll(async () => {
    await masterClient.acl('SETUSER', user.username, 'reset', ...user.line.split(/\s+/).slice(2));
  });
  afterEach(() => app && app.disconnect());

  test('its line lets a sign-out wait for the replica; without +wait the sign-out fails closed and one warning says so', async () => {
    const connect = () => {
      app = new Redis({ host: group.master.host, port: group.master.port, username: user.username, password: 'replica-wait-password' });
      return app;
    };
    const warnings = [];
    const cache = signedInSessions(new RedisTokenCache({
      redis: connect(), prefix: 'msal:wait-acl-', ...secrets, localCache: false,
      signOutReplicas: { timeoutMs: HEALTHY_BOUND_MS }, logger: { warn: (m) => warnings.push(m) },
    }));
    await signOutConfirmed(cache, { sessionId: 'with-wait' });
    expect(cache.stats().signOutReplicas.confirmed).toBe(1);
    await masterClient.acl('SETUSER', user.username, '-wait');
    try {
      const refused = await timed(cache.removePartition({ sessionId: 'without-wait' }));
      expect(refused.error).toBeInstanceOf(CacheStoreError);
      expect(refused.error.message).toMatch(/Redis WAIT failed .*NOPERM/);
      expect(warnings).toEqual([expect.stringMatching(/^msal-redis-cache: Redis refused WAIT/)]);
    } finally {
      await masterClient.acl('SETUSER', user.username, '+wait');
    }
  });
});

describe('a killed replica (it stays dead: after the tests that need it)', () => {
  let client;
  beforeAll(async () => { client = await clients.ioredis(); });
  afterAll(() => client && client.close());

  test('replicas: 1 fails closed; "auto" goes on without waiting once the master has no replica', async () => {
    const make = (prefix, replicas) => signedInSessions(new RedisTokenCache({
      redis: client.redis, prefix, ...secrets, localCache: false, signOutReplicas: { replicas, timeoutMs: BOUND_MS },
    }));
    const strict = make('wait-killed-strict:', 1);
    const auto = make('wait-killed-auto:', 'auto');
    await signOutConfirmed(strict, { sessionId: 'warm-up' });
    await signOutConfirmed(auto, { sessionId: 'warm-up' });
    replicaClient.disconnect(); // before the kill: ioredis would keep a timer for a socket that never closes again
    replicaClient = null;
    await group.kill(group.replicas[0].port);
    // The master sees the replica's connection close at once.
    for (let i = 0; /^connected_slaves:[1-9]/m.test(await client.redis.info('replication')); i++) {
      if (i > 100) throw new Error('the master still counts the killed replica');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const strictResult = await timed(strict.removePartition({ sessionId: 'x' }));
    expect(strictResult.error).toBeInstanceOf(CacheStoreError);
    expect(strictResult.ms).toBeLessThan(BOUND_MS + MARGIN_MS);
    // "auto": the count read before the kill may say 1 (one shortfall), then 0: no more waiting.
    const first = await timed(auto.removePartition({ sessionId: 'y' }));
    if (first.error) expect(first.error).toBeInstanceOf(CacheStoreError);
    await auto.removePartition({ sessionId: 'z' });
    expect(auto.stats().signOutReplicas.skipped).toBeGreaterThanOrEqual(1);
  });
});

describe('a replica promoted while the old master still takes writes (what a failover does to unreplicated writes)', () => {
  // A group of its own: its replica ends up a master.
  let split;
  let client;
  let splitMaster;
  let splitReplica;
  beforeAll(async () => {
    split = await redisReplicated.start({ replicas: 1 });
    client = { redis: new Redis({ port: split.master.port, host: split.master.host }) };
    splitMaster = client.redis;
    splitReplica = new Redis({ port: split.replicas[0].port, host: split.replicas[0].host });
  }, 30000);
  afterAll(async () => {
    splitMaster?.disconnect();
    splitReplica?.disconnect();
    await split?.stop();
  });

  test('without waiting a sign-out is acknowledged and the promoted replica never has it; with replicas: 1 it fails closed', async () => {
    const make = (prefix, signOutReplicas) => signedInSessions(new RedisTokenCache({
      redis: client.redis, prefix, ...secrets, localCache: false, signOutReplicas,
    }));
    const off = make('wait-split-off:', false);
    const strict = make('wait-split-strict:', { replicas: 1, timeoutMs: BOUND_MS });
    await signOutConfirmed(strict, { sessionId: 'warm-up' });
    // The replica leaves its master and takes writes itself, as a Sentinel or a Cluster promotes it.
    await splitReplica.replicaof('NO', 'ONE');

    await off.removePartition({ sessionId: 'lost' }); // acknowledged by the old master alone
    const strictResult = await timed(strict.removePartition({ sessionId: 'kept' }));
    expect(strictResult.error).toBeInstanceOf(CacheStoreError);
    expect(strictResult.error.message).toMatch(/not confirmed: 0 of 1 replica\(s\)/);
    // The promoted replica: the acknowledged sign-out is not there (lost); the refused one was never reported done.
    expect(await splitMaster.keys('wait-split-off:session:{*')).toHaveLength(1);
    expect(await splitReplica.keys('wait-split-off:session:{*')).toEqual([]);
  });
});
