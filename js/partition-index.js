'use strict';
// The indexes that let the admin operations (admin-operations.js) find partitions without scanning the keyspace:
//   <prefix>index:user:<h>      the session, account and on-behalf-of partitions of one home account id
//   <prefix>index:app:<h>       the app (client-credential) partitions of one client id
//   <prefix>index:obo:<h>       the on-behalf-of partitions of one client id
//   <prefix>index:count:<kind>  every partition of one kind (session, account, app, obo), for countPartitions
// <h> is the keyring's HMAC of the id, like partition names. Each index is a sorted set whose members are partition
// keys without the prefix (HMACs too: no personal data in clear) and whose score is the epoch second until which
// that partition may exist. Each index is a key of its own, changed by a script on that one key: nothing spans two
// hash slots, so a Cluster works as one Redis.
//
// The membership indexes (user, app, obo) must never miss a partition, so a partition joins them BEFORE the
// compare-and-set that creates it (beforeStore: awaited; when it fails, the write is not sent). They are never
// shrunk by removals (a sign-in racing the removal could be dropped from its index): a member is pruned only once
// its score is past, when the partition can no longer exist, and an index key expires with its last member. Extra
// members (partitions already gone) only cost a removal of nothing.
//
// The counts follow every write (afterWrite: sent once the write is stored, never awaited by it, failures ignored):
// a gauge, not a guarantee.

const crypto = require('node:crypto');
const { CacheStoreError } = require('./errors');
const { PARTITION_KEY_KINDS: KINDS } = require('./partitions');

// Scores of the membership indexes are this much later than the partition's expiry: clock skew between servers
// (the score is one server's clock, Redis expires keys by its own) and concurrent writers of one partition (the
// last add may come from the one whose write lost) must never get a member pruned while its partition lives.
const MARGIN_SECONDS = 3600;

// KEYS[1] an index; ARGV[1] the member, ARGV[2] its score, ARGV[3] now (epoch seconds), ARGV[4] "max": never lower
// a member's score (membership), "set": the latest write decides (counts). Prunes members past their score, and
// makes the key live as long as its latest member.
const ADD = script(`
local score, now = tonumber(ARGV[2]), tonumber(ARGV[3])
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ARGV[4] ~= 'max' or not old or tonumber(old) < score then redis.call('ZADD', KEYS[1], score, ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
if redis.call('TTL', KEYS[1]) < score - now then redis.call('EXPIRE', KEYS[1], math.max(1, score - now)) end
return 1`);

function script(lua) {
  return { lua, sha: crypto.createHash('sha1').update(lua).digest('hex') };
}

/** "session:{h}" -> "session": a member's partition kind. */
const kindOf = (member) => member.slice(0, member.indexOf(':'));

class PartitionIndex {
  /**
   * @param {{ settings: { redis: object, prefix: string, absoluteSeconds: number }, keyring: object,
   *   guard: import('./redis-guard').RedisGuard, logger: { warn(m: string): void }, clock: () => number }} context
   */
  constructor({ settings, keyring, guard, logger, clock }) {
    this.redis = settings.redis;
    this.prefix = settings.prefix;
    this.absoluteSeconds = settings.absoluteSeconds;
    this.keyring = keyring;
    this.guard = guard;
    this.logger = logger;
    this.clock = clock;
    this.pending = new Set(); // count updates under way (afterWrite)
  }

  /** Epoch seconds, as the writer counts them. */
  now() {
    return Math.floor(this.clock() / 1000);
  }

  userKey(homeAccountId) {
    return `${this.prefix}index:user:${this.keyring.name('user', homeAccountId)}`;
  }

  /** kind: "app" or "obo" */
  clientKey(kind, clientId) {
    return `${this.prefix}index:${kind}:${this.keyring.name('client', clientId)}`;
  }

  countKey(kind) {
    return `${this.prefix}index:count:${kind}`;
  }

