'use strict';
// The driver of an ioredis client (5 or 6, or its fork iovalkey): new Redis(...), new Redis.Cluster(...), or a
// Sentinel client (new Redis({ sentinels, name })), which is a standalone client connected to the current master.
// See driver.js for the interface.

const { withScriptFallback, connectedReplicas } = require('./driver');
const { slotOf } = require('./slot');

/** The replies of an ioredis pipeline or transaction ([[err, reply], ...]); the first refusal is thrown. */
function repliesOf(results) {
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
  return results.map(([, reply]) => reply);
}

class IoredisDriver {
  constructor(redis) {
    this.redis = redis;
    this.kind = 'ioredis';
    this.topology = redis.isCluster ? 'cluster' : (redis.options && redis.options.sentinels ? 'sentinel' : 'standalone');
    // ioredis adds keyPrefix to the keys of every command, but not to SCAN's MATCH (see scan.js).
    this.keyPrefix = (redis.options && redis.options.keyPrefix) || '';
    // A Cluster client whose reads may go to replicas (scaleReads other than 'master') would send a partition read
    // (read-only commands) to one: its copy can be older than a sign-out the master acknowledged, or than an
    // invalidation this process already received. Partition reads then go in a transaction, which ioredis always
    // sends to the master.
    this.replicaReads = redis.isCluster && Boolean(redis.options && redis.options.scaleReads) && redis.options.scaleReads !== 'master';
    this.canTrack = typeof redis.duplicate === 'function';
    this.view = null; // a Cluster's masters and slot map as the client sees them (clusterView), until it changes
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

  async getRangeAndPttl(key, end, { withPttl = true } = {}) {
    // Without the TTL one command: no pipeline object (a transaction when reads may go to replicas, as below).
    if (!withPttl && !this.replicaReads) return [await this.redis.getrangeBuffer(key, 0, end), null];
    // One write with both commands (on a Cluster, to the key's master); the first refusal (WRONGTYPE) is thrown.
    const batch = this.replicaReads ? this.redis.multi() : this.redis.pipeline();
    const [value, pttl] = repliesOf(await batch.getrangeBuffer(key, 0, end).pttl(key).exec());
    return [value, Number(pttl)];
  }

  type(key) { return this.redis.type(key); }

  async pipeline(key, commands) {
    return repliesOf(await this.redis.pipeline(commands.map(([name, ...args]) => [name.toLowerCase(), ...args])).exec());
  }

  async strlen(key) { return Number(await this.redis.strlen(key)); }

  del(key) { return this.redis.del(key); }

  exists(key) { return this.redis.exists(key); }

  async ttl(key) { return Number(await this.redis.ttl(key)); }

  async zcount(key, min, max) { return Number(await this.redis.zcount(key, min, max)); }

  zrangeByScore(key, min, offset, count) {
    return this.redis.zrange(key, min, '+inf', 'BYSCORE', 'LIMIT', offset, count, 'WITHSCORES');
  }

  async transaction(commands) {
    const transaction = this.redis.multi();
    for (const [name, ...args] of commands) transaction[name.toLowerCase()](...args);
    // EXECABORT says only that a queued command was refused; the refusal (NOPERM, ...) is what to report.
    return repliesOf(await transaction.exec().catch((err) => {
      throw (err.previousErrors && err.previousErrors[0]) || err;
    }));
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

  // ---- a Cluster's masters, for the in-process cache's listeners (js/local-cache/cluster-tracker.js) ----

  /**
   * { version, masters }: the ids (host:port) of the masters that own slots (and of those the client holds as
   * masters), and a string that changes whenever one of them or any slot's owner does. Recomputed only after the
   * client said something changed (+node, -node, refresh) or when the tracker's periodic check asks (fresh).
   */
  clusterView({ fresh = false } = {}) {
    if (this.view && !fresh) return this.view;
    const { redis } = this;
    const owners = [];
    let last = null;
    for (let slot = 0; slot < 16384; slot++) {
      const nodes = redis.slots[slot];
      const owner = nodes && nodes[0] ? nodes[0] : '';
      if (owner !== last) owners.push(`${slot}=${owner}`);
      last = owner;
    }
    const masters = new Set(owners.map((range) => range.slice(range.indexOf('=') + 1)).filter(Boolean));
    for (const node of redis.nodes('master')) masters.add(nodeId(node));
    const version = `${[...masters].sort().join(',')}|${owners.join(',')}`;
    // covered: every slot has an owner (a client that has not read the slot map yet has none).
    const covered = !owners.some((range) => range.endsWith('='));
    this.view = this.view && this.view.version === version ? this.view : { version, masters: [...masters].sort(), covered };
    return this.view;
  }

  /** Calls `listener` when the client's view of the Cluster may have changed; returns the unsubscribe function. */
  onTopologyChange(listener) {
    const { redis } = this;
    const changed = () => {
      this.view = null;
      listener();
    };
    for (const event of ['+node', '-node', 'refresh']) redis.on(event, changed);
    return () => { for (const event of ['+node', '-node', 'refresh']) redis.removeListener(event, changed); };
  }

  /** The role a Cluster node says it has ('master', 'slave'), asked through the client's own connection to it. */
  async nodeRole(id) {
    const node = this.redis.nodes('all').find((candidate) => nodeId(candidate) === id);
    if (!node) return null;
    const info = String(await node.call('INFO', 'replication'));
    const role = /^role:(\w+)/m.exec(info);
    return role ? role[1] : null;
  }

  /** Makes the client read the slot map again (it also does so every slotsRefreshInterval, and after a MOVED). */
  refreshTopology() {
    this.view = null;
    if (typeof this.redis.refreshSlotsCache === 'function') this.redis.refreshSlotsCache(() => {});
  }

  trackingConnection(handlers, node) {
    // On a Cluster, a duplicate of the client's own connection to that master (its options, its address after natMap).
    let source = this.redis;
    if (node !== undefined) {
      source = this.redis.nodes('all').find((candidate) => nodeId(candidate) === node);
      if (!source) throw new Error(`the client no longer knows the Cluster node ${node}`);
    }
    // ioredis's own reconnect timers would keep the process alive: the listener reconnects itself, on unref'd timers.
    const connection = source.duplicate({
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

/** A Cluster node's id as the client keys it: host:port. */
const nodeId = (node) => `${node.options.host}:${node.options.port}`;
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
