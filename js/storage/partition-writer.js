'use strict';
// The one path that changes a stored partition (the plugin after msal changed its cache, importPartition, sign-out
// and the session store's destroy all come here), so its rules hold everywhere:
//   - a write is a compare-and-set against the version the request loaded: no lock, one round trip;
//   - on a conflict the core merges three ways (base = what this request loaded, mine = what it now holds, theirs =
//     what is stored now), applies the partition rules again, and the write is retried a bounded number of times;
//   - a partition removed meanwhile (a tombstone, or gone) is never brought back by a write based on an older load;
//   - a removal is a tombstone, written whatever the stored version: a sign-out always wins;
//   - when Redis fails, a write fails open (writeFailure "open": not stored, counted; the caller keeps its token) or
//     closed (a CacheStoreError); a sign-out always fails closed: nobody may believe they signed out when they did not;
//   - where Redis has replicas, a tombstone counts only once a replica holds it too (signOutReplicas): a failover
//     must not bring a signed-out partition back.

const core = require('../core');
const { seal, tombstone, TYPE } = require('./stored-value');
const { interpret, present } = require('./partition-reader');
const { CacheFormatError, CacheStoreError } = require('../errors');
const { LEGACY_KEY_LABEL } = require('./partition-store');

// Every failed attempt means another writer succeeded, so n servers writing one partition at once need at most n
// attempts; past this many, something is looping and the write is dropped with a warning.
const MAX_WRITE_ATTEMPTS = 16;
// After a few conflicts in a row, writers that keep colliding wait a random moment (up to this many ms, growing
// with the attempt) so they stop arriving together.
const BACKOFF_AFTER_ATTEMPT = 2;
const BACKOFF_MS_PER_ATTEMPT = 2;
const EMPTY_CACHE = '{}';

