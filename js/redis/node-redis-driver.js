'use strict';
// The driver of a node-redis client (`redis` 5 or 6): createClient(), createCluster() or createSentinel(). The app
// connects it (await client.connect()) before handing it over. See driver.js for the interface.
//
// Every command goes through sendCommand with the arguments as Redis reads them, so node-redis's own command
// transforms never apply, and with an explicit type mapping: bulk strings as Buffers where the package wants bytes,
// and no mapping at all otherwise (an app's client-wide typeMapping must not change what the package reads). Raw
// replies are RESP3 when the client speaks RESP3 (6's default): integers and doubles arrive as numbers, WITHSCORES
// as pairs; the methods below return the same shapes as the ioredis driver.

const { withScriptFallback, connectedReplicas } = require('./driver');
const { slotOf } = require('./slot');

const BLOB_STRING = 36; // RESP_TYPES.BLOB_STRING ('$'), the same in node-redis 5 and 6
const SIMPLE_STRING = 43; // RESP_TYPES.SIMPLE_STRING ('+')
const AS_BUFFERS = { typeMapping: { [BLOB_STRING]: Buffer, [SIMPLE_STRING]: Buffer } };
const AS_RECEIVED = { typeMapping: {} };

/** Arguments as sendCommand takes them: Buffers kept as they are (sealed values are bytes), the rest as strings. */
const commandArgs = (args) => args.map((arg) => (Buffer.isBuffer(arg) ? arg : String(arg)));

const topologyOf = (redis) => {
  if (typeof redis.nodeClient === 'function' && 'masters' in redis) return 'cluster';
  if (typeof redis.getMasterNode === 'function') return 'sentinel';
  return 'standalone';
};

class NodeRedisDriver {
  constructor(redis) {
    this.redis = redis;
    this.kind = 'node-redis';
    this.topology = topologyOf(redis);
    this.keyPrefix = ''; // refused by driver.js checkRedisClient: raw commands would not get it
    // A tracking connection is a RESP2 duplicate of a single-node client: the app's (standalone), its client of one
    // master (Cluster), or its current master client (Sentinel).
    this.canTrack = true;
    this.view = null; // a Cluster's masters and slot map as the client sees them (clusterView)
    this.viewOf = null; // the client's slot array that view was read from (replaced on every rediscovery)
  }

