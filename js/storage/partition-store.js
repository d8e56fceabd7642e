'use strict';
// Redis access for token-cache partitions: a read (GETRANGE, with PTTL pipelined when the in-process cache needs the
// TTL: one round trip) and a compare-and-set write (one Lua script on one key; Cluster-safe, since a script on one key
// runs on that key's node).
// Nothing else reads or writes a partition's value.
//
// The version a compare-and-set checks is the value's etag (see stored-value.js), read from its header: "" for a
// missing key, "!foreign" for anything this package did not write (another type, a corrupt header, an old format).
// The read transfers at most maxValueBytes + 1 bytes (GETRANGE 0 maxValueBytes), so a huge value is reported, not
// fetched; a key of another type is reported too (GETRANGE refuses it: WRONGTYPE). It is no script because a Lua
// call costs Redis some 40 µs per read where GETRANGE and PTTL cost 3 (INFO commandstats, 8 KB partitions: see
// bench/README.md); it need not be atomic, since a write between the two commands only changes the TTL an
// in-process copy may live, and that copy is invalidated by the write.

const { loadScript } = require('../redis/scripts');
const { isReplyError } = require('../redis/driver');

const ABSENT = '';
const FOREIGN = '!foreign';
const ETAG_HEAD_BYTES = 32; // "mrc2 <type> <etag> " and more: all etagOf() reads

// The script starts with js/redis/lua/partition-functions.lua (etag_of and inspect), whose header pattern must accept
// exactly what etagOf() accepts.
// KEYS[1] the partition; ARGV[1] the etag the writer loaded ("*": unconditional), ARGV[2] the new value ("" deletes
// the key), ARGV[3] its TTL in seconds, ARGV[4] the largest value to return on a conflict.
// Returns {'written', <type of the value replaced: "c", "s", "t" or "">}, or on a conflict what the key holds
// ({'value', etag, value, pttl}, {'none', ''}, {'type', '!foreign', type} or {'size', etag, size}), so the writer
// can merge without another round trip.
const COMPARE_AND_SET = loadScript('compare_and_set', 'partition-functions', 'partition-compare-and-set');

/** The etag of a raw value, as the compare-and-set script computes it. */
function etagOf(value) {
  if (value === null) return ABSENT;
  const match = /^mrc2 [cst] ([A-Za-z0-9_-]{16}) /.exec(value.toString('latin1', 0, Math.min(value.length, ETAG_HEAD_BYTES)));
  return match ? match[1] : FOREIGN;
}

/**
 * What a key holds, from a script's reply.
 * @typedef {object} StoredState
 * @property {string} etag  the version a compare-and-set of this state must name
 * @property {Buffer|null} value  null when there is no usable value (see problem)
 * @property {string|null} problem  null, or why the value was not transferred ("holds a Redis hash", ...)
 * @property {number} ttlMs  the value's remaining time to live (0 when there is no value)
 */
function stateOf(reply) {
  const [status, etag, detail, ttlMs] = reply;
  const state = { etag: etag.toString('latin1'), value: null, problem: null, ttlMs: 0 };
  switch (status.toString('latin1')) {
    case 'value':
      state.value = detail;
      state.ttlMs = Number(ttlMs); // a string with ioredis's stringNumbers option
      break;
    case 'type':
      state.problem = `holds a Redis ${detail.toString('latin1')}, not a string`;
      break;
    case 'size':
      state.problem = `value is ${detail} bytes, over maxValueBytes`;
      break;
    default:
  }
  return state;
}

class PartitionStore {
  /**
   * @param {object} driver the client's driver (js/redis/driver.js)
   * @param {import('../redis/guard').RedisGuard} guard every call goes through it (timeout, circuit breaker)
   * @param {{ maxValueBytes: number }} limits
   */
  constructor(driver, guard, { maxValueBytes }) {
    this.driver = driver;
    this.guard = guard;
    this.maxValueBytes = maxValueBytes;
  }

