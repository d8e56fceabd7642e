'use strict';
// Keeps the in-process cache coherent with Redis through server-assisted client-side caching: one dedicated
// connection turns on `CLIENT TRACKING ... REDIRECT <itself> BCAST PREFIX <prefix>session: PREFIX <prefix>account: ...`
// and subscribes to `__redis__:invalidate`, so Redis tells it about every change (write, delete, expiry) of a partition,
// whoever made it. RESP2 on purpose: ioredis 6 speaks RESP3 by default and drops invalidation pushes, while RESP2
// delivers them as ordinary pub/sub messages on ioredis 5 and 6 alike.
//
// Whenever the connection is not tracking (connecting, reconnecting, down), the cache is suspended; after every
// reconnect (the client id changes) tracking is turned on again before the cache resumes. It connects on first use,
// and neither its socket nor its reconnect timer keeps a process alive. On a Redis Cluster (one tracking connection per master would be needed) there
// is no listener, and so no in-process cache: every read goes to Redis, which stays correct.

const { PARTITION_KEY_KINDS } = require('./partitions');

const CHANNEL = '__redis__:invalidate';

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2000;

class InvalidationListener {
  /**
   * @param {import('ioredis').Redis} redis the app's client, duplicated for the listener's own connection
   * @param {{ prefix: string, localCache: import('./local-cache').LocalCache, logger: { warn(m: string): void },
   *   onTracking?: () => void }} options onTracking: called each time tracking is on (again)
   */
  constructor(redis, { prefix, localCache, logger, onTracking = () => {} }) {
    this.redis = redis;
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
    // ioredis's own reconnect timers would keep the process alive: this class reconnects itself, on unref'd timers.
    const connection = this.redis.duplicate({
      protocol: 2, // ioredis 6 (ignored by ioredis 5, which speaks RESP2 only)
      replyMapping: 'legacy', // ioredis 6: an app's 'resp3' mapping would not parse on RESP2
      autoResubscribe: false, // tracking must be on before subscribing again: done in #track()
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    this.connection = connection;
    connection.on('connect', () => connection.stream && connection.stream.unref && connection.stream.unref());
    connection.on('ready', () => this.#track(connection));
    connection.on('close', () => this.localCache.suspend());
    connection.on('end', () => this.#reconnectLater(connection));
    connection.on('error', (err) => this.#warn(`the invalidation connection failed (${err.message})`));
    connection.on('messageBuffer', (channel, message) => this.#onMessage(channel, message));
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
      const id = await connection.client('ID');
      // Partition keys only: the index keys beside them change on writes too, and nobody caches them.
      const prefixes = PARTITION_KEY_KINDS.flatMap((kind) => ['PREFIX', `${this.prefix}${kind}:`]);
      await connection.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...prefixes);
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
