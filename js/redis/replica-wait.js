'use strict';
// A sign-out must survive a failover. Redis replicates asynchronously: a tombstone the master acknowledged but had
// not yet sent to a replica is lost if that master dies and the replica is promoted, and the partition it removed
// comes back. So where the deployment has replicas, a tombstone is acknowledged only once WAIT says that at least
// `replicas` of them hold it, within `timeoutMs`; otherwise the sign-out fails closed (a CacheStoreError: the
// tombstone is written on the master, but nobody is told they are signed out until a replica has it too).
//
//   - WAIT counts the replicas that acknowledged every write *of the connection it runs on*, so it runs on the
//     connection the tombstone's write went through (the driver's writeConnection; the writer sends the tombstone
//     through it, for a client that would pick one of several itself), and the answer counts only if
//     that connection did not change between the write and the WAIT's reply (a reconnect to a new master would
//     answer at once for writes it never saw).
//   - WAIT blocks its connection until it returns, and the app's other commands share that connection (both clients
//     multiplex). Concurrent sign-outs therefore share WAITs: at most one in flight per connection, and the sign-outs
//     that finished their write meanwhile join the next one (one WAIT covers every earlier write of its connection).
//     A sign-out waits at most two WAITs, and the app's other commands at most one, `timeoutMs` each at worst.
//   - replicas "auto": wait for one replica when the master says it has one (INFO replication, re-read every
//     AUTO_REFRESH_MS and after a WAIT fell short), none when it has none (a standalone Redis: no cost at all).
//
// Fewer replicas than asked is not a Redis failure (Redis answered): the circuit breaker is not touched.

const { CacheStoreError } = require('../errors');

const AUTO_REFRESH_MS = 5000;

class ReplicaWait {
  /**
   * @param {{ driver: object, guard: import('./guard').RedisGuard, clock: () => number,
   *   signOutReplicas: false | { replicas: 'auto' | number, timeoutMs: number } }} context
   */
  constructor({ driver, guard, clock, signOutReplicas }) {
    this.driver = driver;
    this.guard = guard;
    this.clock = clock;
    this.policy = signOutReplicas;
    this.connections = new Map(); // connection id -> { inFlight, next, replicas, replicasAt }
    this.stats = { waits: 0, confirmed: 0, shortfalls: 0, skipped: 0 };
  }

  /** Whether tombstones wait at all (false: signOutReplicas false). */
  get enabled() {
    return Boolean(this.policy);
  }

  /** Before a tombstone's write: the connection it goes through (null when sign-outs do not wait). */
  async before(key) {
    if (!this.enabled) return null;
    const connection = await this.driver.writeConnection(key, (ping) => this.guard.run('PING', key, ping));
    if (!connection) {
      throw new CacheStoreError(
        `sign-out of "${key}" not written: the Redis Cluster client has no connection to the key's master now (a failover?)`,
      );
    }
    return { connection, token: connection.token() };
  }

  /**
   * After the tombstone's write (`ticket` from before()): resolves once enough replicas hold it; otherwise throws a
   * CacheStoreError saying that the tombstone is on the master only.
   */
  async confirm(ticket, key) {
    if (!ticket) return;
    const { connection, token } = ticket;
    const state = this.#state(connection.id);
    const wanted = await this.#wanted(state, connection, key);
    const unconfirmed = (why) => {
      this.stats.shortfalls++;
      state.replicasAt = 0; // "auto": ask the master again next time (a replica may have gone)
      return new CacheStoreError(
        `sign-out of "${key}" not confirmed: ${why}. The tombstone is written on the Redis master, but a failover now ` +
          'could lose it and bring the partition back, so the sign-out is not reported done; try it again ' +
          '(signOutReplicas)',
      );
    };
    if (wanted === 0) {
      // No replica to wait for, as long as the master that said so is the one that took the write (after a Sentinel
      // failover the new master has none: the write may have gone to the old one).
      if (connection.token() !== token) {
        throw unconfirmed('the connection to Redis changed between the write and the count of its replicas');
      }
      this.stats.skipped++;
      return;
    }
    if (token === null) throw unconfirmed('the connection to Redis was down when the sign-out was written');
    const result = await this.#wait(state, connection, wanted, key);
    if (result.before !== token || result.after !== token) {
      throw unconfirmed('the connection to Redis changed between the write and WAIT (a reconnect, or a failover)');
    }
    if (result.acked < wanted) {
      throw unconfirmed(`${result.acked} of ${wanted} replica(s) acknowledged it within ${this.policy.timeoutMs} ms`);
    }
    this.stats.confirmed++;
  }

  #state(id) {
    let state = this.connections.get(id);
    if (!state) {
      state = { inFlight: null, next: null, replicas: 0, replicasAt: 0 };
      this.connections.set(id, state);
    }
    return state;
  }

  /** How many replicas this tombstone waits for: the policy's number, or for "auto" 1 when the master has any. */
  async #wanted(state, connection, key) {
    const { replicas } = this.policy;
    if (replicas !== 'auto') return replicas;
    if (this.clock() - state.replicasAt >= AUTO_REFRESH_MS) {
      state.replicas = await this.guard.run('INFO', key, () => connection.replicas());
      state.replicasAt = this.clock();
    }
    return state.replicas > 0 ? 1 : 0;
  }

  /**
   * A WAIT on `connection` that covers a write already answered: the one in flight does not (it may have been sent
   * before that write), so the next one, shared by every sign-out that arrives while this one runs.
   */
  #wait(state, connection, wanted, key) {
    if (!state.inFlight) return this.#send(state, connection, wanted, key);
    if (!state.next) {
      const next = { wanted };
      next.result = state.inFlight.catch(() => {}).then(() => {
        state.next = null;
        return this.#send(state, connection, next.wanted, key);
      });
      state.next = next;
    }
    state.next.wanted = Math.max(state.next.wanted, wanted);
    return state.next.result;
  }

  #send(state, connection, wanted, key) {
    this.stats.waits++;
    const { timeoutMs } = this.policy;
    const sent = (async () => {
      const before = connection.token();
      const acked = await this.guard.run('WAIT', key, () => connection.wait(wanted, timeoutMs));
      return { acked, before, after: connection.token() };
    })();
    state.inFlight = sent;
    sent.catch(() => {}).then(() => {
      if (state.inFlight === sent) state.inFlight = null;
    });
    return sent;
  }
}

module.exports = { ReplicaWait };
