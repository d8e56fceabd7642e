'use strict';
// The WebAssembly core, loaded synchronously at require() time. Text crosses the boundary as UTF-8 bytes copied
// straight into and out of wasm memory (TextEncoder.encodeInto / Buffer copies), never through Embind's per-byte
// string marshalling: the caches and the allowed partition ids go into one input buffer, back to back; only numbers
// and error text use Embind conversions.

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

/**
 * Copies strings (as UTF-8) and Buffers/Uint8Arrays back to back into the core's input buffer, with one
 * reserveInput; returns each part's byte length.
 */
function putInputs(parts) {
  // Cache JSON is nearly all ASCII: try a tight buffer first, and the worst case (3 bytes per UTF-16 unit) only
  // when a string did not fit.
  for (const unitBytes of [1, 3]) {
    let capacity = 64;
    for (const part of parts) capacity += typeof part === 'string' ? part.length * unitBytes : part.length;
    const pointer = wasm.reserveInput(capacity);
    const heap = wasm.HEAPU8; // reserveInput may grow memory: read HEAPU8 only after it
    const lengths = [];
    let offset = pointer;
    for (const part of parts) {
      if (typeof part !== 'string') {
        heap.set(part, offset);
        lengths.push(part.length);
        offset += part.length;
        continue;
      }
      const { read, written } = encoder.encodeInto(part, heap.subarray(offset, pointer + capacity));
      if (read !== part.length) break;
      lengths.push(written);
      offset += written;
    }
    if (lengths.length === parts.length) return lengths;
  }
  throw new Error('msal-redis-cache: input does not fit its worst-case UTF-8 size'); // unreachable
}

/** Copies a string (as UTF-8) or a Buffer/Uint8Array into the core's input buffer; returns its byte length. */
function putInput(data) {
  return putInputs([data])[0];
}

/** Runs one core operation; returns { head, payload } with payload as a zero-copy view (valid until the next call). */
function call(operation, args) {
  const headLength = operation(...args);
  if (headLength < 0) throw new CacheFormatError(wasm.lastError());
  const heap = wasm.HEAPU8;
  const headPointer = wasm.headPointer();
  const payloadPointer = wasm.payloadPointer();
  return {
    head: JSON.parse(decoder.decode(heap.subarray(headPointer, headPointer + headLength)) || 'null'),
    payload: heap.subarray(payloadPointer, payloadPointer + wasm.payloadLength()),
  };
}

const joinIds = (ids) => ids.join('\n');

/**
 * Validates a stored cache and keeps it to `allowed` partition ids ([] keeps everything).
 * @returns {{ rewritten: string|null, homeAccountIds: string[], droppedHomeAccountIds: string[] }}
 */
function planRead(stored, allowed, { maxBytes = 0 } = {}) {
  const [length, allowedLength] = putInputs([stored, joinIds(allowed)]);
  const { head, payload } = call(wasm.planRead, [length, allowedLength, maxBytes]);
  return {
    rewritten: head.rewritten ? decoder.decode(payload) : null,
    homeAccountIds: head.homeAccountIds,
    droppedHomeAccountIds: head.droppedHomeAccountIds,
  };
}

// The request fields planWrite and planMergeWrite pass after the input lengths (the allowed ids are the last input
// part), in the bindings' order.
const writeArgs = (request) => [
  PARTITION_KIND[request.kind],
  request.now,
  request.skewSeconds,
  request.slidingSeconds,
  request.absoluteSeconds,
  request.createdAt,
  request.maxBytes || 0,
];

/**
 * Restricts a serialized cache to `allowed`, sweeps expired tokens and computes the partition's TTL.
 * @returns the core's decision, with `cache` as a Buffer ready to store (empty when hasTokens is false).
 */
function planWrite(serialized, request) {
  const [length, allowedLength] = putInputs([serialized, joinIds(request.allowed)]);
  const { head, payload } = call(wasm.planWrite, [length, allowedLength, ...writeArgs(request)]);
  return { ...head, cache: Buffer.from(payload) };
}

/**
 * planWrite after a failed compare-and-set: three-way merges `mine` (what msal holds now) with `theirs` (what is
 * stored now) against `base` (what this request loaded), then restricts, sweeps and computes the TTL as planWrite.
 * Strings or Buffers; a null, undefined or empty `base` or `theirs` means there was no stored cache.
 * @returns planWrite's result plus `merge: { takenMine, takenTheirs, conflicts, removed }`.
 */
function planMergeWrite(base, mine, theirs, request) {
  if (mine == null) throw new TypeError('planMergeWrite: mine (the cache msal holds) is required');
  const lengths = putInputs([base || '', mine, theirs || '', joinIds(request.allowed)]);
  const { head, payload } = call(wasm.planMergeWrite, [...lengths, ...writeArgs(request)]);
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

module.exports = {
  planRead,
  planWrite,
  planMergeWrite,
  split,
  merge,
  describe,
  allocatedBytes,
  memoryBytes,
  PARTITION_KIND,
};
