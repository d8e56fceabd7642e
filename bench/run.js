#!/usr/bin/env node
'use strict';
// npm run bench [-- --quick] [-- --only=<case id prefix>] [-- --js-core] [-- --writers=<n>]
//
// One run, one throw-away Redis: this package's plugin (encrypted, as deployed) versus msal-node's
// DistributedCachePlugin (per-call cost of a cache-hit token request and of a token write, per partition shape);
// the cost of encryption (the same plugin with encryptionKeys versus insecurePlaintextStorage, and seal/open alone);
// writes under contention (N concurrent writers on one partition: conflicts, retries, merges, lost writes); then
// the wasm core versus the same logic in plain JavaScript. Prints tables; writes test-output/bench.json. See
// bench/README.md.
//   --quick      a short run (about 40 s): few samples, indicative only
//   --only=      only the cases whose id starts with this (user., tenant., blob., enc., crypto., contention., core.,
//                l1., signout.)
//   --js-core    diagnostic: the plugin and encryption cases with the plugin's core swapped for reference-core.js
//                (see js-core-swap.js); writes test-output/bench-js-core.json instead
//   --writers=   writers of the contention cases (default 8)
//   --clients=   the clients of the L1 cases, run one after the other in this run (default ioredis,node-redis)
//   --topology=cluster  the same on a throw-away 3-master Redis Cluster (the --clients as Cluster clients, each shared by both sides):
//                only the in-process cache's read and refresh cases (--only=l1., l1.read or l1.refresh); the others
//                need one server (a Lua script over many keys, a child process given one URL)

const fs = require('node:fs');
const path = require('node:path');
const { measurePair } = require('./harness');
const { createEnvironment, requestMark, requestsSince } = require('./environment');
const { pluginCases } = require('./plugin-cases');
const { encryptionCases, cryptoCases } = require('./encryption-cases');
const { runContention } = require('./contention');
const { coreInputs, coreCases, checkEquivalence } = require('./core-cases');
const { pluginTable, encryptionTable, contentionTable, coreTable, machine } = require('./report');
const { useReferenceCore } = require('./js-core-swap');
const { runLocalCacheCases } = require('./l1-cases');
const { localCacheTable } = require('./l1-report');
const { signOutCases, signOutTable } = require('./sign-out-cases');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = (args.find((a) => a.startsWith('--only=')) || '').slice('--only='.length);
const jsCore = args.includes('--js-core');
const l1Clients = (args.find((a) => a.startsWith('--clients=')) || '--clients=ioredis,node-redis').slice('--clients='.length).split(',');
const writers = Number((args.find((a) => a.startsWith('--writers=')) || '--writers=8').slice('--writers='.length));
const topology = (args.find((a) => a.startsWith('--topology=')) || '--topology=standalone').slice('--topology='.length);
if (!['standalone', 'cluster'].includes(topology)) throw new Error(`--topology= standalone or cluster, not ${topology}`);
if (topology === 'cluster' && !only.startsWith('l1.')) {
  throw new Error('--topology=cluster runs only the in-process cache\'s read and refresh cases: add --only=l1. (or l1.read, l1.refresh)');
}
// Time per case (both implementations together, warm-up excluded) and the fewest timed calls per implementation.
// contention: rounds of both sides together, per mode.
const BUDGET = quick
  ? { plugin: { budgetMs: 800, warmupMs: 150, minSamples: 8 }, core: { budgetMs: 300, warmupMs: 50, minSamples: 8 }, contention: { budgetMs: 1000 } }
  : { plugin: { budgetMs: 7000, warmupMs: 800, minSamples: 40 }, core: { budgetMs: 2500, warmupMs: 300, minSamples: 40 }, contention: { budgetMs: 8000 } };
const OUTPUT = path.join(__dirname, '..', 'test-output',
  jsCore ? 'bench-js-core.json' : topology === 'cluster' ? 'bench-cluster.json' : 'bench.json');

const selected = (cases) => cases.filter((c) => c.id.startsWith(only));
const log = (message) => process.stderr.write(`${message}\n`);

/**
 * Verifies and measures each case. With `env`: the plugin may log warnings only in cases marked `warns`, and the
 * identity provider may see token requests only of the grant types a case lists in `grants` (every read is a
 * cache hit).
 */
