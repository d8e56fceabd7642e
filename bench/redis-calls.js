'use strict';
// Diagnostic (not part of npm run bench): what the Redis calls of a refresh cost, on each side, 8 KB values by
// default, in one process, the calls interleaved in rounds (client round trip), then Redis's own time per call
// (INFO commandstats) of the compare-and-set script and of scripts that do parts of it.
//   node bench/redis-calls.js [value bytes]

const Redis = require('ioredis');
const { startRedis } = require('../tests/support/redis-server');
const { SCRIPTS } = require('../js/storage/partition-store');

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const usecPerCall = async (redis, command) => {
  const line = (await redis.info('commandstats')).split('\n').find((l) => l.startsWith(`cmdstat_${command}:`));
  return line ? Number(/usec_per_call=([\d.]+)/.exec(line)[1]) : NaN;
};

async function roundTrips(redis, body) {
  const { lua, sha } = SCRIPTS.COMPARE_AND_SET;
  await redis.script('LOAD', lua);
  const value = (etag) => Buffer.concat([Buffer.from(`mrc2 c ${etag} 1 2 kid\n`), body]);
  let etag = 'A'.repeat(16);
  let serial = 0;
  await redis.set('theirs', body);
  await redis.set('ours', value(etag));
  const calls = {
    'DCP GET': () => redis.getBuffer('theirs'),
    'DCP SET': () => redis.set('theirs', body),
    'ours: compare-and-set (EVALSHA)': async () => {
      const next = String(++serial).padStart(16, 'B');
      const reply = await redis.evalshaBuffer(sha, 1, 'ours', etag, value(next), 86400, 1 << 20);
      if (String(reply[0]) !== 'written') throw new Error('a conflict');
      etag = next;
    },
    'ours: count pipeline': () => redis.pipeline([['zadd', 'count', 2e9, 'm'], ['zremrangebyscore', 'count', '-inf', '(1'],
      ['expire', 'count', 86400, 'NX'], ['expire', 'count', 86400, 'GT']]).exec(),
    'ioredis: pipeline of GETRANGE + PTTL': () => redis.pipeline().getrangeBuffer('theirs', 0, 1 << 20).pttl('theirs').exec(),
    'ioredis: GETRANGE alone': () => redis.getrangeBuffer('theirs', 0, 1 << 20),
  };
  const times = Object.fromEntries(Object.keys(calls).map((name) => [name, []]));
  for (let round = 0; round < 320; round++) {
    for (const [name, call] of Object.entries(calls)) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < 20; i++) await call();
      if (round >= 20) times[name].push(Number(process.hrtime.bigint() - start) / 1000 / 20);
    }
  }
  for (const [name, t] of Object.entries(times)) console.log(`  ${name.padEnd(40)} ${median(t).toFixed(1)} µs round trip (median of rounds)`);
}

async function scriptParts(redis, body) {
  const value = Buffer.concat([Buffer.from(`mrc2 c ${'A'.repeat(16)} 1 2 kid\n`), body]);
  const scripts = {
    'return 1 (small arguments)': ['return 1', 'x'],
    'return 1, the value as an argument': ['return 1', value],
    'SET of the value inside Lua': ["redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1", value],
    'GETRANGE + SET inside Lua': ["redis.pcall('GETRANGE', KEYS[1], 0, 31) redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1", value],
    'the compare-and-set script ("*")': [SCRIPTS.COMPARE_AND_SET.lua, value],
  };
  for (const [name, [lua, argument]] of Object.entries(scripts)) {
    const sha = await redis.script('LOAD', lua);
    for (let i = 0; i < 200; i++) await redis.evalshaBuffer(sha, 1, 'part', '*', argument, 86400, 1 << 20);
    await redis.config('RESETSTAT');
    for (let i = 0; i < 3000; i++) await redis.evalshaBuffer(sha, 1, 'part', '*', argument, 86400, 1 << 20);
    console.log(`  ${name.padEnd(40)} ${(await usecPerCall(redis, 'evalsha')).toFixed(2)} µs in Redis per call`);
  }
  await redis.config('RESETSTAT');
  for (let i = 0; i < 3000; i++) await redis.set('plain', value, 'EX', 86400);
  console.log(`  ${'a plain SET ... EX'.padEnd(40)} ${(await usecPerCall(redis, 'set')).toFixed(2)} µs in Redis per call`);
}

async function main() {
  const bytes = Number(process.argv[2] || 8400);
  const server = await startRedis();
  const redis = new Redis(server.url);
  try {
    const body = Buffer.alloc(bytes, 97);
    console.log(`${bytes}-byte values; client round trips, interleaved:`);
    await roundTrips(redis, body);
    console.log("Redis's own time (INFO commandstats), 3,000 calls each:");
    await scriptParts(redis, body);
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1; });
