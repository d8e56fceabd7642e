'use strict';
// Keeps the in-process cache coherent with one Redis server through server-assisted client-side caching: one
// dedicated connection turns on `CLIENT TRACKING ... REDIRECT <itself> BCAST PREFIX <prefix>session: PREFIX
// <prefix>account: ...` and subscribes to `__redis__:invalidate`, so Redis tells it about every change (write, delete,
// expiry) of a partition on that server, whoever made it. RESP2 on purpose: ioredis 6 and node-redis 6 speak RESP3 by
// default and ioredis drops invalidation pushes, while RESP2 delivers them as ordinary pub/sub messages on every
// client (the driver opens the connection).
//
// Whenever the connection is not tracking (connecting, reconnecting, down), it tells its sink (down()); after every
// reconnect (the client id changes) tracking is turned on again before it says tracking() again. It connects on first
// use, and neither its socket nor its reconnect timer keeps a process alive.
//
// The sink is the LocalCache itself on a standalone server or a Sentinel master (trackerSink below), or, on a Redis
// Cluster, cluster-tracker.js, which runs one listener per master and keeps the cache suspended until all of them
// track.

const { PARTITION_KEY_KINDS } = require('../msal/partitions');

const CHANNEL = '__redis__:invalidate';

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2000;

/** The sink of a single listener: the cache itself (suspended while down, flushed and resumed once tracking). */
const trackerSink = (localCache, onTracking = () => {}) => ({
  down: () => localCache.suspend(),
  tracking: () => {
    localCache.resume();
    onTracking();
  },
  invalidate: (key) => localCache.invalidate(key),
  flush: () => localCache.flush(),
});

class InvalidationListener {
  /**
   * @param {(handlers: object) => object} open opens the connection (a driver's trackingConnection, see
   *   js/redis/driver.js); may throw (then it is retried later)
   * @param {{ prefix: string, sink: { down(): void, tracking(): void, invalidate(key: string): void, flush(): void },
   *   logger: { warn(m: string): void }, requireMaster?: boolean, name?: string }} options requireMaster: check
   *   (INFO replication) that the server is a master before tracking on it: a replica reports writes only as it
   *   replicates them, late, and none while its link to the master is down or before its first sync
   */
  constructor(open, { prefix, sink, logger, requireMaster = false, name = '' }) {
    this.open = open;
    this.prefix = prefix;
    this.sink = sink;
    this.logger = logger;
    this.requireMaster = requireMaster;
    this.name = name;
    this.tracking = false;
    this.warnedSinceReady = false;
    this.connection = null;
    this.reconnectDelay = RECONNECT_MIN_MS;
    this.reconnectTimer = null;
    this.closed = false;
  }

  /** Connects on first use: a token cache that is never read opens nothing. */
  start() {
    if (this.connection || this.reconnectTimer || this.closed) return; // connected, connecting, or waiting to retry
    // The driver's connection does not reconnect by itself: this class does, on unref'd timers, and re-enables
    // tracking each time (see the top of this file).
    const ref = {};
    const handlers = {
      ready: () => this.#track(ref.connection),
      close: () => this.#down(),
      end: () => this.#reconnectLater(ref.connection),
      error: (err) => this.#warn(`the invalidation connection${this.name} failed (${err.message})`),
      message: (channel, message) => this.#onMessage(channel, message),
    };
    try {
      ref.connection = this.open(handlers);
    } catch (err) {
      // The client cannot make one now (options it cannot duplicate, a Cluster node it no longer knows): try again.
      this.#warn(`cannot open the invalidation connection${this.name} (${err.message})`);
      this.#reconnectLater(null);
      return;
    }
    this.connection = ref.connection;
    ref.connection.connect().catch(() => {}); // a failure also ends the connection: see #reconnectLater
  }

  async close() {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.#down();
    if (this.connection) this.connection.disconnect();
  }

  #down() {
    this.tracking = false;
    this.sink.down();
  }

  #reconnectLater(connection) {
    this.#down();
    if (this.closed || this.connection !== connection) return;
    this.connection = null;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.start();
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
  }

  async #track(connection) {
    try {
      if (this.requireMaster) {
        const info = String(await connection.command('INFO', 'replication'));
        if (!/^role:master\r?$/m.test(info)) throw new Error('the server is not a master (any more)');
      }
      const id = await connection.command('CLIENT', 'ID');
      // Partition keys only: the index keys beside them change on writes too, and nobody caches them.
      const prefixes = PARTITION_KEY_KINDS.flatMap((kind) => ['PREFIX', `${this.prefix}${kind}:`]);
      await connection.command('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...prefixes);
      await connection.subscribe(CHANNEL);
      if (this.closed || this.connection !== connection) return;
      this.warnedSinceReady = false;
      this.reconnectDelay = RECONNECT_MIN_MS;
      this.tracking = true;
      this.sink.tracking();
    } catch (err) {
      this.#warn(`cannot turn on invalidation tracking${this.name} (${err.message}); the in-process cache stays off until it can`);
      connection.disconnect(); // and try again later (an ACL or a Redis without tracking: each time, quietly)
    }
  }

  // Even from a connection being replaced: an invalidation only ever removes.
  #onMessage(channel, message) {
    if (channel.toString() !== CHANNEL) return;
    if (message === null) {
      this.sink.flush(); // FLUSHALL / FLUSHDB
      return;
    }
    for (const key of Array.isArray(message) ? message : [message]) this.sink.invalidate(key.toString());
  }

  #warn(message) {
    if (this.warnedSinceReady || this.closed) return;
    this.warnedSinceReady = true;
    this.logger.warn(`msal-redis-cache: ${message}; reads go to Redis meanwhile.`);
  }
}

module.exports = { InvalidationListener, trackerSink };
