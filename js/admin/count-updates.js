'use strict';
// The count index updates that follow every write (<prefix>index:count:<kind>, partition-index.js), coalesced: a
// write only notes its member's new state (its expiry, or removed), and every FLUSH_MS what was noted goes as one
// pipeline per count key. A count is a gauge: what a write costs its request matters more than a count that is 50 ms
// late. One pipeline per write cost a refresh some 60-100 µs of event-loop time (bench/README.md). Python does the same
// (python/msal_redis_cache/count_updates.py) and sends the same commands (countCommands).
//
// counts() of any cache first sends what every cache of this process has noted (settleAll), so a count read after a
// write of this process includes it; close() sends its own.

const FLUSH_MS = 50;
const MAX_NOTED = 1000; // members noted before a send goes at once: no single pipeline is large

// Every CountUpdates of this process with notes not yet sent, and every send under way.
const unsent = new Set();
const underWay = new Set();

/**
 * A count key's commands for the members noted (member -> { score, ttl } while stored, null once removed: only a
 * member's last state matters, as a ZADD replaces a score and a ZREM ends a membership): their scores (the epoch second
 * their partition expires), members past their score go, and the key lives as long as its latest member (EXPIRE NX
 * gives a new key a TTL, GT only lengthens it). Plain commands, not a script: this follows every write, and a Lua call
 * costs Redis far more.
 */
function countCommands(countKey, members, now) {
  const stored = [];
  const removed = [];
  let ttl = 0;
  for (const [member, update] of members) {
    if (update === null) {
      removed.push(member);
    } else {
      stored.push(update.score, member);
      ttl = Math.max(ttl, update.ttl);
    }
  }
  const commands = [];
  if (stored.length > 0) commands.push(['ZADD', countKey, ...stored]);
  if (removed.length > 0) commands.push(['ZREM', countKey, ...removed]);
  commands.push(['ZREMRANGEBYSCORE', countKey, '-inf', `(${now}`]);
  if (ttl > 0) commands.push(['EXPIRE', countKey, ttl, 'NX'], ['EXPIRE', countKey, ttl, 'GT']);
  return commands;
}

class CountUpdates {
  /** @param {(countKey: string, members: Map<string, {score: number, ttl: number}|null>) => Promise<unknown>} send */
  constructor(send) {
    this.send = send;
    this.noted = new Map(); // countKey -> Map(member -> update)
    this.size = 0;
    this.timer = null;
  }

  note(countKey, member, update) {
    let members = this.noted.get(countKey);
    if (!members) {
      members = new Map();
      this.noted.set(countKey, members);
    }
    members.set(member, update);
    this.size += 1;
    if (this.size >= MAX_NOTED) {
      this.flush();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      unsent.add(this);
    }
  }

  /** Sends what is noted; resolves once it is sent (failures are the guard's to log: a gauge is not retried). */
  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    unsent.delete(this);
    const batch = this.noted;
    this.noted = new Map();
    this.size = 0;
    const sent = Promise.all([...batch].map(([countKey, members]) => this.send(countKey, members).catch(() => {})));
    const tracked = sent.finally(() => underWay.delete(tracked));
    underWay.add(tracked);
    return tracked;
  }

  /** Sends what this cache noted, and waits for its sends under way (close()). */
  async settle() {
    if (this.size > 0) this.flush();
    await Promise.all([...underWay]);
  }

  /** Sends what every cache of this process noted, and waits for every send under way (counts()). */
  static async settleAll() {
    for (const updates of [...unsent]) updates.flush();
    await Promise.all([...underWay]);
  }
}

module.exports = { CountUpdates, countCommands, FLUSH_MS };
