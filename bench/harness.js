'use strict';
// Timing: two implementations of one case, measured in alternating rounds so that both share the same machine
// noise (CPU frequency, GC of the other, Redis background work). Every call is timed on its own with
// process.hrtime.bigint(); only `run` is timed, `prepare` (per-call setup) is not. An impl with `selfTimed: true`
// times a part of its own run (e.g. the plugin's afterCacheAccess inside a full msal token request) and resolves to
// that duration in microseconds.
//
//   const result = await measurePair({ ours: { prepare, run }, theirs: { prepare, run } }, budget);
//   // { ours: { medianUs, p10Us, p90Us, samples }, theirs: {...}, ratio, rounds }

const TARGET_BATCH_MS = 20; // calls per implementation per round: about this long

async function timeOne(impl, index) {
  const state = impl.prepare ? await impl.prepare(index) : undefined;
  if (impl.selfTimed) return impl.run(state, index);
  const start = process.hrtime.bigint();
  const result = impl.run(state, index);
  if (result && typeof result.then === 'function') await result;
  return Number(process.hrtime.bigint() - start) / 1000; // microseconds
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    medianUs: quantile(sorted, 0.5),
    p10Us: quantile(sorted, 0.1),
    p90Us: quantile(sorted, 0.9),
    samples: sorted.length,
  };
}

/**
 * @param {{[name: string]: Impl}} impls  two of them, e.g. { ours, theirs }; Impl = { prepare?(i): state,
 *   run(state, i): any, selfTimed?: boolean }; ratio = first / second
 * @param {{budgetMs: number, warmupMs: number, minSamples: number}} budget  total time for the case, warm-up
 *   time per implementation, and the fewest timed calls per implementation
 */
async function measurePair(impls, { budgetMs, warmupMs, minSamples }) {
  const names = Object.keys(impls);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  const counters = Object.fromEntries(names.map((name) => [name, 0]));

  // Warm-up (untimed for the results): lets V8 optimize both paths, and estimates a call's duration.
  const perCallMs = {};
  for (const name of names) {
    const started = performance.now();
    let calls = 0;
    while (calls < 3 || performance.now() - started < warmupMs) {
      await timeOne(impls[name], counters[name]++);
      calls += 1;
    }
    perCallMs[name] = (performance.now() - started) / calls;
  }
  const batch = Math.max(1, Math.min(500, Math.round(TARGET_BATCH_MS / Math.max(...Object.values(perCallMs)))));

  const started = performance.now();
  const enough = () => names.every((name) => samples[name].length >= minSamples);
  let rounds = 0;
  while (!(enough() && performance.now() - started >= budgetMs) && performance.now() - started < budgetMs * 3) {
    const order = rounds % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      for (let i = 0; i < batch; i += 1) samples[name].push(await timeOne(impls[name], counters[name]++));
    }
    rounds += 1;
  }
  const result = { rounds, batch };
  for (const name of names) result[name] = summarize(samples[name]);
  result.ratio = result[names[0]].medianUs / result[names[1]].medianUs;
  return result;
}

module.exports = { measurePair, summarize };
