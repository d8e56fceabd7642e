'use strict';
const { isTombstone } = require('../../support/stored');
// The in-memory stand-in for Redis that `npm start` falls back to: the commands the package uses behave as on the
// real redis-server (same script run against both), and the whole example works on it.

const Redis = require('../../support/ioredis');
const { MemoryRedis, globToRegExp } = require('../../../examples/express/memory-redis');
const { SCRIPTS: INDEX_SCRIPTS } = require('../../../js/admin/partition-index');
const { countCommands } = require('../../../js/admin/count-updates');
const { startExample, signIn, sessionCookie, sessionIdOf } = require('./helpers');

let real;
beforeAll(() => {
  real = new Redis(process.env.TEST_REDIS_URL);
});
afterAll(() => real.quit());

/** The same commands, on either client; returns what each answered. */
async function script(client, p) {
  const out = [];
  out.push(await client.set(`${p}a`, 'hello', 'EX', 100));
  out.push(await client.get(`${p}a`));
  out.push((await client.getBuffer(`${p}a`)).toString('hex'));
  out.push(await client.get(`${p}missing`), await client.getBuffer(`${p}missing`));
  out.push(await client.ttl(`${p}a`), await client.ttl(`${p}missing`));
  out.push(await client.set(`${p}b`, Buffer.from([0xff, 0x00, 0x01])));
  out.push(await client.ttl(`${p}b`));
  out.push((await client.getBuffer(`${p}b`)).toString('hex'));
  out.push((await client.getrangeBuffer(`${p}a`, 0, 2)).toString(), (await client.getrangeBuffer(`${p}a`, 3, 100)).toString());
  out.push((await client.getrangeBuffer(`${p}missing`, 0, 10)).length);
  out.push(await client.exists(`${p}a`, `${p}b`, `${p}missing`));
  out.push(await client.expire(`${p}b`, 50), await client.ttl(`${p}b`), await client.expire(`${p}missing`, 50));
  out.push(await client.multi().getBuffer(`${p}a`).ttl(`${p}a`).getBuffer(`${p}missing`).exec());
  out.push(await client.multi().set(`${p}c`, 'x', 'EX', 10).expire(`${p}c`, 20).expire(`${p}missing`, 20).exec());
  out.push(await client.ttl(`${p}c`));
  // Every page: the test Redis is shared, and with enough keys in it a COUNT of 1000 does not cover it in one pass.
  const keys = new Set();
  let cursor = '0';
  do {
    const [next, page] = await client.scan(cursor, 'MATCH', `${p}[ab]`, 'COUNT', 1000);
    cursor = next;
    for (const key of page) keys.add(key);
  } while (cursor !== '0');
  out.push([...keys].sort());
  out.push(await client.del(`${p}a`, `${p}missing`, `${p}c`), await client.exists(`${p}a`));
  out.push(await client.expire(`${p}b`, 0), await client.exists(`${p}b`));
  // The admin indexes: their script (a sorted set: "max" raises a score already there, members before now are pruned, the
  // key lives as long as its latest member), ZRANGE, ZCOUNT, ZREM.
  const now = 1_700_000_000;
  const add = (member, score, mode) => client.eval(INDEX_SCRIPTS.ADD.lua, 1, `${p}z`, member, score, now, mode);
  out.push(await add('m1', now + 100, 'max'), await add('m1', now + 50, 'max'), await add('m2', now + 200, 'set'));
  out.push(await add('m0', now - 1, 'set'), await add('m2', now + 150, 'set'));
  out.push(await client.zrange(`${p}z`, 0, -1, 'WITHSCORES'), await client.ttl(`${p}z`));
  out.push(await client.zcount(`${p}z`, now + 120, '+inf'), await client.zcount(`${p}missing`, now, '+inf'));
  out.push(await client.zrem(`${p}z`, 'm1', 'missing'), await client.zrange(`${p}z`, 0, -1, 'WITHSCORES'));
  out.push(await client.zrem(`${p}z`, 'm2'), await client.exists(`${p}z`), await client.zrange(`${p}z`, 0, -1, 'WITHSCORES'));
  // Pages by score, and PRUNE: only members whose score is still the one given.
  for (const member of ['a', 'b', 'c', 'd']) await add(member, now + 300, 'set');
  await add('e', now + 400, 'set');
  out.push(await client.zrange(`${p}z`, now + 300, '+inf', 'BYSCORE', 'LIMIT', 1, 2, 'WITHSCORES'));
  out.push(await client.zrange(`${p}z`, now + 301, '+inf', 'BYSCORE', 'LIMIT', 0, 10, 'WITHSCORES'));
  const prune = (...args) => client.eval(INDEX_SCRIPTS.PRUNE.lua, 1, `${p}z`, ...args);
  out.push(await prune('a', String(now + 300), 'b', String(now + 1), 'missing', '1'), await client.zrange(`${p}z`, 0, -1, 'WITHSCORES'));
  // The count updates (js/admin/count-updates.js): members stored and removed in one pipeline.
  const clock = Math.floor(Date.now() / 1000);
  const counts = (members) => client.pipeline( // as js/redis/ioredis-driver.js sends them
    countCommands(`${p}count`, new Map(members), clock).map(([name, ...args]) => [name.toLowerCase(), ...args]),
  ).exec();
  // The key exists with a TTL first: a new key's EXPIRE NX then EXPIRE GT of the same TTL answers 1 or 0 by whether a
  // millisecond passed between them, on redis-server as here.
  out.push(await client.zadd(`${p}count`, clock + 300, 's0'), await client.expire(`${p}count`, 300));
  out.push(await counts([['s1', { score: clock + 100, ttl: 100 }], ['s2', { score: clock + 50, ttl: 50 }], ['s3', null]]));
  out.push(await counts([['s1', null], ['s3', { score: clock + 200, ttl: 200 }], ['old', { score: clock - 5, ttl: 1 }]]));
  out.push(await counts([['s4', { score: clock + 1000, ttl: 1000 }]])); // GT lengthens it
  out.push(await client.zrange(`${p}count`, 0, -1, 'WITHSCORES'), await client.ttl(`${p}count`));
  return out;
}

