'use strict';
// The in-process cache (L1) results of l1-cases.js as text tables (ratios = ours / DCP; L1/memory = ours / msal's own
// in-memory cache).

const { SIDES } = require('./l1-cases');

const f0 = (x) => (x === undefined || Number.isNaN(x) ? 'n/a' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const fx = (x) => `${x.toFixed(2)}x`;

/** The L1 results as text tables (ratios = ours / DCP). */
function localCacheTable(r) {
  const lines = [];
  const row = (cells, widths) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  const table = (headers, rows) => {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((x) => String(x[i]).length)));
    return [row(headers, widths), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((x) => row(x, widths))].join('\n');
  };
  const reads = [...(r.read || []).map((x) => ({ label: `read ${x.size}`, x })),
    ...((r.keyspace && r.keyspace.runs) || []).map((x) => ({ label: `read ${x.size}, keyspace ${x.phase} (dbsize ${x.dbsize})`, x }))];
  if (reads.length) {
    lines.push('cache-hit acquireTokenSilent, new client per request (L1 = ours, default; noL1 = ours, localCache: false; DCP = msal DistributedCachePlugin; msal in-memory = a kept client per session, no plugin)');
    lines.push(table(
      ['case', 'c=1 p50 L1/noL1/DCP µs', 'L1/DCP', 'c=1 p99 L1/noL1/DCP µs', 'L1/DCP', 'c=64 ops/s L1/noL1/DCP', 'L1/DCP', 'noL1/DCP p50,p99,ops', 'msal in-memory p50 µs, ops/s', 'L1/memory p50', 'n c=1 / c=64'],
      reads.map(({ label, x }) => [
        label,
        `${f0(x.c1.ours.medianUs)} / ${f0(x.c1.oursNoL1.medianUs)} / ${f0(x.c1.theirs.medianUs)}`, fx(x.ratios.p50),
        `${f0(x.c1.ours.p99Us)} / ${f0(x.c1.oursNoL1.p99Us)} / ${f0(x.c1.theirs.p99Us)}`, fx(x.ratios.p99),
        `${f0(x.c64.ours.opsPerSecond)} / ${f0(x.c64.oursNoL1.opsPerSecond)} / ${f0(x.c64.theirs.opsPerSecond)}`, fx(x.ratios.throughput),
        `${fx(x.ratios.noL1p50)} ${fx(x.ratios.noL1p99)} ${fx(x.ratios.noL1Throughput)}`,
        `${f0(x.c1.memory.medianUs)}, ${f0(x.c64.memory.opsPerSecond)}`, fx(x.ratios.memoryP50),
        `${x.c1.ours.samples} / ${x.c64.ours.ops}`,
      ]),
    ));
  }
  if (r.refresh) {
    const x = r.refresh;
    lines.push('', 'full refresh: new client + acquireTokenSilent({ forceRefresh: true }) at the fake identity provider, end to end');
    lines.push(table(['side', 'p50 µs', 'p99 µs', 'p50 / DCP', 'p99 / DCP', 'n'], SIDES.map((n) => [
      n, f0(x[n].medianUs), f0(x[n].p99Us), fx(x[n].medianUs / x.theirs.medianUs), fx(x[n].p99Us / x.theirs.p99Us), x[n].samples])));
  }
  if (r.invalidation) {
    const x = r.invalidation;
    lines.push('', `invalidation: another process's write (CAS reply) -> this process's LocalCache.invalidate(): ${x.writes} writes, ` +
      `p50 ${f0(x.medianUs)} µs, p90 ${f0(x.p90Us)} µs, p99 ${f0(x.p99Us)} µs, max ${f0(x.maxUs)} µs (${x.negative} before the writer's reply); ` +
      `from the writer's CAS request sent: p50 ${f0(x.fromSent.medianUs)} µs, p99 ${f0(x.fromSent.p99Us)} µs`);
  }
  if (r.keyspace) {
    const c = r.keyspace.change;
    lines.push('', `keyspace: ${r.keyspace.otherKeys} other keys of ${r.keyspace.valueBytes} B (loaded in ${r.keyspace.loadSeconds.toFixed(1)} s, used_memory ${r.keyspace.usedMemory}); ` +
      `1M / mean(empty before, empty after): ours c=1 p50 ${fx(c.c1p50)}, p99 ${fx(c.c1p99)}, c=64 ops/s ${fx(c.c64)}; DCP c=1 p50 ${fx(c.theirsC1p50)}, c=64 ops/s ${fx(c.theirsC64)}`);
  }
  lines.push(`load average (1/5/15 min): start ${r.loadavgStart.join(' ')}, end ${r.loadavgEnd.join(' ')}`);
  return lines.join('\n');
}

module.exports = { localCacheTable };
