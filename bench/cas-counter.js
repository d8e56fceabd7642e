'use strict';
// Bench-only instrumentation: counts what a RedisTokenCache's compare-and-set writes do, by wrapping the
// compareAndSet method of that one cache instance's PartitionStore (tokenCache.shared.context.store), and the
// three-way merges the writer asks the core for (planMergeWrite on the js/core.js module object, like
// js-core-swap.js). Nothing in js/ changes; the wrappers only count and pass everything through.

const core = require('../js/core');

/**
 * @param {import('../js').RedisTokenCache} tokenCache
 * @param {(result: object) => void} [onResult] also called with every compareAndSet result
 * @returns {{ counts: { calls: number, written: number, conflicts: number }, restore(): void }}
 */
function countCompareAndSet(tokenCache, onResult) {
  const { store } = tokenCache.shared.context;
  const original = store.compareAndSet;
  const counts = { calls: 0, written: 0, conflicts: 0 };
  store.compareAndSet = async function countedCompareAndSet(...args) {
    counts.calls += 1;
    const result = await original.apply(this, args);
    if (result.written) counts.written += 1;
    else counts.conflicts += 1;
    if (onResult) onResult(result);
    return result;
  };
  return { counts, restore: () => { store.compareAndSet = original; } };
}

/**
 * Counts core.planMergeWrite calls (every merge after a lost compare-and-set), the time spent in them, and sums
 * their merge reports (entries taken from each side; `conflicts`: entries changed on both sides).
 * @returns {{ counts: { merges: number, mergeUs: number, takenMine: number, takenTheirs: number, conflicts: number,
 *   removed: number },
 *   restore(): void }}
 */
function countMerges() {
  const original = core.planMergeWrite;
  const counts = { merges: 0, mergeUs: 0, takenMine: 0, takenTheirs: 0, conflicts: 0, removed: 0 };
  core.planMergeWrite = (...args) => {
    const start = process.hrtime.bigint();
    const plan = original(...args);
    counts.mergeUs += Number(process.hrtime.bigint() - start) / 1000;
    counts.merges += 1;
    for (const name of ['takenMine', 'takenTheirs', 'conflicts', 'removed']) counts[name] += (plan.merge && plan.merge[name]) || 0;
    return plan;
  };
  return { counts, restore: () => { core.planMergeWrite = original; } };
}

module.exports = { countCompareAndSet, countMerges };
