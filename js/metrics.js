'use strict';
// What the cache does, in numbers: one Metrics object per RedisTokenCache, which the rest of the code calls
// (metrics.lookup('L1Cache', hit), metrics.redisCall(...), ...). Each measurement goes to
//   - OpenTelemetry instruments on the meter "msal-redis-cache", from options.metrics.meterProvider or else from the
//     global provider of @opentelemetry/api (an optional peer dependency: without it, there are no instruments);
//   - options.metrics.onEvent({ name, value, attributes }), a plain callback with the instrument's name and the same
//     attributes (for a logger, StatsD, a test);
//   - nowhere, when there is neither an SDK nor a callback. The OTel API alone is a no-op until an SDK registers a
//     provider; this object notices (its instruments are the API's no-op singletons) and then every call returns at
//     its first line, so the hot path (an in-process cache hit, ~10 µs) pays one property check.
// Attributes are a few fixed words (never a key, an id or a message): their number stays bounded whatever the
// traffic, and nothing personal reaches a metrics backend. README.md, "Metrics", lists every instrument.

const { ConfigurationError } = require('./errors');
const { version } = require('../package.json');

const METER_NAME = 'msal-redis-cache';
const NS = 'msal_redis_cache.';

// Seconds, as OTel's semantic conventions want durations; a Redis call takes from ~100 µs to commandTimeoutMs.
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

// key: [kind, name, unit, description]. The events of onEvent are the measurements of the synchronous ones.
const INSTRUMENTS = {
  hits: ['counter', 'cache.hits', '{lookup}', 'Partition loads served by a cache level (CacheLevel: L1Cache in-process, L2Cache Redis)'],
  misses: ['counter', 'cache.misses', '{lookup}', 'Partition loads a cache level could not serve (L1Cache: went to Redis; L2Cache: nothing usable stored)'],
  offlineReads: ['counter', 'cache.offline_reads', '{read}', 'Loads while Redis failed: the last copy this server saw (result=stale), a miss (result=miss), or a CacheStoreError (result=failed)'],
  unreadable: ['counter', 'cache.unreadable', '{value}', 'Stored values ignored as a cache miss (reason: corrupt, expired, foreign, too_large)'],
  redisDuration: ['histogram', 'redis.duration', 's', 'Redis calls, from sent to answer, timeout or error (db.operation.name, error.type)'],
  redisRejected: ['counter', 'redis.rejected', '{call}', 'Redis calls not sent because the circuit breaker was open'],
  breakerTransitions: ['counter', 'redis.breaker.transitions', '{transition}', 'Circuit breaker state changes (state: the state entered)'],
  io: ['counter', 'redis.io', 'By', 'Bytes of stored partition values sent to and received from Redis (network.io.direction)'],
  writes: ['counter', 'writes', '{write}', 'Partition writes, by outcome: stored, deleted, removed, dropped, failed, unchanged'],
  conflicts: ['counter', 'write.conflicts', '{conflict}', 'Compare-and-set writes that found another version stored'],
  merges: ['counter', 'write.merges', '{merge}', 'Three-way merges of a conflicting write with the stored version'],
  retries: ['counter', 'write.retries', '{retry}', 'Compare-and-set attempts after the first of a write'],
  dropped: ['counter', 'write.dropped', '{write}', 'Writes not stored (reason: removed = signed out or expired meanwhile, other_account, conflicts)'],
  evictions: ['counter', 'local_cache.evictions', '{entry}', 'In-process cache entries evicted (least recently used) to stay within maxBytes and maxEntries'],
};
const BREAKER_STATE = ['observableGauge', 'redis.breaker.state', '{breaker}', 'Circuit breakers (one per RedisTokenCache) in each state: closed, open, half-open'];
const BREAKER_STATES = ['closed', 'open', 'half-open'];

/** A frozen attributes object per distinct set: no allocation per measurement, and none a callback can change. */
const interned = new Map();
function attributes(...pairs) {
  const id = pairs.join('\0');
  let found = interned.get(id);
  if (!found) {
    const object = {};
    for (let i = 0; i < pairs.length; i += 2) object[pairs[i]] = pairs[i + 1];
    found = Object.freeze(object);
    interned.set(id, found);
  }
  return found;
}