  /** One command; `key` routes it on a Cluster (undefined: any node); readonly lets a Sentinel use a replica. */
  #send(key, args, options = AS_RECEIVED) {
    const { redis } = this;
    const strings = commandArgs(args);
    if (this.topology === 'cluster') return redis.sendCommand(key, false, strings, options);
    if (this.topology === 'sentinel') return redis.sendCommand(false, strings, options);
    return redis.sendCommand(strings, options);
  }

  script({ lua, sha }, key, args, { buffers = false, via = null } = {}) {
    const options = buffers ? AS_BUFFERS : AS_RECEIVED;
    // via.send: a Sentinel's master client that writeConnection() chose (its pool would pick one by itself).
    const send = via && via.send ? (command) => via.send(commandArgs(command), options) : (command) => this.#send(key, command, options);
    return withScriptFallback(
      () => send(['EVALSHA', sha, 1, key, ...args]),
      () => send(['EVAL', lua, 1, key, ...args]),
    );
  }

  get(key) { return this.#send(key, ['GET', key]); }

  getBuffer(key) { return this.#send(key, ['GET', key], AS_BUFFERS); }

  getRange(key, start, end) { return this.#send(key, ['GETRANGE', key, start, end], AS_BUFFERS); }

  async getRangeAndPttl(key, end, { withPttl = true } = {}) {
    if (!withPttl) return [await this.#send(key, ['GETRANGE', key, 0, end], AS_BUFFERS), null];
    // node-redis writes the commands of one tick together (one write, pipelined).
    const [value, pttl] = await Promise.all([
      this.#send(key, ['GETRANGE', key, 0, end], AS_BUFFERS),
      this.#send(key, ['PTTL', key]),
    ]);
    return [value, Number(pttl)];
  }

  async type(key) { return String(await this.#send(key, ['TYPE', key])); }

  pipeline(key, commands) {
    // node-redis writes the commands of one tick together.
    return Promise.all(commands.map((command) => this.#send(key, command)));
  }

  async strlen(key) { return Number(await this.#send(key, ['STRLEN', key])); }

  del(key) { return this.#send(key, ['DEL', key]); }

  async exists(key) { return Number(await this.#send(key, ['EXISTS', key])); }

  async ttl(key) { return Number(await this.#send(key, ['TTL', key])); }

  async zcount(key, min, max) { return Number(await this.#send(key, ['ZCOUNT', key, min, max])); }

  async zrangeByScore(key, min, offset, count) {
    const reply = await this.#send(key, ['ZRANGE', key, min, '+inf', 'BYSCORE', 'LIMIT', offset, count, 'WITHSCORES']);
    return reply.flat().map(String); // RESP3: [[member, score], ...] with numbers; RESP2: [member, score, ...]
  }

  async transaction(commands) {
    const { redis } = this;
    const key = commands[0][1];
    const transaction = this.topology === 'cluster' ? redis.multi(key) : redis.multi();
    // A Cluster's transaction takes each command's key (for its slot) and whether it only reads; a Sentinel's, whether
    // it only reads (its transactions run on the master all the same).
    for (const command of commands) {
      if (this.topology === 'cluster') transaction.addCommand(command[1], false, commandArgs(command));
      else if (this.topology === 'sentinel') transaction.addCommand(false, commandArgs(command));
      else transaction.addCommand(commandArgs(command));
    }
    try {
      return await transaction.exec();
    } catch (err) {
      // MultiErrorReply: EXEC ran, and these commands failed (WRONGTYPE, ...): report the first one.
      if (err && Array.isArray(err.replies) && Array.isArray(err.errorIndexes) && err.errorIndexes.length > 0) {
        throw err.replies[err.errorIndexes[0]];
      }
      throw err;
    }
  }

  async scanNodes(guardedPing) {
    const { redis } = this;
    const scanner = (send) => ({
      scan: async (cursor, match, count, typeArgs) => {
        const [next, keys] = await send(['SCAN', cursor, 'MATCH', match, 'COUNT', count, ...typeArgs]);
        return [String(next), keys.map(String)];
      },
    });
    if (this.topology !== 'cluster') return [scanner((args) => this.#send(undefined, args))];
    // A Cluster's keys are spread over its masters, and SCAN sees only the node it is sent to.
    // The masters are known once the app's connect() resolved; a client not ready yet fails the PING like any call.
    if (!redis.isReady) await guardedPing(() => this.ping());
    const nodes = await Promise.all(redis.masters.map((master) => redis.nodeClient(master)));
    return nodes.map((node) => scanner((args) => node.sendCommand(commandArgs(args), AS_RECEIVED)));
  }

  ping() { return this.#send(undefined, ['PING']); }

  /**
   * The connection a write of `key` goes through (see driver.js): the client itself, or on a Cluster the client of
   * the master that owns the key's slot (the one the Cluster sends the key's commands to). node-redis never resends a
   * command written to a socket that died (it rejects it), but one queued while reconnecting goes out on the new
   * socket: token() counts the client's connects, so a WAIT answered on another connection than the write is seen.
   *
   * A Sentinel client sends each command through one of its pool of master clients (masterPoolSize), whichever its
   * lease gives: here one of them is taken (as its own commands take it: _execute, node-redis 5 and 6) and the
   * tombstone goes through it too (send: script's `via`). Not a lease of our own (acquire()): a lease is exclusive,
   * so with the default pool of one every other command of the app would wait behind a sign-out's WAIT, and
   * concurrent sign-outs could not share WAITs. A failover destroys the pool's clients (and a destroyed client never
   * connects again): token() is then null; a command sent to it meanwhile fails (the sign-out fails closed).
   */
  async writeConnection(key, guardedPing) {
    const { redis } = this;
    if (this.topology === 'sentinel') {
      // _execute waits while the client reconnects to a new master: under the guard's timeout.
      const master = await guardedPing(() => redis._execute(false, async (client) => client)); // eslint-disable-line no-underscore-dangle
      const { host, port } = (master.options && master.options.socket) || {};
      const connection = nodeRedisConnection(`${host}:${port}`, master, () => true);
      return { ...connection, send: (args, options) => master.sendCommand(args, options) };
    }
    if (!redis.isReady) await guardedPing(() => this.ping());
    if (this.topology === 'standalone') return nodeRedisConnection('', redis, () => true);
    const slot = slotOf(key);
    const owner = () => redis.slots[slot] && redis.slots[slot].master;
    const master = owner();
    if (!master) return null;
    const client = await redis.nodeClient(master);
    return nodeRedisConnection(`${master.host}:${master.port}`, client, () => owner() === master);
  }

  // ---- a Cluster's masters, for the in-process cache's listeners (js/local-cache/cluster-tracker.js) ----

  /**
   * { version, masters }: the addresses (host:port) of the masters that own slots, and a string that changes whenever
   * one of them or any slot's owner does. node-redis replaces its slot array on every rediscovery (after a MOVED, a
   * node's reconnection attempts), so an unchanged array is an unchanged view: checked on every lookup, recomputed
   * only when it was replaced, or when the tracker's periodic check asks (fresh).
   */
  clusterView({ fresh = false } = {}) {
    const { slots } = this.redis;
    if (this.view && !fresh && this.viewOf === slots) return this.view;
    const owners = [];
    let last = null;
    for (let slot = 0; slot < 16384; slot++) {
      const shard = slots && slots[slot];
      const owner = shard && shard.master ? shard.master.address : '';
      if (owner !== last) owners.push(`${slot}=${owner}`);
      last = owner;
    }
    const masters = new Set(owners.map((range) => range.slice(range.indexOf('=') + 1)).filter(Boolean));
    for (const master of this.redis.masters || []) masters.add(master.address);
    const version = `${[...masters].sort().join(',')}|${owners.join(',')}`;
    // covered: every slot has an owner (a client that has not read the slot map yet has none).
    const covered = !owners.some((range) => range.endsWith('='));
    this.view = this.view && this.view.version === version ? this.view : { version, masters: [...masters].sort(), covered };
    this.viewOf = slots;
    return this.view;
  }

  /** node-redis's Cluster emits no event on rediscovery: clusterView's identity check on every lookup finds it. */
  onTopologyChange() { return () => {}; }

  /** The role a Cluster node says it has ('master', 'slave'), asked through the client's own connection to it. */
  async nodeRole(id) {
    const node = this.#clusterNode(id);
    if (!node) return null;
    const info = String(await (await this.redis.nodeClient(node)).sendCommand(['INFO', 'replication'], AS_RECEIVED));
    const role = /^role:(\w+)/m.exec(info);
    return role ? role[1] : null;
  }

  /**
   * Makes the client read the slot map again. node-redis does so after a MOVED (6: also on a node's reconnection
   * attempts), and has no public call for it: its own rediscovery (`_slots.rediscover(client)`, what a MOVED runs),
   * started from a node client that is ready (5 needs one; a dead master's would fail).
   */
  refreshTopology() {
    const slots = this.redis._slots; // eslint-disable-line no-underscore-dangle
    if (!slots || typeof slots.rediscover !== 'function') return;
    const ready = [...(this.redis.masters || []), ...(this.redis.replicas || [])]
      .map((node) => node.client).find((client) => client && client.isReady);
    // Without one: 6 starts from the nodes it knows; 5 throws (then a later check tries again).
    Promise.resolve().then(() => slots.rediscover(ready)).catch(() => {});
  }

  #clusterNode(id) {
    const { redis } = this;
    return (redis.nodeByAddress && redis.nodeByAddress.get(id)) || (redis.masters || []).find((master) => master.address === id);
  }

  /** The single-node client a tracking connection duplicates: see canTrack. */
  async #trackedClient(node) {
    const { redis } = this;
    if (this.topology === 'cluster') {
      const master = this.#clusterNode(node);
      if (!master) throw new Error(`the client no longer knows the Cluster node ${node}`);
      return redis.nodeClient(master);
    }
    // The Sentinel client's current master client, as its own commands get it (_execute: node-redis 5 and 6).
    if (this.topology === 'sentinel') return redis._execute(false, async (client) => client); // eslint-disable-line no-underscore-dangle
    return redis;
  }

  trackingConnection(handlers, node) {
    const { redis } = this;
    let connection = null;
    let open = false;
    let unwatch = () => {};
    const ended = () => {
      if (!open) return;
      open = false;
      unwatch();
      handlers.close();
      handlers.end();
    };
    const destroy = () => {
      if (connection && connection.isOpen) connection.destroy();
      else ended();
    };
    const connect = async () => {
      open = true;
      const base = await this.#trackedClient(node);
      if (!open) return; // disconnected meanwhile
      // RESP2, so that invalidations arrive as pub/sub messages on __redis__:invalidate (REDIRECT to itself); no
      // reconnect of its own (the listener reconnects, re-enabling tracking, whose client id changes); no offline
      // queue; no client-side cache or typeMapping inherited from the app's client.
      connection = base.duplicate({
        RESP: 2,
        socket: { ...(base.options && base.options.socket), reconnectStrategy: false },
        disableOfflineQueue: true,
        clientSideCache: undefined,
        emitInvalidate: undefined,
        commandOptions: undefined,
        pingInterval: undefined,
        // node-redis 6's Graceful Maintenance (socket hand-off on RESP3 MOVING pushes) is refused on RESP2, and would
        // lose the server-side tracking state unseen: off here (5 ignores the option).
        maintNotifications: 'disabled',
      });
      connection.unref(); // neither its socket nor anything else of it keeps the process alive
      connection.on('ready', () => handlers.ready());
      connection.on('error', (err) => {
        handlers.error(err);
        // With reconnectStrategy false a failed connection is closed for good (isOpen false) after its error.
        if (!connection.isOpen) ended();
      });
      connection.on('end', ended);
      if (this.topology === 'sentinel') {
        // A failover: the Sentinel client switched to another master. This connection may still be open to the old
        // one (Sentinel kills its clients only once it can reach it): drop it; the listener reconnects to the new one.
        const onChange = (event) => { if (event && event.type === 'MASTER_CHANGE') destroy(); };
        redis.on('topology-change', onChange);
        unwatch = () => redis.removeListener('topology-change', onChange);
      }
      await connection.connect();
    };
    return {
      connect: () => connect().then(() => undefined, (err) => {
        ended();
        throw err;
      }),
      command: (...args) => connection.sendCommand(commandArgs(args), AS_RECEIVED),
      subscribe: (channel) => connection.subscribe(channel, (message, from) => handlers.message(from, message), true),
      disconnect: destroy,
    };
  }
}

const connects = new WeakMap(); // node-redis client -> { n: its socket's connects since first watched, serial }
let clients = 0;

/**
 * A connection of writeConnection(): client is a node-redis client; current() says it still owns the key. Its id
 * names the client object (a Sentinel's pool may hold several clients of one master, and a failover replaces them),
 * so that WAITs are shared only by the writes of one client, and a token of one client never equals another's.
 */
function nodeRedisConnection(address, client, current) {
  if (!connects.has(client)) {
    const counter = { n: 0, serial: ++clients };
    connects.set(client, counter);
    client.on('connect', () => { counter.n += 1; });
  }
  const counter = connects.get(client);
  const id = `${address}/${counter.serial}`;
  return {
    id,
    token: () => (current() && client.isReady ? `${id}#${counter.n}` : null),
    wait: async (replicas, timeoutMs) => Number(await client.sendCommand(['WAIT', String(replicas), String(timeoutMs)], AS_RECEIVED)),
    replicas: async () => connectedReplicas(String(await client.sendCommand(['INFO', 'replication'], AS_RECEIVED))),
  };
}

module.exports = NodeRedisDriver;
