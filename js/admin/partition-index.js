'use strict';
// The indexes that let the admin operations (admin-operations.js) find partitions without scanning the keyspace:
//   <prefix>index:user:<h>      the session, account and on-behalf-of partitions of one home account id
//   <prefix>index:app:<h>       the app (client-credential) partitions of one client id
//   <prefix>index:obo:<h>       the on-behalf-of partitions of one client id
//   <prefix>index:count:<kind>  every partition of one kind (session, account, app, obo), for countPartitions
// <h> is the keyring's HMAC of the id, like partition names. Each index is a sorted set whose members are partition
// keys without the prefix (HMACs too: no personal data in clear) and whose score is the epoch second until which
// that partition may exist. Each index is a key of its own, changed by a script (or, for counts, a pipeline) on that
// one key: nothing spans two hash slots, so a Cluster works as one Redis.
//
// The membership indexes (user, app, obo) must never miss a partition, so a partition joins them BEFORE the
// compare-and-set that creates it (beforeStore: awaited; when it fails, the write is not sent). A member leaves an
// index only when its partition can no longer be live, in one of three ways:
//   - its score is past (the partition's absolute lifetime and the margin): pruned by every add, and the index key
//     expires with its last member;
//   - its partition was found missing at least MARGIN_SECONDS after the member joined (the write that joined it sent
//     its compare-and-set right after the add, long before), so that write is over;
//   - its partition was tombstoned first (signOutEverywhere, or eviction past USER_INDEX_CAP): a write loaded before
//     fails its compare-and-set against the tombstone.
// The last two remove a member only if its score is still what was read (PRUNE), and an add to a member already
// there always raises its score (ADD, "max"): a sign-in that re-creates the partition meanwhile keeps its member.
// So every index stays bounded (an add that finds one large checks its oldest members, see #maintain) and
// signOutEverywhere still finds every live partition.
//
// The counts follow every write (afterWrite: noted once the write is stored, sent coalesced by count-updates.js, never
// awaited by it, failures ignored): a gauge, not a guarantee.

const { loadScript } = require('../redis/scripts');
const { CacheStoreError } = require('../errors');
const { PARTITION_KEY_KINDS: KINDS } = require('../msal/partitions');
const { driverFor } = require('../redis/driver');
const { CountUpdates, countCommands } = require('./count-updates');

// Scores of the membership indexes are this much later than the partition's expiry: clock skew between servers
// (the score is one server's clock, Redis expires keys by its own) and concurrent writers of one partition (the
// last add may come from the one whose write lost) must never get a member pruned while its partition lives.
const MARGIN_SECONDS = 3600;

// A user's sessions, account and on-behalf-of partitions past this many: the oldest are signed out (tombstoned) and
// dropped from the index, so that one user's index, and signOutEverywhere's work, stay bounded.
const USER_INDEX_CAP = 1000;
// An add that leaves an index with more members than PRUNE_FROM checks its oldest (one page) every PRUNE_EVERY adds;
// a user index over its cap, at every add.
const PRUNE_FROM = 100;
const PRUNE_EVERY = 50;
// Members per Redis call when an index is read or pruned: no single call is large, whatever the index holds.
const PAGE = 500;

// The scripts (js/redis/lua/index-add.lua, index-prune.lua; the Python package sends the same):
// ADD: KEYS[1] a membership index; ARGV[1] the member, ARGV[2] its score, ARGV[3] now (epoch seconds), ARGV[4] "max"
// (a member already there gets a higher score than it had). Prunes members past their score, makes the key live as
// long as its latest member, and returns how many it holds.
// PRUNE: KEYS[1] an index; ARGV: member, score, ... Removes each member whose score is still the one given.
const ADD = loadScript('index_add', 'index-add');
const PRUNE = loadScript('index_prune', 'index-prune');

/** "session:{h}" -> "session": a member's partition kind. */
const kindOf = (member) => member.slice(0, member.indexOf(':'));


