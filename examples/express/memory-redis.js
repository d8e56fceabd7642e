'use strict';
// A tiny in-process stand-in for an ioredis client, implementing only the commands msal-redis-cache and its session
// store use. It lets `npm start` run on a machine with no Redis at all. FOR DEVELOPMENT ONLY: nothing is shared
// between processes or survives a restart, so it shows none of what Redis is for (several servers, one cache).

const WARNING = [
  '',
  '*****************************************************************************************',
  '*  WARNING: no Redis. Sessions and token caches are kept in this process\'s memory,       *',
  '*  for development only. They vanish on restart and are not shared between instances.   *',
  '*  Set REDIS_URL, or install redis-server, to run the example as it is meant to run.    *',
  '*****************************************************************************************',
  '',
].join('\n');

/** A Redis glob (SCAN MATCH) as a RegExp: *, ?, [...] and backslash escapes. */
function globToRegExp(pattern) {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]);
    else if (c === '*') source += '[\\s\\S]*';
    else if (c === '?') source += '[\\s\\S]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) source += '\\[';
      else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        source += body.startsWith('^') ? `[^${body.slice(1)}]` : `[${body}]`;
        i = end;
      }
    } else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(c) {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

const { SCRIPTS, etagOf } = require('../../js/storage/partition-store');
const { SCRIPTS: INDEX_SCRIPTS } = require('../../js/admin/partition-index');

class MemoryRedis {
  /** @param {{ clock?: () => number }} [options] milliseconds since the epoch; for tests */
  constructor({ clock = Date.now } = {}) {
    this.clock = clock;
    this.entries = new Map(); // key -> { value: Buffer, expiresAt: ms or null }
    this.status = 'ready';
  }

  static get WARNING() {
    return WARNING;
  }

  async getBuffer(key) {
    const entry = this.#live(key);
    return entry ? Buffer.from(entry.value) : null;
  }

  async get(key) {
    const entry = this.#live(key);
    return entry ? entry.value.toString('utf8') : null;
  }

  /** SET key value [EX seconds]: the only form the package uses. */
  async set(key, value, ...options) {
    let expiresAt = null;
    if (options.length === 2 && String(options[0]).toUpperCase() === 'EX') {
      const seconds = Number(options[1]);
      if (!Number.isInteger(seconds) || seconds <= 0) throw new Error('ERR invalid expire time in \'set\' command');
      expiresAt = this.clock() + seconds * 1000;
    } else if (options.length !== 0) {
      throw new Error(`memory store: SET ${options.join(' ')} is not supported`);
    }
    this.entries.set(String(key), { value: Buffer.from(value), expiresAt });
    return 'OK';
  }

  async del(...keys) {
    let deleted = 0;
    for (const key of keys.flat()) if (this.#live(key) && this.entries.delete(String(key))) deleted++;
    return deleted;
  }

  async exists(...keys) {
    return keys.flat().filter((key) => this.#live(key)).length;
  }

  /** EXPIRE key seconds [NX | GT] (NX: only a key without a TTL; GT: only a later expiry, never on one without). */
  async expire(key, seconds, option) {
    const entry = this.#live(key);
    if (!entry) return 0;
    const expiresAt = this.clock() + Number(seconds) * 1000;
    const flag = option && String(option).toUpperCase();
    if (flag === 'NX' && entry.expiresAt !== null) return 0;
    if (flag === 'GT' && (entry.expiresAt === null || expiresAt <= entry.expiresAt)) return 0;
    if (Number(seconds) <= 0) this.entries.delete(String(key));
    else entry.expiresAt = expiresAt;
    return 1;
  }

  /** ZADD key score member [score member ...] */
  async zadd(key, ...pairs) {
    const set = this.#sortedSet(key, true);
    let added = 0;
    for (let i = 0; i < pairs.length; i += 2) {
      if (!set.has(String(pairs[i + 1]))) added += 1;
      set.set(String(pairs[i + 1]), Number(pairs[i]));
    }
    return added;
  }

  /** ZREMRANGEBYSCORE key -inf (max: the form the package sends. */
  async zremrangebyscore(key, min, max) {
    if (String(min) !== '-inf' || !String(max).startsWith('(')) throw new Error('memory store: only ZREMRANGEBYSCORE key -inf (max');
    const set = this.#sortedSet(key);
    let removed = 0;
    for (const [member, score] of set) {
      if (score < Number(String(max).slice(1))) {
        set.delete(member);
        removed += 1;
      }
    }
    return removed;
  }

  /** -2 for a missing key, -1 for one without expiry, else seconds left rounded as Redis does. */
  async ttl(key) {
    const entry = this.#live(key);
    if (!entry) return -2;
    if (entry.expiresAt === null) return -1;
    return Math.floor((entry.expiresAt - this.clock() + 500) / 1000);
  }

  /** -2 for a missing key, -1 for one without expiry, else milliseconds left. */
  async pttl(key) {
    const entry = this.#live(key);
    if (!entry) return -2;
    return entry.expiresAt === null ? -1 : entry.expiresAt - this.clock();
  }

  async type(key) {
    const entry = this.#live(key);
    if (!entry) return 'none';
    return entry.sortedSet ? 'zset' : 'string';
  }

  async strlen(key) {
    const entry = this.#live(key);
    return entry && !entry.sortedSet ? entry.value.length : 0;
  }

  /** GETRANGE with an inclusive end; negative offsets count from the end. */
  async getrangeBuffer(key, start, end) {
    const entry = this.#live(key);
    if (!entry) return Buffer.alloc(0);
    if (entry.sortedSet) throw new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    const { length } = entry.value;
    const from = start < 0 ? Math.max(length + start, 0) : start;
    const to = end < 0 ? length + end : Math.min(end, length - 1);
    return from > to ? Buffer.alloc(0) : Buffer.from(entry.value.subarray(from, to + 1));
  }

  /** SCAN cursor [MATCH pattern] [COUNT n]: everything in one pass. */
  async scan(cursor, ...options) {
    let pattern = '*';
    for (let i = 0; i < options.length; i += 2) {
      if (String(options[i]).toUpperCase() === 'MATCH') pattern = String(options[i + 1]);
    }
    const regexp = globToRegExp(pattern);
    return ['0', [...this.entries.keys()].filter((key) => this.#live(key) && regexp.test(key))];
  }

  /** INFO replication only: a master without replicas, so sign-outs wait for none (signOutReplicas "auto"). */
  async call(command, ...args) {
    if (String(command).toUpperCase() === 'INFO' && String(args[0]).toLowerCase() === 'replication') {
      return '# Replication\r\nrole:master\r\nconnected_slaves:0\r\n';
    }
    throw new Error(`MemoryRedis: ${command} is not supported`);
  }

  /**
   * The package's compare-and-set script (partition-store.js), by its SHA-1, done in JavaScript: this store runs no
   * Lua. Same replies as Redis gives.
   */
  async evalshaBuffer(sha, numberOfKeys, key, ...args) {
    const entry = this.#live(key);
    const value = entry ? Buffer.from(entry.value) : null;
    const inspect = (maxBytes) => {
      const etag = Buffer.from(etagOf(value));
      if (value === null) return [Buffer.from('none'), etag];
      if (value.length > Number(maxBytes)) return [Buffer.from('size'), etag, value.length];
      return [Buffer.from('value'), etag, value, entry.expiresAt === null ? -1 : entry.expiresAt - this.clock()];
    };
    if (sha !== SCRIPTS.COMPARE_AND_SET.sha) throw new Error('NOSCRIPT memory store: unknown script');
    const [expected, newValue, ttlSeconds, maxBytes] = args;
    if (String(expected) !== '*' && etagOf(value) !== String(expected)) return inspect(maxBytes);
    const replaced = Buffer.from(value ? /^mrc2 ([cst]) /.exec(value.toString('latin1', 0, 7))?.[1] ?? '' : '');
    if (newValue.length === 0) await this.del(key);
    else await this.set(key, newValue, 'EX', ttlSeconds);
    return [Buffer.from('written'), replaced];
  }

  async evalBuffer(lua, numberOfKeys, key, ...args) {
    const script = Object.values(SCRIPTS).find((known) => known.lua === lua);
    if (!script) throw new Error('memory store: EVAL of an unknown script');
    return this.evalshaBuffer(script.sha, numberOfKeys, key, ...args);
  }

  /**
   * The admin indexes' scripts (partition-index.js), done in JavaScript. ADD: adds a member to a sorted set (mode
   * "max": a member already there gets a higher score than it had), prunes members scored before now, keeps the key
   * alive as long as its latest one, and answers the set's size. PRUNE: removes each member whose score is the one
   * given.
   */
  async evalsha(sha, numberOfKeys, key, ...args) {
    const set = this.#sortedSet(key, sha === INDEX_SCRIPTS.ADD.sha);
    if (sha === INDEX_SCRIPTS.PRUNE.sha) {
      let removed = 0;
      for (let i = 0; i < args.length; i += 2) {
        if (set.has(String(args[i])) && String(set.get(String(args[i]))) === String(args[i + 1])) removed += await this.zrem(key, args[i]);
      }
      return removed;
    }
    if (sha !== INDEX_SCRIPTS.ADD.sha) throw new Error('NOSCRIPT memory store: unknown script');
    const [member, score, now, mode] = args;
    const [old, nowSeconds] = [set.get(String(member)), Number(now)];
    const newScore = mode === 'max' && old !== undefined ? Math.max(Number(score), old + 1) : Number(score);
    set.set(String(member), newScore);
    for (const [name, memberScore] of set) if (memberScore < nowSeconds) set.delete(name);
    if ((await this.ttl(key)) < newScore - nowSeconds) await this.expire(key, Math.max(1, newScore - nowSeconds));
    return set.size;
  }

  async eval(lua, numberOfKeys, key, ...args) {
    const script = Object.values(INDEX_SCRIPTS).find((known) => known.lua === lua);
    if (!script) throw new Error('memory store: EVAL of an unknown script');
    return this.evalsha(script.sha, numberOfKeys, key, ...args);
  }

  /** ZRANGE key 0 -1 WITHSCORES, or key min +inf BYSCORE LIMIT offset count WITHSCORES: the forms the package uses. */
  async zrange(key, start, stop, ...options) {
    const form = options.join(' ').toUpperCase();
    const byScore = /^BYSCORE LIMIT \d+ \d+ WITHSCORES$/.test(form) && String(stop) === '+inf';
    if (!byScore && `${start} ${stop} ${form}` !== '0 -1 WITHSCORES') {
      throw new Error('memory store: only ZRANGE key 0 -1 WITHSCORES and key min +inf BYSCORE LIMIT o n WITHSCORES');
    }
    let members = [...this.#sortedSet(key).entries()].sort(([a, x], [b, y]) => x - y || (a < b ? -1 : 1));
    if (byScore) {
      const [offset, count] = [Number(options[2]), Number(options[3])];
      members = members.filter(([, score]) => score >= Number(start)).slice(offset, offset + count);
    }
    return members.flatMap(([member, score]) => [member, String(score)]);
  }

  async zcount(key, min, max) {
    const [low, high] = [Number(min), max === '+inf' ? Infinity : Number(max)];
    return [...this.#sortedSet(key).values()].filter((score) => score >= low && score <= high).length;
  }

  async zrem(key, ...members) {
    const set = this.#sortedSet(key);
    const removed = members.filter((member) => set.delete(String(member))).length;
    if (set.size === 0) this.entries.delete(String(key)); // as Redis: an empty sorted set is no key
    return removed;
  }

  /** A pipeline (ioredis's builder, or its [[name, ...args], ...] form): in this process, as a transaction. */
  pipeline(commands = []) {
    const pipeline = this.multi();
    for (const [name, ...args] of commands) pipeline[name](...args);
    return pipeline;
  }

  /** MULTI: queues commands of this client and runs them together; exec() gives ioredis's [[err, result], ...]. */
  multi() {
    const queued = [];
    const transaction = {
      exec: async () => {
        const results = [];
        for (const [name, args] of queued) {
          try {
            results.push([null, await this[name](...args)]);
          } catch (err) {
            results.push([err, null]);
          }
        }
        return results;
      },
    };
    for (const name of ['getBuffer', 'get', 'set', 'del', 'exists', 'expire', 'ttl', 'pttl', 'getrangeBuffer', 'zadd', 'zrem', 'zremrangebyscore']) {
      transaction[name] = (...args) => {
        queued.push([name, args]);
        return transaction;
      };
    }
    return transaction;
  }

  async ping() {
    return 'PONG';
  }

  async quit() {
    this.status = 'end';
    return 'OK';
  }

  disconnect() {
    this.status = 'end';
  }

  /** The sorted set at `key` (empty when there is none; created with `create`); WRONGTYPE at a string. */
  #sortedSet(key, create = false) {
    let entry = this.#live(key);
    if (entry && !entry.sortedSet) throw new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    if (!entry && create) this.entries.set(String(key), (entry = { sortedSet: new Map(), expiresAt: null }));
    return entry ? entry.sortedSet : new Map();
  }

  #live(key) {
    const entry = this.entries.get(String(key));
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= this.clock()) {
      this.entries.delete(String(key));
      return null;
    }
    return entry;
  }
}

module.exports = { MemoryRedis, globToRegExp };
