'use strict';
// Printing the results as tables, and the machine description that goes with them.

const os = require('node:os');
const { execFileSync } = require('node:child_process');

const fmtUs = (us) => (us >= 10000 ? us.toFixed(0) : us >= 100 ? us.toFixed(1) : us.toFixed(2));
const fmtBytes = (n) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MB` : `${(n / 1024).toFixed(1)} KB`);
const fmtRatio = (r) => `${r.toFixed(2)}x`;

function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((cell, i) => (i < 2 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function pluginTable(results) {
  return table(
    ['case', 'partition', 'size', 'ours µs', 'msal DCP µs', 'ours/DCP', 'n'],
    results.map((r) => [
      `${r.id.split('.')[1].padEnd(7)} ${r.what}`,
      r.shape,
      fmtBytes(r.bytes),
      fmtUs(r.ours.medianUs),
      fmtUs(r.theirs.medianUs),
      fmtRatio(r.ratio),
      `${r.ours.samples}/${r.theirs.samples}`,
    ]),
  );
}

/** encryptionKeys vs insecurePlaintextStorage: the same plugin calls (enc.*) and seal/open alone (crypto.*). */
function encryptionTable(results) {
  return table(
    ['operation', 'partition', 'size', 'encrypted µs', 'plaintext µs', 'enc/plain', 'Δ µs', 'n'],
    results.map((r) => [
      r.what,
      r.shape,
      fmtBytes(r.bytes),
      fmtUs(r.encrypted.medianUs),
      fmtUs(r.plaintext.medianUs),
      fmtRatio(r.ratio),
      `${r.encrypted.medianUs >= r.plaintext.medianUs ? '+' : ''}${(r.encrypted.medianUs - r.plaintext.medianUs).toFixed(1)}`,
      `${r.encrypted.samples}/${r.plaintext.samples}`,
    ]),
  );
}

/** Writes under contention, per mode: one row per side. */
function contentionTable(results) {
  const pct = (x) => `${(100 * x).toFixed(1)} %`;
  const rows = [];
  for (const r of results) {
    for (const side of ['ours', 'theirs']) {
      const t = r[side];
      rows.push([
        `${r.mode === 'async' ? `${r.writers} async writers, 1 process` : `${r.writers} processes`}`,
        side === 'ours' ? 'ours' : 'msal DCP',
        t.writes,
        t.perSecond.writes.toFixed(0),
        t.perSecond.kept.toFixed(0),
        side === 'ours' ? t.perSecond.conflicts.toFixed(0) : 'n/a',
        side === 'ours' ? t.perSecond.retries.toFixed(0) : 'n/a',
        side === 'ours' ? t.perSecond.merges.toFixed(0) : 'n/a',
        pct(t.storedRate),
        `${t.lost} (${pct(t.lostRate)})`,
        t.silentlyLost,
        fmtUs(t.afterUs.medianUs),
        fmtUs(t.afterUs.p90Us),
      ]);
    }
  }
  return table(
    ['contention (same partition)', 'side', 'writes', 'writes/s', 'kept/s', 'conflicts/s', 'retries/s', 'merges/s', 'stored', 'lost', 'silently lost', 'after µs p50', 'p90'],
    rows,
  );
}

function coreTable(results) {
  return table(
    ['operation', 'fixture', 'size', 'wasm µs', 'JS µs', 'wasm/JS', 'n'],
    results.map((r) => [r.op, r.shape, fmtBytes(r.bytes), fmtUs(r.wasm.medianUs), fmtUs(r.js.medianUs), fmtRatio(r.ratio), `${r.wasm.samples}/${r.js.samples}`]),
  );
}

function redisVersion() {
  try {
    return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : cpus.length,
    cpu: cpus[0] ? cpus[0].model : 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    msalNode: require('@azure/msal-node/package.json').version,
    ioredis: require('ioredis/package.json').version,
    redis: redisVersion(),
  };
}

module.exports = { pluginTable, encryptionTable, contentionTable, coreTable, machine, fmtUs };
