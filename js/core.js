'use strict';
// The WebAssembly core, loaded synchronously at require() time. Payloads cross the boundary as UTF-8 bytes copied
// straight into and out of wasm memory (TextEncoder.encodeInto / Buffer copies), never through Embind's per-byte
// string marshalling; only partition ids, numbers and error text use Embind conversions.

const path = require('node:path');
const { CacheFormatError } = require('./errors');

const WASM_MODULE = path.join(__dirname, 'wasm', 'msal_cache_core.js');

function loadModule() {
  let createCoreModule;
  try {
    createCoreModule = require(WASM_MODULE);
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND') {
      throw new Error(`msal-redis-cache: the WebAssembly core is missing (${WASM_MODULE}). Run: npm run build`);
    }
    throw err;
  }
  // Built with WASM_ASYNC_COMPILATION=0: the factory returns a ready module, not a promise.
  return createCoreModule();
}

const wasm = loadModule();
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

const PARTITION_KIND = Object.freeze({ account: 0, app: 1, obo: 2 });

/** Copies a string (as UTF-8) or a Buffer/Uint8Array into the core's input buffer; returns its byte length. */
function putInput(data) {
  if (typeof data !== 'string') {
    const pointer = wasm.reserveInput(data.length);
    wasm.HEAPU8.set(data, pointer); // reserveInput may grow memory: read HEAPU8 only after it
    return data.length;
  }
  // Cache JSON is nearly all ASCII: try a tight buffer first, and the worst case (3 bytes per UTF-16 unit) only
  // when the string did not fit.
  let capacity = data.length + 64;
  for (;;) {
    const pointer = wasm.reserveInput(capacity);
    const { read, written } = encoder.encodeInto(data, wasm.HEAPU8.subarray(pointer, pointer + capacity));
    if (read === data.length) return written;
    capacity = data.length * 3;
  }
}

/** Runs one core operation; returns { head, payload } with payload as a zero-copy view (valid until the next call). */
function call(operation, args) {
  const headLength = operation(...args);
  if (headLength < 0) throw new CacheFormatError(wasm.lastError());
  const pointer = wasm.outputPointer();
  const length = wasm.outputLength();
  const bytes = wasm.HEAPU8.subarray(pointer, pointer + length);
  return { head: JSON.parse(decoder.decode(bytes.subarray(0, headLength)) || 'null'), payload: bytes.subarray(headLength) };
}

const joinIds = (ids) => ids.join('\n');

/**
 * Validates a stored cache and keeps it to `allowed` partition ids ([] keeps everything).
 * @returns {{ rewritten: string|null, homeAccountIds: string[], droppedHomeAccountIds: string[] }}
 */
function planRead(stored, allowed, { maxBytes = 0 } = {}) {
  const length = putInput(stored);
  const { head, payload } = call(wasm.planRead, [length, joinIds(allowed), maxBytes]);
  return {
    rewritten: head.rewritten ? decoder.decode(payload) : null,
    homeAccountIds: head.homeAccountIds,
    droppedHomeAccountIds: head.droppedHomeAccountIds,
  };
}

/**
 * Restricts a serialized cache to `allowed`, sweeps expired tokens and computes the partition's TTL.
 * @returns the core's decision, with `cache` as a Buffer ready to store (empty when hasTokens is false).
 */
function planWrite(serialized, request) {
  const length = putInput(serialized);
  const { head, payload } = call(wasm.planWrite, [
    length,
    joinIds(request.allowed),
    PARTITION_KIND[request.kind],
    request.now,
    request.skewSeconds,
    request.slidingSeconds,
    request.absoluteSeconds,
    request.createdAt,
    request.maxBytes || 0,
  ]);
  return { ...head, cache: Buffer.from(payload) };
}

/** Splits a cache into its partitions: { "<partition id>": cacheObject }. */
function split(serialized, { maxBytes = 0 } = {}) {
  const length = putInput(serialized);
  return JSON.parse(decoder.decode(call(wasm.split, [length, maxBytes]).payload));
}

/** Merges partition caches (JSON strings) back into one cache JSON string. */
function merge(caches, { maxBytes = 0 } = {}) {
  const length = putInput(caches.join('\n'));
  return decoder.decode(call(wasm.merge, [length, maxBytes]).payload);
}

/** A secret-free description of a cache (accounts, token kinds, scopes, expiry times, sizes). */
function describe(serialized, { maxBytes = 0 } = {}) {
  const length = putInput(serialized);
  return call(wasm.describe, [length, maxBytes]).head;
}

/** Bytes allocated on the wasm heap right now (for leak tests). */
function allocatedBytes() {
  return wasm.allocatedBytes();
}

function memoryBytes() {
  return wasm.HEAPU8.length;
}

module.exports = { planRead, planWrite, split, merge, describe, allocatedBytes, memoryBytes, PARTITION_KIND };