async function runCases(cases, budget, env) {
  const results = [];
  for (const c of cases) {
    const warningsBefore = env ? env.warnings.count : 0;
    const requestsBefore = env ? requestMark(env.idp) : null;
    if (c.verify) await c.verify.call(c);
    const started = performance.now();
    const measured = await measurePair(c.impls, budget);
    const { impls, verify, stats, ...described } = c;
    if (env && env.warnings.count !== warningsBefore && !c.warns) {
      throw new Error(`${c.id}: the plugin logged ${env.warnings.count - warningsBefore} warning(s), e.g.: ${env.warnings.last}`);
    }
    if (env) {
      const unexpected = requestsSince(env.idp, requestsBefore).filter((r) => r.method === 'POST' && !(c.grants || []).includes(r.grantType));
      if (unexpected.length) throw new Error(`${c.id}: ${unexpected.length} unexpected token request(s), e.g. ${unexpected[0].grantType}`);
    }
    results.push({
      ...described, ...measured,
      ...(c.warns ? { warnings: env.warnings.count - warningsBefore } : {}),
      ...(typeof stats === 'function' ? { stats: stats() } : {}),
    });
    const [a, b] = c.names || Object.keys(c.impls);
    log(`  ${c.id.padEnd(34)} ${a} ${measured[a].medianUs.toFixed(1)} µs, ${b} ${measured[b].medianUs.toFixed(1)} µs, ` +
      `ratio ${measured.ratio.toFixed(2)} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  return results;
}

/** The app client of the L1 cases: ioredis (the environment's) or node-redis 6 (createClient, connected). */
async function connectClient(name, env) {
  if (name === 'ioredis') return { name, redis: env.redis, close: async () => {} };
  if (name !== 'node-redis') throw new Error(`--clients: ioredis or node-redis, not ${name}`);
  const redis = env.topology === 'cluster'
    ? await require('redis').createCluster({ rootNodes: env.server.nodes.map(({ host, port }) => ({ socket: { host, port } })) }).connect()
    : await require('redis').createClient({ url: env.server.url }).connect();
  return { name: `node-redis ${require('redis/package.json').version}`, redis, close: () => redis.quit() };
}

async function main() {
  const started = performance.now();
  log(`msal-redis-cache bench${quick ? ' (--quick)' : ''}${topology === 'cluster' ? ' on a 3-master Redis Cluster' : ''}: starting redis-server and seeding fixtures`);
  const env = await createEnvironment({ topology });
  let plugin;
  let encryption = [];
  let cryptoResults = [];
  const contention = [];
  let coreResults;
  let localCache = [];
  let signOutResults = [];
  try {
    // The wasm core and the JS reference must agree before either is timed.
    const inputs = coreInputs(env);
    checkEquivalence(inputs);
    log('wasm core and reference-core.js agree on every fixture and operation');

    if (jsCore) useReferenceCore();
    log(`plugin: ours (RedisTokenCache, encrypted${jsCore ? ', with reference-core.js' : ''}) vs msal DistributedCachePlugin`);
    plugin = await runCases(selected(pluginCases(env)), BUDGET.plugin, env);
    log('encryption: encryptionKeys vs insecurePlaintextStorage (same plugin)');
    encryption = await runCases(selected(encryptionCases(env)), BUDGET.plugin, env);
    if (!jsCore) {
      log('crypto alone: seal/open (js/storage/stored-value.js), AES-256-GCM vs plaintext digest');
      cryptoResults = await runCases(selected(cryptoCases(env)), BUDGET.core);
      for (const mode of ['async', 'process']) {
        if (!`contention.${mode}`.startsWith(only)) continue;
        const started = performance.now();
        const result = await runContention(env, { mode, writers, budgetMs: BUDGET.contention.budgetMs });
        contention.push(result);
        const side = (t) => `${t.perSecond.writes.toFixed(0)} writes/s, ${t.perSecond.conflicts.toFixed(0)} conflicts/s, ` +
          `${t.perSecond.merges.toFixed(0)} merges/s, stored ${(100 * t.storedRate).toFixed(1)} %, lost ${t.lost}/${t.writes}`;
        log(`  contention.${mode.padEnd(23)} ours: ${side(result.ours)}; theirs: ${side(result.theirs)} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      }
    }
    log('core: wasm vs plain JavaScript');
    coreResults = jsCore ? [] : await runCases(selected(coreCases(inputs)), BUDGET.core);
    if (!jsCore && ('l1.'.startsWith(only) || only.startsWith('l1.'))) {
      for (const name of l1Clients) {
        log(`in-process cache (L1) on ${name}: ours (L1 on, default) and ours (localCache: false) vs msal DistributedCachePlugin`);
        const app = await connectClient(name, env);
        try {
          localCache.push(await runLocalCacheCases(env, { quick, only, log, app }));
        } finally {
          await app.close();
        }
      }
    }
    if (!jsCore && ('signout.'.startsWith(only) || only.startsWith('signout.'))) {
      log('sign-out: waiting for a replica (signOutReplicas "auto") vs not (false), on a master with one replica');
      const signOut = await signOutCases(env);
      try {
        signOutResults = await runCases(selected(signOut.cases), BUDGET.plugin, env);
      } finally {
        await signOut.stop();
      }
    }
  } finally {
    await env.stop();
  }

  const report = {
    date: new Date().toISOString(),
    quick,
    topology,
    pluginCore: jsCore ? 'bench/reference-core.js (diagnostic --js-core)' : 'wasm (js/core.js)',
    machine: machine(),
    budget: BUDGET,
    unit: 'microseconds per call (median over all timed calls)',
    storedBytes: env.stored,
    encryptionKeyNames: 'ours: AES-256-GCM values, HMAC key names (random keys per run)',
    plugin,
    encryption,
    crypto: cryptoResults,
    contention,
    core: coreResults,
    localCache,
    signOut: signOutResults,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
  fs.writeFileSync(OUTPUT, `${JSON.stringify(report, null, 2)}\n`);

  const m = report.machine;
  console.log(`\nmsal-redis-cache benchmark: ${m.nproc} CPUs (${m.cpu}), Node ${m.node}, msal-node ${m.msalNode}, ${m.redis.split(' ').slice(0, 3).join(' ')}`);
  console.log(`median µs per call; ratio < 1 means ours is faster${quick ? '; --quick: few samples, indicative only' : ''}`);
  console.log(jsCore ? 'DIAGNOSTIC --js-core: "ours" runs with reference-core.js instead of the wasm core\n' : '');
  if (plugin.length) console.log(`${pluginTable(plugin)}\n`);
  if (encryption.length || cryptoResults.length) console.log(`${encryptionTable([...encryption, ...cryptoResults])}\n`);
  if (contention.length) console.log(`${contentionTable(contention)}\n`);
  if (coreResults.length) console.log(`${coreTable(coreResults)}\n`);
  for (const l1 of localCache) console.log(`L1 cases on ${l1.client}:\n${localCacheTable(l1)}\n`);
  if (signOutResults.length) console.log(`${signOutTable(signOutResults)}\n`);
  console.log(`total ${report.seconds} s; results in ${path.relative(process.cwd(), OUTPUT)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
