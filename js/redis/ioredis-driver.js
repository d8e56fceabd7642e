'use strict';
// The driver of an ioredis client (5 or 6, or its fork iovalkey): new Redis(...), new Redis.Cluster(...), or a
// Sentinel client (new Redis({ sentinels, name })), which is a standalone client connected to the current master.
// See driver.js for the interface.

const { withScriptFallback, connectedReplicas } = require('./driver');
const { slotOf } = require('./slot');

class IoredisDriver {
  constructor(redis) {
    this.redis = redis;
    this.kind = 'ioredis';
    this.topology = redis.isCluster ? 'cluster' : (redis.options && redis.options.sentinels ? 'sentinel' : 'standalone');
    // ioredis adds keyPrefix to the keys of every command, but not to SCAN's MATCH (see scan.js).
    this.keyPrefix = (redis.options && redis.options.keyPrefix) || '';
    // One tracking connection follows one server: a Cluster would need one per master (not done).
    this.canTrack = typeof redis.duplicate === 'function' && !redis.isCluster;
    this.canWaitForReplicas = true;
  }

  script({ lua, sha }, key, args, { buffers = false } = {}) {
    const { redis } = this;
    return buffers
      ? withScriptFallback(() => redis.evalshaBuffer(sha, 1, key, ...args), () => redis.evalBuffer(lua, 1, key, ...args))
      : withScriptFallback(() => redis.evalsha(sha, 1, key, ...args), () => redis.eval(lua, 1, key, ...args));
  }

  get(key) { return this.redis.get(key); }

  getBuffer(key) { return this.redis.getBuffer(key); }

  getRange(key, start, end) { return this.redis.getrangeBuffer(key, start, end); }

  async getRangeAndPttl(key, end) {
    // One write with both commands (on a Cluster, to the key's node); the first refusal (WRONGTYPE) is thrown.
    const [[rangeError, value], [pttlError, pttl]] = await this.redis.pipeline().getrangeBuffer(key, 0, end).pttl(key).exec();
    if (rangeError || pttlError) throw rangeError || pttlError;
    return [value, Number(pttl)];
  }

  type(key) { return this.redis.type(key); }

  async pipeline(key, commands) {
    const results = await this.redis.pipeline(commands.map(([name, ...args]) => [name.toLowerCase(), ...args])).exec();
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    return results.map(([, result]) => result);
  }

  async strlen(key) { return Number(await this.redis.strlen(key)); }

  del(key) { return this.redis.del(key); }

  exists(key) { return this.redis.exists(key); }

  async ttl(key) { return Number(await this.redis.ttl(key)); }

  zrem(key, member) { return this.redis.zrem(key, member); }

  async zcount(key, min, max) { return Number(await this.redis.zcount(key, min, max)); }

  zrangeByScore(key, min, offset, count) {
    return this.redis.zrange(key, min, '+inf', 'BYSCORE', 'LIMIT', offset, count, 'WITHSCORES');
  }

  async transaction(commands) {
    const transaction = this.redis.multi();
    for (const [name, ...args] of commands) transaction[name.toLowerCase()](...args);
    // EXECABORT says only that a queued command was refused; the refusal (NOPERM, ...) is what to report.
    const results = await transaction.exec().catch((err) => {
      throw (err.previousErrors && err.previousErrors[0]) || err;
    });
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    return results.map(([, result]) => result);
  }

  async scanNodes(guardedPing) {
    const { redis } = this;
    const scanner = (node) => ({ scan: (cursor, match, count, typeArgs) => node.scan(cursor, 'MATCH', match, 'COUNT', count, ...typeArgs) });
    if (!redis.isCluster) return [scanner(redis)];
    // Until the Cluster client is ready it has not read the slot map, and nodes('master') lists the startup nodes,
    // or none. Any command waits for ready (or fails like any other call).
    if (redis.status !== 'ready') await guardedPing(() => redis.ping());
    return redis.nodes('master').map(scanner);
  }

  ping() { return this.redis.ping(); }

  /**
   * The connection a write of `key` goes through (see driver.js). WAIT counts the replicas that acknowledged every
   * write of the connection it is sent on, so it must go where the write went: the client's one connection
   * (standalone, Sentinel: ioredis multiplexes every command on it), or on a Cluster the connection of the node that
   * owns the key's slot (the node the Cluster client sends the key's commands to; WAIT has no key to route by).
   * token() is that connection's socket: if it differs after the WAIT from before the write, ioredis reconnected in
   * between (and may have resent the WAIT to a new master, whose answer would say nothing about the write).
   */
  async writeConnection(key, guardedPing) {
    const { redis } = this;
    if (redis.status !== 'ready') await guardedPing(() => redis.ping()); // a Cluster's slot map; a first connection
    if (!redis.isCluster) return ioredisConnection('', redis, () => true);
    const slot = slotOf(this.keyPrefix + key);
    const owner = () => redis.slots[slot] && redis.slots[slot][0];
    const nodeKey = owner();
    const node = nodeKey && redis.connectionPool.getInstanceByKey(nodeKey);
    if (!node) return null;
    return ioredisConnection(nodeKey, node, () => owner() === nodeKey && redis.connectionPool.getInstanceByKey(nodeKey) === node);
  }

  trackingConnection(handlers) {
    // ioredis's own reconnect timers would keep the process alive: the listener reconnects itself, on unref'd timers.
    const connection = this.redis.duplicate({
      protocol: 2, // ioredis 6 (ignored by ioredis 5, which speaks RESP2 only): RESP3 drops invalidation pushes
      replyMapping: 'legacy', // ioredis 6: an app's 'resp3' mapping would not parse on RESP2
      // ioredis 6.1's Smart Client Handoff swaps a socket with no ready/close event, which would lose the server-side
      // tracking state unseen. It needs RESP3 maintenance pushes and skips subscriber connections, so it cannot
      // happen here; disabled all the same ('disabled' is ignored by ioredis 5).
      maintNotifications: 'disabled',
      autoResubscribe: false, // tracking must be on before subscribing again: the listener does both on ready
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    connection.on('connect', () => connection.stream && connection.stream.unref && connection.stream.unref());
    connection.on('ready', () => handlers.ready());
    connection.on('close', () => handlers.close());
    connection.on('end', () => handlers.end());
    connection.on('error', (err) => handlers.error(err));
    connection.on('messageBuffer', (channel, message) => handlers.message(channel, message));
    return {
      connect: () => connection.connect(),
      command: (...args) => connection.call(...args),
      subscribe: (channel) => connection.subscribe(channel),
      disconnect: () => connection.disconnect(),
    };
  }
}

/** A connection of writeConnection(): node is an ioredis Redis instance; current() says it still owns the key. */
function ioredisConnection(id, node, current) {
  return {
    id,
    token: () => (current() && node.status === 'ready' && node.stream) || null,
    wait: async (replicas, timeoutMs) => Number(await node.call('WAIT', replicas, timeoutMs)),
    replicas: async () => connectedReplicas(String(await node.call('INFO', 'replication'))),
  };
}

module.exports = IoredisDriver;
