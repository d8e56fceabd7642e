'use strict';
// Keeps the in-process cache coherent with Redis through server-assisted client-side caching: one dedicated
// connection turns on `CLIENT TRACKING ... REDIRECT <itself> BCAST PREFIX <prefix>session: PREFIX <prefix>account: ...`
// and subscribes to `__redis__:invalidate`, so Redis tells it about every change (write, delete, expiry) of a partition,
// whoever made it. RESP2 on purpose: ioredis 6 and node-redis 6 speak RESP3 by default and ioredis drops invalidation
// pushes, while RESP2 delivers them as ordinary pub/sub messages on every client (the driver opens the connection).
//
// Whenever the connection is not tracking (connecting, reconnecting, down), the cache is suspended; after every
// reconnect (the client id changes) tracking is turned on again before the cache resumes. It connects on first use,
// and neither its socket nor its reconnect timer keeps a process alive. On a Redis Cluster (one tracking connection per master would be needed) there
// is no listener, and so no in-process cache: every read goes to Redis, which stays correct.

const { PARTITION_KEY_KINDS } = require('../msal/partitions');

const CHANNEL = '__redis__:invalidate';

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2000;

class InvalidationListener {
  /**
   * @param {object} driver the app client's driver (js/redis/driver.js), which opens the listener's own connection
   * @param {{ prefix: string, localCache: import('./local-cache').LocalCache, logger: { warn(m: string): void },
   *   onTracking?: () => void }} options onTracking: called each time tracking is on (again)
   */
  constructor(driver, { prefix, localCache, logger, onTracking = () => {} }) {
    this.driver = driver;
    this.onTracking = onTracking;
    this.prefix = prefix;
    this.localCache = localCache;
    this.logger = logger;
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
    let connection;
    try {
      connection = this.driver.trackingConnection({
        ready: () => this.#track(connection),
        close: () => this.localCache.suspend(),
        end: () => this.#reconnectLater(connection),
        error: (err) => this.#warn(`the invalidation connection failed (${err.message})`),
        message: (channel, message) => this.#onMessage(channel, message),
      });
    } catch (err) {
      // The client refused to make one (options it cannot duplicate): no in-process cache, reads go to Redis.
      this.#warn(`cannot open the invalidation connection (${err.message}); the in-process cache stays off`);
      return;
    }
    this.connection = connection;
    connection.connect().catch(() => {}); // a failure also ends the connection: see #reconnectLater
  }

  async close() {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.localCache.suspend();
    if (this.connection) this.connection.disconnect();
  }

  #reconnectLater(connection) {
    this.localCache.suspend();
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
      const id = await connection.command('CLIENT', 'ID');
      // Partition keys only: the index keys beside them change on writes too, and nobody caches them.
      const prefixes = PARTITION_KEY_KINDS.flatMap((kind) => ['PREFIX', `${this.prefix}${kind}:`]);
      await connection.command('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...prefixes);
      await connection.subscribe(CHANNEL);
      if (this.closed || this.connection !== connection) return;
      this.warnedSinceReady = false;
      this.reconnectDelay = RECONNECT_MIN_MS;
      this.localCache.resume();
      this.onTracking();
    } catch (err) {
      this.#warn(`cannot turn on invalidation tracking (${err.message}); the in-process cache stays off until it can`);
      connection.disconnect(); // and try again later (an ACL or a Redis without tracking: each time, quietly)
    }
  }

  #onMessage(channel, message) {
    if (channel.toString() !== CHANNEL) return;
    if (message === null) {
      this.localCache.flush(); // FLUSHALL / FLUSHDB
      return;
    }
    for (const key of Array.isArray(message) ? message : [message]) this.localCache.invalidate(key.toString());
  }

  #warn(message) {
    if (this.warnedSinceReady || this.closed) return;
    this.warnedSinceReady = true;
    this.logger.warn(`msal-redis-cache: ${message}; reads go to Redis meanwhile.`);
  }
}

module.exports = { InvalidationListener };