test('answers the package\'s commands as redis-server does', async () => {
  const prefix = `memory-parity:${Date.now()}:`;
  expect(await script(new MemoryRedis(), prefix)).toEqual(await script(real, prefix));
});

test('keys expire with their TTL', async () => {
  let now = 1_000_000;
  const memory = new MemoryRedis({ clock: () => now });
  await memory.set('k', 'v', 'EX', 10);
  now += 9_400;
  expect(await memory.ttl('k')).toBe(1);
  now += 600;
  expect(await memory.get('k')).toBeNull();
  expect(await memory.exists('k')).toBe(0);
});

test('refuses what it does not implement rather than pretending', async () => {
  await expect(new MemoryRedis().set('k', 'v', 'NX')).rejects.toThrow(/not supported/);
});

test('glob patterns match as Redis SCAN MATCH does', () => {
  expect(globToRegExp('sess:{*}').test('sess:{abc}')).toBe(true);
  expect(globToRegExp('a\\*b').test('a*b')).toBe(true);
  expect(globToRegExp('a\\*b').test('axb')).toBe(false);
  expect(globToRegExp('k?').test('k1')).toBe(true);
  expect(globToRegExp('[^a]x').test('bx')).toBe(true);
});

test('the example runs on it: sign in, call the API, see the cache, sign out', async () => {
  const memory = new MemoryRedis();
  const example = await startExample({ name: 'memory', redis: memory, storage: 'memory' });
  try {
    const agent = example.agent();
    const home = await agent.get('/').expect(200);
    expect(home.text).toContain('in-memory store: development only');
    const { response } = await signIn(agent);
    const sid = sessionIdOf(sessionCookie(response));
    await agent.get('/api/call').expect(200, /served from the token cache/);
    await agent.get('/cache').expect(200, /RefreshToken/);
    expect(await memory.exists(example.partitionKey(sid))).toBe(1);
    await agent.post('/auth/signout').expect(303);
    // What is left is tombstones (this session's partition, and the pre-sign-in session's, regenerated away): the
    // session is gone, and its tokens with it.
    expect(memory.entries.has(example.partitionKey(sid))).toBe(true);
    // (and the admin indexes, sorted sets).
    for (const key of memory.entries.keys()) {
      if (!key.startsWith(`${example.prefixes.tokenPrefix}index:`)) expect(await isTombstone(memory, key)).toBe(true);
    }
  } finally {
    await example.close();
  }
});