const NONE = Object.freeze({});
// MSAL.NET's CacheLevel tag and values (Microsoft.Identity.Client.Cache.CacheLevel), so dashboards can put both together.
const CACHE_LEVEL = { L1Cache: attributes('CacheLevel', 'L1Cache'), L2Cache: attributes('CacheLevel', 'L2Cache') };
const RECEIVE = attributes('network.io.direction', 'receive');
const TRANSMIT = attributes('network.io.direction', 'transmit');

let otelApi; // undefined: not looked for yet; null: not installed
function loadOtelApi() {
  if (otelApi !== undefined) return otelApi;
  try {
    otelApi = require('@opentelemetry/api');
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes('@opentelemetry/api')) throw err;
    otelApi = null;
  }
  return otelApi;
}

/** Meters already given a breaker-state gauge -> the guards it reports on (weakly: a dropped cache stops counting). */
const breakerGauges = new WeakMap();

class Metrics {
  /**
   * @param {{ meter?: object|null, onEvent?: ((event: { name: string, value: number, attributes: object }) => void)|null,
   *   logger?: { warn(message: string): void } }} [options]
   */
  constructor({ meter = null, onEvent = null, logger = console } = {}) {
    this.meter = meter;
    this.instruments = meter ? createInstruments(meter) : null;
    this.onEvent = onEvent;
    this.logger = logger;
    this.callbackFailed = false;
    this.active = this.instruments !== null || onEvent !== null;
  }

  /** A partition load at `level` ("L1Cache" or "L2Cache") found what it needed (hit) or not. */
  lookup(level, hit) {
    if (!this.active) return;
    this.#add(hit ? 'hits' : 'misses', 1, CACHE_LEVEL[level]);
  }

  /** A load while Redis failed: served the last copy this server saw (stale) or nothing. */
  /** A load while Redis failed: "stale" (the last copy this server saw), "miss", or "failed" (readFailure "closed"). */
  offlineRead(result) {
    if (!this.active) return;
    this.#add('offlineReads', 1, attributes('result', result));
  }

  /** A stored value was ignored: "corrupt" (does not open), "foreign" (not a token cache), "too_large". */
  unreadable(reason) {
    if (!this.active) return;
    this.#add('unreadable', 1, attributes('reason', reason));
  }

  /** `bytes` of a stored partition value came from Redis. */
  received(bytes) {
    if (!this.active || bytes === 0) return;
    this.#add('io', bytes, RECEIVE);
  }

  /** A Redis call answered (errorType null) or failed after `seconds`; `operation` is a command or script name. */
  redisCall(operation, seconds, errorType) {
    if (!this.active) return;
    const attrs = errorType
      ? attributes('db.operation.name', operation, 'error.type', errorType)
      : attributes('db.operation.name', operation);
    if (this.instruments) this.instruments.redisDuration.record(seconds, attrs);
    if (this.onEvent) this.#emit('redisDuration', seconds, attrs);
  }

  /** A Redis call was not sent: the circuit breaker is open. */
  rejected(operation) {
    if (!this.active) return;
    this.#add('redisRejected', 1, attributes('db.operation.name', operation));
  }

  /** The circuit breaker entered `state`. */
  breaker(state) {
    if (!this.active) return;
    this.#add('breakerTransitions', 1, attributes('state', state));
  }

  /** A compare-and-set reached Redis with `sentBytes` of value: a conflict brings the stored value back. */
  compareAndSet(sentBytes, result) {
    if (!this.active) return;
    if (sentBytes > 0) this.#add('io', sentBytes, TRANSMIT);
    if (result.written) return;
    this.#add('conflicts', 1, NONE);
    if (result.current.value) this.#add('io', result.current.value.length, RECEIVE);
  }

  merge() {
    if (this.active) this.#add('merges', 1, NONE);
  }

  retry() {
    if (this.active) this.#add('retries', 1, NONE);
  }

  /** The writer gave up on a write; `reason`: removed, other_account or conflicts. */
  dropped(reason) {
    if (this.active) this.#add('dropped', 1, attributes('reason', reason));
  }