class PartitionIndex {
  /**
   * @param {{ settings: { redis: object, prefix: string, absoluteSeconds: number }, keyring: object,
   *   guard: import('../redis/guard').RedisGuard, logger: { warn(m: string): void }, clock: () => number }} context
   */
  constructor({ settings, keyring, guard, logger, clock }) {
    this.driver = driverFor(settings.redis);
    this.prefix = settings.prefix;
    this.absoluteSeconds = settings.absoluteSeconds;
    this.keyring = keyring;
    this.guard = guard;
    this.logger = logger;
    this.clock = clock;
    this.pending = new Set(); // index maintenance under way (not awaited by the writes)
    this.countUpdates = new CountUpdates((countKey, members) => this.guard.run(
      'ZADD', countKey, () => this.driver.pipeline(countKey, countCommands(countKey, members, this.now())), 'index_count',
    ));
    this.evict = null; // (key) => tombstones a partition: the writer's remove, set by RedisTokenCache
    this.warnedCap = false;
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
   * @param {import('../msal/partitions').Partition & { clientId?: string }} write.partition
   * @param {string[]} write.allowed the core partition ids the write keeps (a user partition: ["account:<id>"])
   * @param {import('../storage/partition-reader').LoadedPartition} write.base what the write replaces
   * @param {{ ttlSeconds: number, homeAccountIds: string[] }} write.plan
   * @param {number} write.createdAt
   * @throws {CacheStoreError} when an index cannot be written: the partition must then not be written either
   */
  async beforeStore({ partition, allowed, base, plan, createdAt, budget = null }) {
    const now = this.now();
    const creating = base.body === null || base.etag === ''; // '': a version 0.1 value moving to its new key
    // From now, not createdAt (a version 0.1 value may be old): a score above now + absoluteSeconds then means
    // "joined less than MARGIN_SECONDS ago", which #maintain relies on.
    const userBound = Math.max(createdAt, now) + this.absoluteSeconds + MARGIN_SECONDS;
    let indexes = []; // [key, score, cap]; cap: null for an index that is not checked by #maintain
    if (partition.mode === 'app') {
      indexes = [[this.clientKey('app', partition.clientId), now + plan.ttlSeconds + MARGIN_SECONDS, null]];
    } else if (creating && partition.mode === 'obo') {
      // The user whose incoming token it is: signing them out everywhere drops these downstream tokens too.
      const users = plan.homeAccountIds.filter(Boolean).map((id) => [this.userKey(id), userBound, USER_INDEX_CAP]);
      indexes = [[this.clientKey('obo', partition.clientId), userBound, Infinity], ...users];
    } else if (creating) {
      indexes = allowed.map((id) => [this.userKey(id.slice('account:'.length)), userBound, USER_INDEX_CAP]);
    }
    if (indexes.length === 0) return;
    const member = partition.partitionKey;
    try {
      const sizes = await Promise.all(indexes.map(([key, score]) => this.#add(key, member, score, now, 'max', budget)));
      indexes.forEach(([key, , cap], i) => {
        const size = Number(sizes[i]);
        if (cap !== null && (size > cap || (size > PRUNE_FROM && size % PRUNE_EVERY === 0))) {
          this.#background(this.#maintain(key, size, cap));
        }
      });
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
   * or deleted. Only noted: count-updates.js sends what was noted every FLUSH_MS, never delaying or failing a write.
   */
  afterWrite(key, ttlSeconds) {
    const member = key.slice(this.prefix.length);
    const kind = kindOf(member);
    if (!key.startsWith(this.prefix) || !KINDS.includes(kind)) return;
    let update = null; // removed
    if (ttlSeconds !== null) {
      const ttl = Math.max(1, ttlSeconds);
      update = { score: this.now() + ttl, ttl };
    }
    this.countUpdates.note(this.countKey(kind), member, update);
  }

  /** Not awaited by the write, but by close(): an app that closes the cache and then its client loses no update. */
  #background(promise) {
    const settled = promise.catch(() => {}).finally(() => this.pending.delete(settled)); // the guard logs refusals
    this.pending.add(settled);
  }

  /** Resolves once the count updates noted and the index maintenance under way are done (close()). */
  async settle() {
    await Promise.all([this.countUpdates.settle(), ...this.pending]);
  }

  /**
   * The members of an index that may still exist, oldest first, PAGE at a time: [{ member, score, key }] (key: with
   * the prefix). Walks by score (and the number already seen at the last score), so members the caller prunes
   * between pages, or added meanwhile, never make it skip one that was there when it started.
   */
  async *pages(indexKey) {
    let min = this.now();
    let seenAtMin = 0;
    for (;;) {
      const page = await this.#range(indexKey, min, seenAtMin);
      if (page.length > 0) yield page;
      if (page.length < PAGE) return;
      const last = page[page.length - 1].score;
      seenAtMin = (last === min ? seenAtMin : 0) + page.filter(({ score }) => score === last).length;
      min = last;
    }
  }

  /**
   * Drops members whose partition can no longer be live (see the top of this file): `removed` were tombstoned;
   * `checked` were found missing, and only those that joined over MARGIN_SECONDS ago go. Each only while its score
   * is the one read.
   */
  async prune(indexKey, { removed = [], checked = [] }) {
    const settled = this.now() + this.absoluteSeconds; // a higher score: joined less than MARGIN_SECONDS ago
    const members = [...removed, ...checked.filter(({ score }) => score <= settled)];
    for (let i = 0; i < members.length; i += PAGE) {
      const args = members.slice(i, i + PAGE).flatMap(({ member, score }) => [member, String(score)]);
      await this.#script('ZREM', PRUNE, indexKey, args, 'index_prune');
    }
  }

  async #range(indexKey, min, offset) {
    const reply = await this.guard.run('ZRANGE', indexKey, () =>
      this.driver.zrangeByScore(indexKey, min, offset, PAGE));
    const page = [];
    for (let i = 0; i < reply.length; i += 2) {
      page.push({ member: reply[i], score: Number(reply[i + 1]), key: this.prefix + reply[i] });
    }
    return page;
  }

  /**
   * After an add left an index with `size` members: checks its oldest page. Members whose partitions are gone are
   * dropped (prune); a user index still over `cap` has its oldest partitions signed out (tombstones, as
   * signOutEverywhere does) and dropped, with one warning. Never awaited by the sign-in that triggered it.
   */
  async #maintain(indexKey, size, cap) {
    const [page = []] = await this.pages(indexKey).next().then(({ value }) => [value]);
    const settled = this.now() + this.absoluteSeconds;
    const old = page.filter(({ score }) => score <= settled);
    const exists = await Promise.all(old.map(({ key }) => this.guard.run('EXISTS', key, () => this.driver.exists(key))));
    const gone = old.filter((_, i) => Number(exists[i]) === 0);
    const over = Math.min(size - gone.length - cap, PAGE);
    const evicted = over > 0 ? page.filter((entry) => !gone.includes(entry)).slice(0, over) : [];
    if (evicted.length > 0 && this.evict) {
      if (!this.warnedCap) {
        this.warnedCap = true;
        this.logger.warn(
          `msal-redis-cache: a user has more than ${cap} partitions (sessions, account, on-behalf-of) within ` +
            'absoluteSeconds: the oldest are signed out as new ones are made. Logged once.',
        );
      }
      await Promise.all(evicted.map(({ key }) => this.evict(key)));
    }
    await this.prune(indexKey, { removed: this.evict ? evicted : [], checked: gone });
  }

  /** Partitions of each kind whose last write's TTL has not run out. */
  async counts() {
    // Every write this process made is counted, by whichever cache instance made it.
    await CountUpdates.settleAll();
    const now = this.now();
    const counts = await Promise.all(KINDS.map((kind) => {
      const key = this.countKey(kind);
      return this.guard.run('ZCOUNT', key, () => this.driver.zcount(key, now, '+inf'));
    }));
    return Object.fromEntries(KINDS.map((kind, i) => [kind, Number(counts[i])]));
  }

  #add(key, member, score, now, mode, budget = null) {
    return this.#script('ZADD', ADD, key, [member, Math.ceil(score), now, mode], 'index_add', budget);
  }

  #script(command, script, key, args, name, budget = null) {
    return this.guard.run(command, key, () => this.driver.script(script, key, args), name, budget);
  }
}

module.exports = { PartitionIndex, MARGIN_SECONDS, USER_INDEX_CAP, PAGE, KINDS, SCRIPTS: { ADD, PRUNE } };
