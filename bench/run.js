#!/usr/bin/env node
'use strict';
// npm run bench [-- --quick] [-- --only=<case id prefix>] [-- --js-core]
//
// One run, one throw-away Redis: this package's plugin versus msal-node's DistributedCachePlugin (per-call cost of
// a cache-hit token request and of a token write, per partition shape), then the wasm core versus the same logic in
// plain JavaScript. Prints tables; writes test-output/bench.json. See bench/README.md.
//   --quick    a short run (about 20 s): few samples, indicative only
//   --only=    only the cases whose id starts with this (user., tenant., blob., core.)
//   --js-core  diagnostic: the plugin cases with the plugin's core swapped for reference-core.js (see js-core-swap.js);
//              writes test-output/bench-js-core.json instead

const fs = require('node:fs');
const path = require('node:path');
const { measurePair } = require('./harness');
const { createEnvironment } = require('./environment');
const { pluginCases } = require('./plugin-cases');
const { coreInputs, coreCases, checkEquivalence } = require('./core-cases');
const { pluginTable, coreTable, machine } = require('./report');
const { useReferenceCore } = require('./js-core-swap');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = (args.find((a) => a.startsWith('--only=')) || '').slice('--only='.length);
const jsCore = args.includes('--js-core');
// Time per case (both implementations together, warm-up excluded) and the fewest timed calls per implementation.
const BUDGET = quick
  ? { plugin: { budgetMs: 800, warmupMs: 150, minSamples: 8 }, core: { budgetMs: 300, warmupMs: 50, minSamples: 8 } }
  : { plugin: { budgetMs: 7000, warmupMs: 800, minSamples: 40 }, core: { budgetMs: 2500, warmupMs: 300, minSamples: 40 } };
const OUTPUT = path.join(__dirname, '..', 'test-output', jsCore ? 'bench-js-core.json' : 'bench.json');

const selected = (cases) => cases.filter((c) => c.id.startsWith(only));
const log = (message) => process.stderr.write(`${message}\n`);

async function runCases(cases, budget, names, warnings) {
  const results = [];
  for (const c of cases) {
    const warningsBefore = warnings ? warnings.count : 0;
    if (c.verify) await c.verify();
    const started = performance.now();
    const measured = await measurePair(c.impls, budget);
    const { impls, verify, ...described } = c;
    if (warnings && warnings.count !== warningsBefore && !c.warns) {
      throw new Error(`${c.id}: the plugin logged ${warnings.count - warningsBefore} warning(s), e.g.: ${warnings.last}`);
    }
    results.push({ ...described, ...measured, ...(c.warns ? { warnings: warnings.count - warningsBefore } : {}) });
    const [a, b] = names;
    log(`  ${c.id.padEnd(34)} ${a} ${measured[a].medianUs.toFixed(1)} µs, ${b} ${measured[b].medianUs.toFixed(1)} µs, ` +
      `ratio ${measured.ratio.toFixed(2)} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  return results;
}

async function main() {
  const started = performance.now();
  log(`msal-redis-cache bench${quick ? ' (--quick)' : ''}: starting redis-server and seeding fixtures`);
  const env = await createEnvironment();
  let plugin;
  let coreResults;
  try {
    // The wasm core and the JS reference must agree before either is timed.
    const inputs = coreInputs(env);
    checkEquivalence(inputs);
    log('wasm core and reference-core.js agree on every fixture and operation');

    if (jsCore) useReferenceCore();
    log(`plugin: ours (RedisTokenCache${jsCore ? ' with reference-core.js' : ''}) vs msal DistributedCachePlugin`);
    plugin = await runCases(selected(pluginCases(env)), BUDGET.plugin, ['ours', 'theirs'], env.warnings);
    // Every timed read was a cache hit: the identity provider saw sign-ins (authorization codes) and nothing else.
    const unexpected = env.idp.requests.filter((r) => r.method === 'POST' && r.grantType !== 'authorization_code');
    if (unexpected.length) throw new Error(`${unexpected.length} token request(s) besides sign-ins, e.g. ${unexpected[0].grantType}`);
    log('core: wasm vs plain JavaScript');
    coreResults = jsCore ? [] : await runCases(selected(coreCases(inputs)), BUDGET.core, ['wasm', 'js']);
  } finally {
    await env.stop();
  }

  const report = {
    date: new Date().toISOString(),
    quick,
    pluginCore: jsCore ? 'bench/reference-core.js (diagnostic --js-core)' : 'wasm (js/core.js)',
    machine: machine(),
    budget: BUDGET,
    unit: 'microseconds per call (median over all timed calls)',
    storedBytes: env.stored,
    plugin,
    core: coreResults,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
  fs.writeFileSync(OUTPUT, `${JSON.stringify(report, null, 2)}\n`);

  const m = report.machine;
  console.log(`\nmsal-redis-cache benchmark: ${m.nproc} CPUs (${m.cpu}), Node ${m.node}, msal-node ${m.msalNode}, ${m.redis.split(' ').slice(0, 3).join(' ')}`);
  console.log(`median µs per call; ratio < 1 means ours is faster${quick ? '; --quick: few samples, indicative only' : ''}`);
  console.log(jsCore ? 'DIAGNOSTIC --js-core: "ours" runs with reference-core.js instead of the wasm core\n' : '');
  if (plugin.length) console.log(`${pluginTable(plugin)}\n`);
  if (coreResults.length) console.log(`${coreTable(coreResults)}\n`);
  console.log(`total ${report.seconds} s; results in ${path.relative(process.cwd(), OUTPUT)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
