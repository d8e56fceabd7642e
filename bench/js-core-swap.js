'use strict';
// Diagnostic for `npm run bench -- --js-core`: the plugin runs with its core's planRead/planWrite replaced by
// reference-core.js (which gives the same results, checked before timing). The plugin rows then show what the
// plugin would cost if the core were plain JavaScript; the difference from a normal run is the wasm core's share.
// Only the module object js/core.js exports is patched, in this process; no file changes. planMergeWrite (the
// three-way merge after a lost compare-and-set) has no JS reference and stays wasm; no case that runs under
// --js-core conflicts (the contention cases are skipped then). planRead is patched for completeness: the plugin's
// read path no longer calls the core (it decrypts and hands msal the bytes).

const core = require('../js/core');
const reference = require('./reference-core');

function useReferenceCore() {
  core.planRead = reference.planRead;
  core.planWrite = (serialized, request) => {
    const plan = reference.planWrite(serialized, request);
    return { ...plan, cache: Buffer.from(plan.cache) }; // the plugin stores bytes, as the wasm core returns them
  };
}

module.exports = { useReferenceCore };