/**
 * What the writer did: "stored", "deleted", "removed" (tombstoned), "dropped" (not stored: removed meanwhile, or
 * conflicting too long), "failed" (Redis failed, writeFailure "open"), "unchanged".
 */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class PartitionWriter {
  /**
   * @param {{ store: import('./partition-store').PartitionStore, keyring: object, logger: object,
   *   clock: () => number, settings: object }} context
   */
  constructor(context) {
    this.context = context;
  }

  /**
   * Stores `cache` (msal's serialized cache, or an imported one) as the partition `key`, based on `loaded`.
   * @param {object} write
   * @param {string} write.key
   * @param {{ allowed: string[], kind: string, mode: string }} write.partition
   * @param {string[]} write.allowed the core partition ids to keep
   * @param {string|null} write.owner the account a session partition belongs to
   * @param {import('./partition-reader').LoadedPartition} write.loaded
   * @param {string|Uint8Array} write.cache
   * @param {boolean} [write.offline] a Redis call of this request already failed: fail now, do not wait again
   * @param {{ spentMs: number }} [write.budget] the request's share of commandTimeoutMs (guard.js)
   * @returns {Promise<{ outcome: string, plan: object }>} plan: the core's decision on `cache` itself (what was
   *   restricted away)
   */
  async write(request) {
    try {
      const result = await this.#write(request);
      this.context.metrics.write(result.outcome);
      return result;
    } catch (err) {
      if (err instanceof CacheStoreError) this.context.metrics.write('failed'); // writeFailure "closed"
      throw err;
    }
  }

  async #write({ key, partition, allowed, owner, loaded, cache, offline = false, budget = null }) {
    const now = this.#now();
    let base = loaded;
    let createdAt = loaded.createdAt ?? now;
    const firstPlan = core.planWrite(cache, this.#request(partition, allowed, now, createdAt));
    let plan = firstPlan;
    // Nothing swept and nothing left: msal removed the account (removeAccount), or the partition is past its
    // lifetime. Either way it is over: a tombstone. Tokens that merely expired are a conditional delete instead, so
    // that another server's fresh tokens win.
    const swept = Object.values(firstPlan.expired).some((count) => count > 0);
    const removal = !firstPlan.hasTokens && !swept;
    for (let attempt = 1; ; attempt++) {
      if (!plan.hasTokens && base.body === null) return { outcome: 'unchanged', plan: firstPlan };
      if (removal) {
        const removed = await this.remove(key, base.legacy && base.legacy.key);
        return { outcome: removed ? 'removed' : 'unchanged', plan: firstPlan };
      }
      const writtenAt = this.#now();
      // The value carries its own end: Redis's TTL alone would let a Redis writer keep it (PERSIST) or put it back.
      const notAfter = writtenAt + plan.ttlSeconds;
      const sealed = plan.hasTokens
        ? seal(this.context.keyring, key, { type: TYPE.partition, createdAt, notAfter, meta: owner, body: plan.cache })
        : null;
      const { maxValueBytes } = this.context.settings;
      if (sealed && sealed.value.length > maxValueBytes) {
        throw new CacheFormatError(
          `partition "${key}" would be ${sealed.value.length} bytes, over maxValueBytes (${maxValueBytes}); not stored`,
        );
      }
      const { localCache } = this.context;
      const flight = localCache && localCache.beginRead(key);
      let result;
      try {
        if (offline) throw new CacheStoreError(`Redis SET not sent for "${key}": Redis failed earlier in this request`);
        // A partition joins the indexes admin operations read before it can exist (partition-index.js).
        if (sealed) await this.context.index.beforeStore({ partition, allowed, base, plan, createdAt, budget });
        result = await this.context.store.compareAndSet(key, base.etag, sealed && sealed.value, plan.ttlSeconds, { budget });
      } catch (err) {
        if (!(err instanceof CacheStoreError)) throw err;
        if (flight) {
          localCache.endWrite(flight, null);
          // The write may or may not have reached Redis: this server's copy is no longer a hit, but stays the
          // last known copy for reads while Redis fails.
          localCache.demote(key);
        }
        if (this.context.settings.writeFailure === 'closed') throw err;
        this.context.counters.failedWrites++;
        return { outcome: 'failed', plan: firstPlan };
      }
      this.context.metrics.compareAndSet(sealed ? sealed.value.length : 0, result);
      if (flight) {
        // What Redis holds now: what this write stored, or (a conflict, a delete) nothing this server knows.
        const stored =
          result.written && sealed
            ? present(sealed.etag, {
                body: plan.cache.toString('utf8'),
                createdAt,
                notAfter,
                owner,
                storedBytes: sealed.value.length,
              })
            : null;
        localCache.endWrite(flight, stored, plan.ttlSeconds * 1000);
        if (!stored) localCache.forget(key);
      }
      if (result.written) {
        this.context.index.afterWrite(key, sealed ? plan.ttlSeconds : null); // the counts; never awaited
        // Best effort: once the new key exists the old one is never read again, and it expires with its TTL.
        if (base.legacy) {
          const { key: legacyKey, etag } = base.legacy;
          await this.context.store.compareAndSet(legacyKey, etag, null, 0, { label: LEGACY_KEY_LABEL }).catch(() => {});
        }
        return { outcome: sealed ? 'stored' : 'deleted', plan: firstPlan };
      }
      const theirs = interpret(this.context, key, result.current);
      const drop = this.#reasonToDrop(partition, base, theirs, owner, attempt);
      if (drop) {
        this.context.metrics.dropped(drop.reason);
        if (drop.message) this.context.logger.warn(`msal-redis-cache: partition "${key}" not stored: ${drop.message}`);
        return { outcome: 'dropped', plan: firstPlan };
      }
      // Nothing readable stored (a tombstone that expired, a foreign or corrupt value): nothing to merge, replace it.
      if (theirs.body !== null) {
        const mine = plan.hasTokens ? plan.cache : EMPTY_CACHE;
        this.context.metrics.merge();
        createdAt = theirs.createdAt;
        plan = core.planMergeWrite(base.body, mine, theirs.body, this.#request(partition, allowed, this.#now(), createdAt));
        owner = owner ?? theirs.owner;
      }
      base = theirs;
      this.context.metrics.retry();
      if (attempt >= BACKOFF_AFTER_ATTEMPT) await sleep(Math.random() * BACKOFF_MS_PER_ATTEMPT * attempt);
    }
  }

  /**
   * Tombstones a partition (sign-out), and deletes its version 0.1 key when there may be one (else a migrating
   * reader would bring it back once the tombstone expires). Resolves to true when it held a partition.
   */
  async remove(key, legacyKey = null) {
    const { store, settings, localCache, replicaWait } = this.context;
    try {
      const now = this.#now();
      const { value } = tombstone(this.context.keyring, key, now, now + settings.tombstoneSeconds);
      // Where there are replicas, acknowledged only once they hold it (signOutReplicas, js/redis/replica-wait.js).
      // The tombstone goes through the connection WAIT will run on (via: where the client would choose one itself).
      const ticket = replicaWait && (await replicaWait.before(key));
      const via = ticket && ticket.connection;
      const result = await store.compareAndSet(key, '*', value, settings.tombstoneSeconds, { via });
      this.context.index.afterWrite(key, null);
      // Over nothing (no partition, no earlier tombstone: a session that never signed in, as express-session's
      // regenerate at sign-in destroys), a failover that lost this tombstone would bring nothing back: no wait, so that
      // a slow replica cannot fail a sign-in.
      if (ticket && result.replaced !== '') await replicaWait.confirm(ticket, key);
      if (legacyKey) await store.compareAndSet(legacyKey, '*', null, 0, { label: LEGACY_KEY_LABEL });
      return result.replaced === TYPE.partition;
    } finally {
      if (localCache) localCache.forget(key); // signed out here, whatever Redis said: never serve it again
    }
  }

  /**
   * Why a write that lost its compare-and-set to `theirs` must not be retried ({ reason, message }: message null
   * when it needs no warning); null to merge and retry.
   */
  #reasonToDrop(partition, base, theirs, owner, attempt) {
    // Removed meanwhile: signed out (a tombstone), or deleted or expired after this request loaded it.
    if (theirs.removed || (theirs.etag === '' && base.body !== null)) return { reason: 'removed', message: null };
    if (partition.mode === 'session' && owner && theirs.owner && theirs.owner !== owner) {
      return { reason: 'other_account', message: 'the session now belongs to another account' };
    }
    if (attempt >= MAX_WRITE_ATTEMPTS) {
      return { reason: 'conflicts', message: `still conflicting after ${attempt} attempts (other servers keep writing it)` };
    }
    return null;
  }

  #request(partition, allowed, now, createdAt) {
    const { skewSeconds, slidingSeconds, absoluteSeconds, maxValueBytes } = this.context.settings;
    return {
      allowed,
      kind: partition.kind,
      now,
      skewSeconds,
      slidingSeconds,
      absoluteSeconds,
      createdAt,
      maxBytes: maxValueBytes,
    };
  }

  #now() {
    return Math.floor(this.context.clock() / 1000);
  }
}

module.exports = { PartitionWriter };
