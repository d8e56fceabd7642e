'use strict';
// Every Redis call of the package goes through one guard, so that a dead or hung Redis costs a request at most
// commandTimeoutMs, whatever the client's own settings (its defaults wait 10 s to minutes):
//   - each call has its own timeout, and the calls of one request share one: a request that already waited on
//     Redis gets only what is left of commandTimeoutMs (a `budget`), so that it is answered within commandTimeoutMs
//     in all (a slow read followed by a write that times out would otherwise take two);
//   - a circuit breaker: after BREAKER_FAILURES failures in a row it opens, and calls fail at once instead of
//     waiting; every BREAKER_PROBE_MS one call goes through as a probe, and its success closes the breaker;
//   - every failure is a CacheStoreError naming the command and the key (never a token or an id in clear);
//   - one warning when calls start failing, one when Redis answers again: an outage is two log lines, not one per
//     request.
//   - one warning per kind of refusal (an ACL without a right the package needs, a read-only replica, a full Redis):
//     such a refusal recurs on every request until someone changes the deployment, and the callers fail open (a
//     miss, a write not stored), so without it a misconfigured Redis is silent; never the key or Redis's whole text.

const { CacheStoreError } = require('../errors');
const { NO_METRICS } = require('../metrics');
const { refusalOf } = require('./refusals');
const { isReplyError } = require('./driver');

const BREAKER_FAILURES = 3;
const BREAKER_PROBE_MS = 1000;

// A timer firing this much later than asked means this process was busy (see run).
const BUSY_PROCESS_MS = 20;

class RedisGuard {
  /**
   * @param {{ commandTimeoutMs: number, clock: () => number, logger: { warn(m: string): void },
   *   metrics?: import('../metrics').Metrics }} options
   */
  constructor({ commandTimeoutMs, clock, logger, metrics = NO_METRICS }) {
    this.timeoutMs = commandTimeoutMs;
    this.clock = clock;
    this.logger = logger;
    this.inOutage = false;
    this.failures = 0;
    this.openUntil = 0; // while open: calls fail at once until then, when one probe goes through
    this.probing = false;
    this.stats = { calls: 0, failures: 0, timeouts: 0, rejectedWhileOpen: 0, breakerOpened: 0 };
    this.refusalsWarned = new Set(); // kinds of refusal already logged (refusalOf(...).kind)
    this.metrics = metrics;
    this.reportedState = 'closed';
    this.onAnswer = null; // called whenever Redis answered a call (the in-process cache: LocalCache.answered)
    metrics.observeBreaker(this);
  }

  /** "closed" (calls go through), "open" (they fail at once) or "half-open" (a probe is under way). */
  get state() {
    if (this.failures < BREAKER_FAILURES) return 'closed';
    return this.probing ? 'half-open' : 'open';
  }

