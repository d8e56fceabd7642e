'use strict';
// The core's operations: the WebAssembly core (js/core.js, as the plugin calls it) versus the same logic in plain
// JavaScript (reference-core.js), on the benchmark's fixtures. Before anything is timed, both must give the same
// answer on every input (checkEquivalence throws otherwise).

const assert = require('node:assert/strict');
const { core } = require('../js');
const reference = require('./reference-core');

const POLICY = { skewSeconds: 300, slidingSeconds: 86400, absoluteSeconds: 1209600 };

/** The inputs, shaped as the plugin passes them: planRead gets the stored bytes, planWrite msal's JSON string. */
function coreInputs(env) {
  const { user, app, now } = env;
  const tenant = app.tenantIds[0];
  const fixtures = [
    { shape: 'user', text: user.json, allowed: [`account:${user.homeAccountId}`], kind: 'account' },
    { shape: 'app, 1 tenant', text: JSON.stringify(app.tenantCache(tenant)), allowed: [`app:${tenant}`], kind: 'app' },
    { shape: 'app, 1,000 tenants', text: app.json, allowed: [`app:${tenant}`], kind: 'app' },
  ];
  return fixtures.map((f) => ({
    ...f,
    bytes: Buffer.from(f.text),
    request: { allowed: f.allowed, kind: f.kind, now, createdAt: now - 60, ...POLICY },
    // merge gets what split produced, as compact JSON strings
    partitions: Object.values(reference.split(f.text)).map((part) => JSON.stringify(part)),
  }));
}

/** The four operations, for one implementation, on one fixture. */
const operations = (input) => ({
  planRead: (impl) => impl.planRead(input.bytes, input.allowed),
  planWrite: (impl) => impl.planWrite(input.text, input.request),
  split: (impl) => impl.split(input.text),
  merge: (impl) => impl.merge(input.partitions),
});

/** Results made comparable: planWrite's cache is a Buffer from wasm and a string from JS; split is compared as JSON. */
function comparable(operation, result) {
  if (operation === 'planWrite') return { ...result, cache: result.cache.toString('utf8') };
  if (operation === 'split') return JSON.stringify(result);
  return result;
}

function checkEquivalence(inputs) {
  for (const input of inputs) {
    for (const [operation, call] of Object.entries(operations(input))) {
      const wasm = comparable(operation, call(core));
      const js = comparable(operation, call(reference));
      try {
        assert.deepStrictEqual(wasm, js);
      } catch (err) {
        const show = (value) => JSON.stringify(value).slice(0, 400);
        throw new Error(
          `wasm core and reference-core.js disagree on ${operation} (${input.shape}):\n  wasm: ${show(wasm)}\n  js:   ${show(js)}`,
          { cause: err },
        );
      }
    }
  }
}

/** One case per (fixture, operation): { id, shape, op, bytes, impls: { wasm, js } }. */
function coreCases(inputs) {
  return inputs.flatMap((input) =>
    Object.entries(operations(input)).map(([op, call]) => ({
      id: `core.${op}.${input.shape}`,
      shape: input.shape,
      op,
      bytes: input.bytes.length,
      impls: { wasm: { run: () => call(core) }, js: { run: () => call(reference) } },
    })),
  );
}

module.exports = { coreInputs, coreCases, checkEquivalence };
