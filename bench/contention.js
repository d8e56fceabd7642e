'use strict';
// Writes under contention: N writers (default 8), each a "server" with its own Redis client (contention-writer.js),
// update the same user partition at the same moment, round after round. Each writer renews its own access token, so
// a correct cache ends every round holding all N new tokens.
//
//   ours   : RedisTokenCache, encrypted: compare-and-set, three-way merge in the core on conflict, bounded retries.
//   theirs : msal-node's DistributedCachePlugin: GET, then SET; the last SET wins, nothing detects the race.
//
// Two modes: `async` (N writers in this process's event loop: their loads all go out before any write lands) and
// `process` (N child processes, contention-worker.js, started together at a common instant each round). Rounds of
// the two sides alternate (ours, theirs, theirs, ours, ...) so they share the machine's noise.
//
// Counted per side: writes, compare-and-sets, conflicts (a compare-and-set that found another version), retries
// (compare-and-sets after a write's first), merges (core.planMergeWrite calls, with the entries each side kept),
// "stored" (the plugin's last compare-and-set of the write succeeded; the baseline's SET always returns OK), and
// after each round, from the stored partition itself, lost writes: a writer's new token that is not there. For ours a
// lost write must be one the plugin reported (a warning: dropped after its retries); "silently lost" are the others.
// Conflicts, retries and merges are instrumented in this bench only (cas-counter.js wraps the instance's
// PartitionStore.compareAndSet and core.planMergeWrite; js/ is unchanged).

const path = require('node:path');
const { fork } = require('node:child_process');
const { ConfidentialClientApplication, TokenCacheContext } = require('@azure/msal-node');
const { createWriter, contendedCache, storedSecrets, SIDES } = require('./contention-writer');
const { countMerges } = require('./cas-counter');
const { distributedPlugin, RedisCacheClient } = require('./distributed-baseline');
const { writeThrough } = require('./seed');
const { summarize } = require('./harness');
const { CLIENT_ID, USER_OID, USER_TENANT } = require('./msal-fixtures');

const WORKER = path.join(__dirname, 'contention-worker.js');
const SESSION_ID = 'contended';
const START_DELAY_MS = 4; // process mode: a round starts this long after the parent sends it (IPC fan-out)
const WARMUP_ROUNDS = 5;

const epochNow = () => performance.timeOrigin + performance.now();