  /**
   * Runs `operation` (a function returning the Redis call's promise) under the timeout and the breaker.
   * `name`: what metrics call the operation (a script's name; by default the command). `budget`: the request's
   * { spentMs } (its Redis calls so far), or null: the call gets at most commandTimeoutMs - spentMs, and adds its
   * own time.
   * @throws {CacheStoreError}
   */
  async run(command, key, operation, name = command, budget = null) {
    const limitMs = budget ? Math.floor(this.timeoutMs - budget.spentMs) : this.timeoutMs;
    if (limitMs < 1) {
      throw new CacheStoreError(`Redis ${command} not sent for "${key}": this request already waited commandTimeoutMs on Redis`);
    }
    const open = this.failures >= BREAKER_FAILURES;
    if (open && (this.probing || this.clock() < this.openUntil)) {
      this.stats.rejectedWhileOpen++;
      this.metrics.rejected(name);
      throw new CacheStoreError(`Redis ${command} not sent for "${key}": Redis is unavailable (circuit breaker open)`);
    }
    if (open) {
      this.probing = true;
      this.#reportState(); // half-open
    }
    this.stats.calls++;
    let timer;
    const startedAt = performance.now();
    try {
      const result = await Promise.race([
        operation(),
        new Promise((_, reject) => {
          // The deadline measures Redis, not this process. The check runs after the next I/O poll, so a reply
          // already received is read first; and when the timer fires late because a long synchronous task held the
          // event loop, the call gets that much longer, once (a reply, or the second round trip of a NOSCRIPT
          // fallback, could not be read meanwhile).
          const expire = () => setImmediate(() => reject(new TimeoutError(limitMs, limitMs < this.timeoutMs)));
          timer = setTimeout(() => {
            const late = performance.now() - startedAt - limitMs;
            if (late <= BUSY_PROCESS_MS) expire();
            else timer = setTimeout(expire, Math.min(late, limitMs));
          }, limitMs);
        }),
      ]);
      this.metrics.redisCall(name, (performance.now() - startedAt) / 1000, null);
      this.#answered();
      return result;
    } catch (err) {
      this.metrics.redisCall(name, (performance.now() - startedAt) / 1000, errorType(err));
      this.stats.failures++;
      if (isReplyError(err)) {
        // Redis answered (WRONGTYPE, NOPERM, ...): it is alive; the caller decides what the answer means.
        this.#answered();
        this.#warnRefusal(command, name, err);
        throw new CacheStoreError(`Redis ${command} failed for "${key}": ${err.message}`, { cause: err });
      }
      if (err instanceof TimeoutError) this.stats.timeouts++;
      // A call cut short by its request's budget says little about Redis: it does not count toward the breaker.
      if (err instanceof TimeoutError && limitMs < this.timeoutMs) {
        throw new CacheStoreError(`Redis ${command} failed for "${key}": ${err.message}`, { cause: err });
      }
      this.failures++;
      if (!this.inOutage) {
        this.inOutage = true;
        this.logger.warn(
          `msal-redis-cache: Redis ${command} failed for "${key}" (${err.message}). Until Redis answers again, reads ` +
            'use the last copy this server saw or miss, and writes follow writeFailure.',
        );
      }
      if (this.failures >= BREAKER_FAILURES) {
        if (!open) this.stats.breakerOpened++;
        this.openUntil = this.clock() + BREAKER_PROBE_MS;
      }
      throw new CacheStoreError(`Redis ${command} failed for "${key}": ${err.message}`, { cause: err });
    } finally {
      clearTimeout(timer);
      if (budget) budget.spentMs += performance.now() - startedAt;
      if (open) this.probing = false;
      this.#reportState();
    }
  }

  /** Redis answered (here, or on another of the package's connections): close the breaker. */
  /** A call of this client had an answer (unlike reachable(), which a tracking connection's answer also calls). */
  #answered() {
    this.reachable();
    if (this.onAnswer) this.onAnswer();
  }

  reachable() {
    this.failures = 0;
    this.#reportState();
    if (this.inOutage) {
      this.inOutage = false;
      this.logger.warn('msal-redis-cache: Redis answers again.');
    }
  }

  /** The first refusal of each kind: what Redis refused and what to change, without the key (see refusalOf). */
  #warnRefusal(command, name, err) {
    const refusal = refusalOf(err.message, name);
    if (this.refusalsWarned.has(refusal.kind)) return;
    this.refusalsWarned.add(refusal.kind);
    this.logger.warn(
      `msal-redis-cache: Redis refused ${command} (${refusal.text}). Until that changes every call that needs it ` +
        'fails (token reads miss, token writes follow writeFailure, session-store calls reject); logged once per ' +
        `cause. ${refusal.fix}`,
    );
  }

  /** Tells the metrics when the breaker's state changed since they last heard. */
  #reportState() {
    const { state } = this;
    if (state === this.reportedState) return;
    this.reportedState = state;
    this.metrics.breaker(state);
  }
}

/** A failed call's error.type for metrics: a few words, never the message (it may name a key). */
function errorType(err) {
  if (err instanceof TimeoutError) return 'timeout';
  return isReplyError(err) ? 'reply' : 'connection';
}

class TimeoutError extends Error {
  constructor(ms, shortened) {
    super(`no answer within ${ms} ms (${shortened ? 'what this request had left of commandTimeoutMs' : 'commandTimeoutMs'})`);
  }
}

module.exports = { RedisGuard };