  /**
   * @param {string} key
   * @param {{ label?: string, budget?: { spentMs: number }, ttl?: boolean }} [options] label: how errors and warnings
   *   name the key, for a key whose name must not be logged (version 0.1's hold ids in clear); budget: the request's
   *   share of commandTimeoutMs (guard.js); ttl: false when the caller does not need ttlMs (it is then 0)
   * @returns {Promise<StoredState>}
   */
  async read(key, { label = key, budget = null, ttl = true } = {}) {
    return this.guard.run('GET', label, () => this.#read(key, ttl), 'read', budget);
  }

  async #read(key, ttl) {
    let value;
    let pttl;
    try {
      // Only the in-process cache needs the TTL: without it GETRANGE goes alone, not in a pipeline (which costs
      // ioredis more than the command: bench/README.md, "Issue 16: the Redis path, step by step"). Its empty reply is
      // a missing key; a key holding an empty string (never a value of this package) then reads as missing too, and
      // a write's compare-and-set finds it foreign and replaces it.
      [value, pttl] = await this.driver.getRangeAndPttl(key, this.maxValueBytes, { withPttl: ttl });
      if (pttl === null) pttl = value.length === 0 ? -2 : 0;
    } catch (err) {
      if (!isReplyError(err) || !/^WRONGTYPE/.test(err.message)) throw err;
      return { etag: FOREIGN, value: null, problem: `holds a Redis ${await this.driver.type(key)}, not a string`, ttlMs: 0 };
    }
    // PTTL -2: no key (also when it went between the two commands; a TTL of -1 means none was set).
    if (pttl === -2) return { etag: ABSENT, value: null, problem: null, ttlMs: 0 };
    if (value.length > this.maxValueBytes) {
      return { etag: etagOf(value), value: null, problem: `value is ${await this.driver.strlen(key)} bytes, over maxValueBytes`, ttlMs: 0 };
    }
    return { etag: etagOf(value), value, problem: null, ttlMs: pttl };
  }

  /**
   * The version `key` holds, from its first bytes alone (one GETRANGE, on the master, no decryption): how the
   * in-process cache confirms a copy it kept from this server's own write (local-cache.js). A missing key reads as
   * empty, hence "!foreign": like "" it matches no copy.
   * @returns {Promise<string>}
   */
  async etag(key, { budget = null } = {}) {
    return this.guard.run('GETRANGE', key, () => this.#etag(key), 'confirm', budget);
  }

  async #etag(key) {
    const [head] = await this.driver.getRangeAndPttl(key, ETAG_HEAD_BYTES - 1, { withPttl: false });
    return etagOf(head);
  }

  /**
   * Stores `value` (or deletes the key when value is null) if the key still holds the version `expectedEtag`
   * ("*": whatever it holds).
   * @returns {Promise<{ written: true, replaced: string } | { written: false, current: StoredState }>} replaced: the
   *   stored-value type the write replaced ("c" a partition, "t" a tombstone, "" nothing or a foreign value)
   * via: a connection of the driver's writeConnection(key) the write must go through (a sign-out's, which WAITs on it)
   */
  async compareAndSet(key, expectedEtag, value, ttlSeconds, { label = key, budget = null, via = null } = {}) {
    const args = [expectedEtag, value ?? '', value ? ttlSeconds : 0, this.maxValueBytes];
    const reply = await this.#run('SET', COMPARE_AND_SET, key, label, args, budget, via);
    if (reply[0].toString('latin1') === 'written') return { written: true, replaced: reply[1].toString('latin1') };
    return { written: false, current: stateOf(reply) };
  }

  async #run(command, script, key, label, args, budget, via = null) {
    const options = { buffers: true, via };
    return this.guard.run(command, label, () => this.driver.script(script, key, args, options), script.name, budget);
  }
}

/** How messages name a version 0.1 key: its name holds a session id, home account id or tenant in clear. */
const LEGACY_KEY_LABEL = '(a version 0.1 key)';

module.exports = { PartitionStore, etagOf, LEGACY_KEY_LABEL, SCRIPTS: { COMPARE_AND_SET } };