  /** A write ended with `outcome` (partition-writer.js). */
  write(outcome) {
    if (this.active) this.#add('writes', 1, attributes('outcome', outcome));
  }

  evicted() {
    if (this.active) this.#add('evictions', 1, NONE);
  }

  /**
   * Reports `guard`'s breaker state on the breaker-state gauge. A gauge has one value per attribute set, so one
   * callback per meter counts the breakers of every cache in each state.
   */
  observeBreaker(guard) {
    if (!this.instruments) return;
    let guards = breakerGauges.get(this.meter);
    if (!guards) {
      const set = new Set();
      guards = set;
      breakerGauges.set(this.meter, set);
      const [, name, unit, description] = BREAKER_STATE;
      this.meter.createObservableGauge(NS + name, { unit, description }).addCallback((result) => {
        const counts = { closed: 0, open: 0, 'half-open': 0 };
        for (const ref of set) {
          const live = ref.deref();
          if (live) counts[live.state]++;
          else set.delete(ref);
        }
        for (const state of BREAKER_STATES) result.observe(counts[state], attributes('state', state));
      });
    }
    guards.add(new WeakRef(guard));
  }

  #add(key, value, attrs) {
    if (this.instruments) this.instruments[key].add(value, attrs);
    if (this.onEvent) this.#emit(key, value, attrs);
  }

  #emit(key, value, attrs) {
    try {
      this.onEvent({ name: NS + INSTRUMENTS[key][1], value, attributes: attrs });
    } catch (err) {
      // The callback runs inside requests: its failure must not become theirs. Said once, not per request.
      if (this.callbackFailed) return;
      this.callbackFailed = true;
      this.logger.warn(`msal-redis-cache: metrics.onEvent threw (${err && err.message}); further failures are not logged`);
    }
  }
}

/** The instruments on `meter`; null when they are the OTel API's no-ops (no SDK registered): then nothing records. */
function createInstruments(meter) {
  const instruments = {};
  for (const [key, [kind, name, unit, description]] of Object.entries(INSTRUMENTS)) {
    instruments[key] =
      kind === 'histogram'
        ? meter.createHistogram(NS + name, { unit, description, advice: { explicitBucketBoundaries: DURATION_BUCKETS } })
        : meter.createCounter(NS + name, { unit, description });
  }
  const api = loadOtelApi();
  if (api && instruments.hits === api.createNoopMeter().createCounter('noop')) return null;
  return instruments;
}

const NO_METRICS = new Metrics();

/**
 * The Metrics of a RedisTokenCache from its `metrics` option: false (none), or { meterProvider, onEvent }, where
 * meterProvider false means no OpenTelemetry, and absent means the global one of @opentelemetry/api when installed.
 */
function createMetrics(option, logger) {
  if (option === false) return NO_METRICS;
  const settings = option ?? {};
  if (typeof settings !== 'object') {
    throw new ConfigurationError('metrics must be false or { meterProvider, onEvent }');
  }
  for (const name of Object.keys(settings)) {
    if (name !== 'meterProvider' && name !== 'onEvent') {
      throw new ConfigurationError(`unknown option "metrics.${name}"; metrics takes { meterProvider, onEvent }`);
    }
  }
  const { meterProvider, onEvent = null } = settings;
  if (onEvent !== null && typeof onEvent !== 'function') {
    throw new ConfigurationError('metrics.onEvent must be a function(event)');
  }
  let provider = null;
  if (meterProvider === undefined) {
    const api = loadOtelApi();
    provider = api && api.metrics.getMeterProvider();
  } else if (meterProvider !== false) {
    if (!meterProvider || typeof meterProvider.getMeter !== 'function') {
      throw new ConfigurationError('metrics.meterProvider must be an OpenTelemetry MeterProvider (with getMeter), or false');
    }
    provider = meterProvider;
  }
  const meter = provider ? provider.getMeter(METER_NAME, version) : null;
  if (!meter && onEvent === null) return NO_METRICS;
  return new Metrics({ meter, onEvent, logger });
}

module.exports = { Metrics, createMetrics, NO_METRICS, METER_NAME, INSTRUMENTS, NS };