  /**
   * Adds a partition to the indexes admin operations read, before the write that may create it. Only writes that
   * create a partition (nothing readable stored at its key: a sign-in) add a user partition, since it never outlives
   * createdAt + absoluteSeconds; an app partition lives as long as its newest access token, so each of its writes
   * moves its score. Every other write costs nothing here.
   * @param {object} write
   * @param {import('./partitions').Partition & { clientId?: string }} write.partition
   * @param {string[]} write.allowed the core partition ids the write keeps (a user partition: ["account:<id>"])
   * @param {import('./partition-reader').LoadedPartition} write.base what the write replaces
   * @param {{ ttlSeconds: number, homeAccountIds: string[] }} write.plan
   * @param {number} write.createdAt
   * @throws {CacheStoreError} when an index cannot be written: the partition must then not be written either
   */
  async beforeStore({ partition, allowed, base, plan, createdAt }) {
    const now = this.now();
    const creating = base.body === null || base.etag === ''; // '': a version 0.1 value moving to its new key
    const userBound = createdAt + this.absoluteSeconds + MARGIN_SECONDS;
    let indexes = [];
    if (partition.mode === 'app') {
      indexes = [[this.clientKey('app', partition.clientId), now + plan.ttlSeconds + MARGIN_SECONDS]];
    } else if (creating && partition.mode === 'obo') {
      // The user whose incoming token it is: signing them out everywhere drops these downstream tokens too.
      const users = plan.homeAccountIds.filter(Boolean).map((id) => this.userKey(id));
      indexes = [this.clientKey('obo', partition.clientId), ...users].map((key) => [key, userBound]);
    } else if (creating) {
      indexes = allowed.map((id) => [this.userKey(id.slice('account:'.length)), userBound]);
    }
    if (indexes.length === 0) return;
    const member = partition.partitionKey;
    try {
      await Promise.all(indexes.map(([key, score]) => this.#add(key, member, score, now, 'max')));
    } catch (err) {
      if (!(err instanceof CacheStoreError)) throw err; // a refusal (NOPERM, OOM...) is logged by the guard, once
      throw new CacheStoreError(
        `partition "${this.prefix}${member}" not stored: it could not be added to its index (${err.message})`,
        { cause: err },
      );
    }
  }

  /**
   * Keeps the count of a partition's kind after a write: `ttlSeconds` for a stored partition, null for one removed
   * or deleted. Sent now, never awaited: it must not delay or fail the write it follows.
   */
  afterWrite(key, ttlSeconds) {
    const member = key.slice(this.prefix.length);
    const kind = kindOf(member);
    if (!key.startsWith(this.prefix) || !KINDS.includes(kind)) return;
    const countKey = this.countKey(kind);
    const now = this.now();
    const update = ttlSeconds === null
      ? this.guard.run('ZREM', countKey, () => this.redis.zrem(countKey, member))
      : this.#add(countKey, member, now + ttlSeconds, now, 'set');
    // Not awaited by the write, but by close(): an app that closes the cache and then its client loses no count.
    const settled = update.catch(() => {}).finally(() => this.pending.delete(settled)); // the guard logs refusals
    this.pending.add(settled);
  }

  /** Resolves once the count updates under way are done. */
  async settle() {
    await Promise.all([...this.pending]);
  }

  /** The partition keys (with the prefix) an index lists that may still exist. */
  async members(indexKey) {
    const now = this.now();
    const reply = await this.guard.run('ZRANGE', indexKey, () => this.redis.zrange(indexKey, 0, -1, 'WITHSCORES'));
    const keys = [];
    for (let i = 0; i < reply.length; i += 2) {
      if (Number(reply[i + 1]) >= now) keys.push(this.prefix + reply[i]);
    }
    return keys;
  }

  /** Partitions of each kind whose last write's TTL has not run out. */
  async counts() {
    const now = this.now();
    const counts = await Promise.all(KINDS.map((kind) => {
      const key = this.countKey(kind);
      return this.guard.run('ZCOUNT', key, () => this.redis.zcount(key, now, '+inf'));
    }));
    return Object.fromEntries(KINDS.map((kind, i) => [kind, Number(counts[i])]));
  }

  #add(key, member, score, now, mode) {
    const args = [member, Math.ceil(score), now, mode];
    return this.guard.run('ZADD', key, async () => {
      try {
        return await this.redis.evalsha(ADD.sha, 1, key, ...args);
      } catch (err) {
        // The script cache is empty after a restart or failover (or on a node never used): send the script itself.
        if (!/^NOSCRIPT/.test(err && err.message)) throw err;
        return this.redis.eval(ADD.lua, 1, key, ...args);
      }
    }, 'index_add');
  }
}

module.exports = { PartitionIndex, MARGIN_SECONDS, KINDS, SCRIPTS: { ADD } };