/** N child processes, each one writer. */
async function startProcessWriters(count, optionsFor) {
  const started = Array.from({ length: count }, (_, w) => new Promise((resolve, reject) => {
    const child = fork(WORKER, [], {
      env: { ...process.env, BENCH_CONTENTION: JSON.stringify(optionsFor(w)) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const pending = new Map();
    let nextId = 1;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`contention worker ${w} did not start`)); }, 30000);
    child.on('message', (message) => {
      if ('ready' in message) {
        clearTimeout(timer);
        if (!message.ready) { reject(new Error(`contention worker ${w}: ${message.error}`)); return; }
        resolve({
          write: (side, round, startAt) => new Promise((res, rej) => {
            const id = nextId++;
            pending.set(id, { res, rej });
            child.send({ id, side, round, startAt });
          }),
          close: () => new Promise((res) => {
            if (child.exitCode !== null) { res(); return; }
            const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => { clearTimeout(kill); res(); });
            child.disconnect();
          }),
        });
        return;
      }
      const entry = pending.get(message.id);
      if (!entry) return;
      pending.delete(message.id);
      if (message.ok) entry.res(message.result);
      else entry.rej(new Error(`contention worker ${w}: ${message.error}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      for (const entry of pending.values()) entry.rej(new Error(`contention worker ${w} exited (${code})`));
      pending.clear();
      reject(new Error(`contention worker ${w} exited (${code})`));
    });
  }));
  const results = await Promise.allSettled(started);
  const writers = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(writers.map((writer) => writer.close()));
    throw failed.reason;
  }
  return writers;
}

function emptyTally() {
  return {
    rounds: 0, writes: 0, activeMs: 0, compareAndSets: 0, conflicts: 0, retries: 0, merges: 0, mergeUs: 0,
    mergedEntries: { takenMine: 0, takenTheirs: 0, conflicts: 0, removed: 0 },
    stored: 0, lost: 0, silentlyLost: 0, reportedDrops: 0, opUs: [], afterUs: [],
  };
}

/**
 * @param {object} env bench/environment.js
 * @param {{ mode: 'async'|'process', writers: number, budgetMs: number }} options budgetMs: both sides' rounds
 */
async function runContention(env, { mode, writers: count = 8, budgetMs }) {
  const fixture = { writers: count, clientId: CLIENT_ID, oid: USER_OID, tid: USER_TENANT, now: env.now };
  const contended = contendedCache(fixture);
  const prefixes = { ours: `bench:ours-cont-${mode}:`, theirs: `bench:theirs-cont-${mode}:` };
  const optionsFor = (w) => ({
    w, redisUrl: env.server.url, secrets: env.secrets, msalAuth: env.userConfig.auth, prefixes, sessionId: SESSION_ID, fixture,
  });
  // The parent's own view (keys, keyring, seeding, checks), never a writer.
  const observer = createWriter(optionsFor(0));
  const { keys } = observer;
  const keyring = observer.tokenCache.settings.keyring;
  let writers;
  let merges = null;
  if (mode === 'async') {
    writers = Array.from({ length: count }, (_, w) => {
      const writer = createWriter(optionsFor(w));
      return { write: (side, round) => writer.write(side, round), close: writer.close };
    });
    merges = countMerges(); // all writers share this process's core
  } else {
    writers = await startProcessWriters(count, optionsFor);
  }

  const tallies = Object.fromEntries(SIDES.map((side) => [side, emptyTally()]));
  try {
    // Both partitions start as msal's write path stores the fixture.
    await writeThrough(observer.tokenCache.cachePlugin({ sessionId: SESSION_ID }), { auth: env.userConfig.auth }, contended.json);
    await writeThrough(distributedPlugin(new RedisCacheClient(env.redis), keys.theirs, () => keys.theirs), { auth: env.userConfig.auth }, contended.json);
    for (const side of SIDES) {
      const seeded = await storedSecrets(env.redis, side, keys[side], keyring);
      if (Object.keys(seeded).length !== count) throw new Error(`contention: ${side} partition not seeded`);
    }

    let round = 0;
    async function playRound(side, tally) {
      round += 1;
      const mergesBefore = merges ? { ...merges.counts } : null;
      let results;
      let activeMs;
      if (mode === 'async') {
        const start = epochNow();
        results = await Promise.all(writers.map((writer) => writer.write(side, round)));
        activeMs = epochNow() - start;
      } else {
        const startAt = epochNow() + START_DELAY_MS;
        results = await Promise.all(writers.map((writer) => writer.write(side, round, startAt)));
        activeMs = Math.max(...results.map((r) => r.finishedAt)) - startAt;
      }
      const stored = await storedSecrets(env.redis, side, keys[side], keyring);
      if (!tally) return;
      tally.rounds += 1;
      tally.activeMs += activeMs;
      for (const r of results) {
        tally.writes += 1;
        tally.compareAndSets += r.compareAndSets;
        tally.conflicts += r.conflicts;
        tally.retries += Math.max(0, r.compareAndSets - 1);
        if (r.stored) tally.stored += 1;
        tally.reportedDrops += r.warnings.filter((m) => /not stored/.test(m)).length;
        const kept = stored[contended.tokenKeys[r.w]] === r.secret;
        if (!kept) {
          tally.lost += 1;
          if (r.stored && !r.warnings.some((m) => /not stored/.test(m))) tally.silentlyLost += 1;
        }
        tally.opUs.push(r.opUs);
        tally.afterUs.push(r.afterUs);
        if (r.merged) {
          tally.merges += r.merged.merges;
          tally.mergeUs += r.merged.mergeUs;
          for (const name of Object.keys(tally.mergedEntries)) tally.mergedEntries[name] += r.merged[name];
        }
      }
      if (mergesBefore) {
        tally.merges += merges.counts.merges - mergesBefore.merges;
        tally.mergeUs += merges.counts.mergeUs - mergesBefore.mergeUs;
        for (const name of Object.keys(tally.mergedEntries)) tally.mergedEntries[name] += merges.counts[name] - mergesBefore[name];
      }
    }

    for (let i = 0; i < WARMUP_ROUNDS; i += 1) for (const side of SIDES) await playRound(side, null);
    const started = performance.now();
    for (let i = 0; performance.now() - started < budgetMs || i < 4; i += 1) {
      for (const side of i % 2 === 0 ? SIDES : [...SIDES].reverse()) await playRound(side, tallies[side]);
    }
  } finally {
    if (merges) merges.restore();
    await Promise.all(writers.map((writer) => writer.close()));
    await observer.close();
  }

  const result = { mode, writers: count, partitionBytes: Buffer.byteLength(contended.json) };
  for (const side of SIDES) {
    const t = tallies[side];
    const seconds = t.activeMs / 1000;
    const { opUs, afterUs, ...counts } = t;
    result[side] = {
      ...counts,
      perSecond: {
        writes: t.writes / seconds, kept: (t.writes - t.lost) / seconds, conflicts: t.conflicts / seconds, retries: t.retries / seconds, merges: t.merges / seconds,
      },
      storedRate: t.stored / t.writes,
      lostRate: t.lost / t.writes,
      roundMs: t.activeMs / t.rounds,
      mergeUsPerMerge: t.merges ? t.mergeUs / t.merges : 0,
      writeUs: summarize(opUs), // beforeCacheAccess + token response + afterCacheAccess, under contention
      afterUs: summarize(afterUs), // afterCacheAccess alone (with retries and merges)
    };
  }
  result.ratio = result.ours.afterUs.medianUs / result.theirs.afterUs.medianUs;
  return result;
}

module.exports = { runContention };
