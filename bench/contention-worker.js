'use strict';
// A contention writer in its own process (started by bench/contention.js with child_process.fork): one "server"
// with its own ioredis client and RedisTokenCache (see contention-writer.js). Per IPC message it waits for the
// round's common start time, then does one write:
//   parent -> { id, side, round, startAt }   (startAt: epoch ms, shared clock of the machine)
//   child  -> { id, ok: true, result } | { id, ok: false, error }
// Environment: BENCH_CONTENTION = JSON of createWriter's options.

const { createWriter } = require('./contention-writer');
const { countMerges } = require('./cas-counter');

const writer = createWriter(JSON.parse(process.env.BENCH_CONTENTION));
const merges = countMerges(); // this process's merges are this writer's

const epochNow = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the epoch time `at` (ms) to within a few tens of µs: a timer, then event-loop turns. */
async function waitUntil(at) {
  const remaining = at - epochNow();
  if (remaining > 2) await sleep(remaining - 1.5);
  while (epochNow() < at) await new Promise((resolve) => setImmediate(resolve));
}

process.on('message', async ({ id, side, round, startAt }) => {
  try {
    await waitUntil(startAt);
    const before = { ...merges.counts };
    const result = await writer.write(side, round);
    const merged = Object.fromEntries(Object.keys(before).map((name) => [name, merges.counts[name] - before[name]]));
    process.send({ id, ok: true, result: { ...result, merged } });
  } catch (err) {
    process.send({ id, ok: false, error: String((err && err.stack) || err) });
  }
});

process.on('disconnect', () => {
  writer.close().finally(() => process.exit(0));
});

writer.tokenCache.settings.redis.ping().then(
  () => process.send({ ready: true }),
  (err) => {
    process.send({ ready: false, error: String(err && err.message) });
    process.exit(1);
  },
);
