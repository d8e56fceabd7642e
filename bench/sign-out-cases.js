'use strict';
// What waiting for a replica costs a sign-out (signOutReplicas, js/redis/replica-wait.js). Its own master and replica
// on loopback (tests/support/redis-replicated.js, started and stopped here), one ioredis client to the master shared
// by both sides (as one app would), and two RedisTokenCaches on it: "wait" (the default, signOutReplicas "auto":
// WAIT for the one replica) and "no wait" (signOutReplicas: false), each signing out sessions of its own prefix,
// so each timed call is the tombstone's compare-and-set, plus WAIT on the "wait" side.
//
//   signout.one      one sign-out at a time (c=1)
//   signout.c64      64 sign-outs at once: the time until all are acknowledged (WAITs are shared)
//   signout.read     a cache read of another session started together with a sign-out, on the same connection:
//                    what a WAIT in flight costs the app's other traffic (only the read is timed)
//   signout.nowait   on the bench's standalone server (no replica): "auto" vs false, the cost of "auto" itself

const Redis = require('ioredis');
const { RedisTokenCache } = require('../js');
const redisReplicated = require('../tests/support/redis-replicated');
const { SECRETS } = require('./environment');

const C64 = 64;

/** The cases, as runCases() takes them; `stop()` ends the master and replica. */
async function signOutCases(env) {
  const group = await redisReplicated.start({ replicas: 1 });
  const redis = new Redis({ port: group.master.port, host: group.master.host, maxRetriesPerRequest: 1 });
  const make = (prefix, signOutReplicas, client = redis) => new RedisTokenCache({
    redis: client, prefix, ...SECRETS, localCache: false, logger: env.logger, signOutReplicas,
  });
  const sides = { wait: make('bench-wait:', undefined), nowait: make('bench-nowait:', false) };
  // Sign-outs of sessions that hold nothing: the same tombstone compare-and-set as for a held partition (seeding one
  // per call would give the fixture's user over 1,000 partitions, and the index would sign the oldest out meanwhile).
  let session = 0;
  const nextSession = () => {
    session += 1;
    return `s-${session}`;
  };
  const signOut = (tokenCache) => ({
    prepare: nextSession,
    run: (sessionId) => tokenCache.removePartition({ sessionId }),
  });
  const signOutMany = (tokenCache) => ({
    prepare: () => Array.from({ length: C64 }, nextSession),
    run: (ids) => Promise.all(ids.map((sessionId) => tokenCache.removePartition({ sessionId }))),
  });
  // The reader's partition: seeded once per side.
  for (const tokenCache of Object.values(sides)) await tokenCache.importPartition({ sessionId: 'reader' }, env.user.json);
  const readBeside = (tokenCache) => ({
    selfTimed: true,
    prepare: nextSession,
    run: async (signedOut) => {
      const signOutDone = tokenCache.removePartition({ sessionId: signedOut });
      const start = process.hrtime.bigint();
      await tokenCache.exportPartition({ sessionId: 'reader' });
      const us = Number(process.hrtime.bigint() - start) / 1000;
      await signOutDone;
      return us;
    },
  });
  const standalone = {
    auto: make('bench-auto:', undefined, env.redis),
    off: make('bench-off:', false, env.redis),
  };
  const names = ['wait', 'no wait'];
  const pair = (build, a, b) => ({ wait: build(a), 'no wait': build(b) });
  const cases = [
    { id: 'signout.one', what: 'one sign-out (c=1), master + 1 replica', names, impls: pair(signOut, sides.wait, sides.nowait) },
    { id: 'signout.c64', what: `${C64} sign-outs at once, until all acknowledged`, names, impls: pair(signOutMany, sides.wait, sides.nowait) },
    { id: 'signout.read', what: 'a read beside a sign-out, same connection', names, impls: pair(readBeside, sides.wait, sides.nowait) },
    { id: 'signout.nowait', what: 'one sign-out, standalone (no replica): "auto" vs off', names: ['auto', 'off'], impls: { auto: signOut(standalone.auto), off: signOut(standalone.off) } },
  ];
  for (const c of cases) {
    c.stats = () => ({
      [c.names[0]]: (c.names[0] === 'auto' ? standalone.auto : sides.wait).stats().signOutReplicas,
    });
  }
  return {
    cases,
    stop: async () => {
      await redis.quit();
      await group.stop();
    },
  };
}

/** A table like the plugin's: median µs per side and their ratio. */
function signOutTable(results) {
  const rows = results.map((r) => {
    const [a, b] = r.names;
    return `| ${r.id} | ${r.what} | ${r[a].medianUs.toFixed(1)} (${a}) | ${r[b].medianUs.toFixed(1)} (${b}) | ${r.ratio.toFixed(2)}x | ${r[a].p90Us.toFixed(1)} / ${r[b].p90Us.toFixed(1)} |`;
  });
  return ['| case | what | µs | µs | ratio | p90 µs |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

module.exports = { signOutCases, signOutTable };
