'use strict';
// TEST_REDIS_CLIENT=node-redis (TEST_NODE_REDIS_MAJOR=6 by default, or 5): the client the package is given is a
// node-redis client, while the test's own reads and writes (redis.getBuffer(key), redis.keys(...), redis.set(key,
// v, 'EX', 10), ...) keep ioredis's spelling. tests/support/redis-client.js's newRedis() then returns a twin: a Proxy
// over a connected node-redis client (what the package reaches: sendCommand, multi, duplicate, isOpen, ...) that
// hands every other property to an ioredis client of the same Redis. So the suites run unchanged on either client,
// and the package's driver sees a real node-redis client (js/redis/driver.js tells the kinds apart by shape).

const major = process.env.TEST_NODE_REDIS_MAJOR || '6';
const modules = { 5: 'redis5', 6: 'redis' };
if (!modules[major]) throw new Error(`TEST_NODE_REDIS_MAJOR must be 5 or 6, not ${major}`);
// eslint-disable-next-line import/no-dynamic-require
const nodeRedis = require(modules[major]);

// What the package's node-redis driver uses, and what tells a node-redis client apart: always the node-redis side.
const NODE_REDIS_SIDE = new Set(['sendCommand', 'isOpen', 'isReady', 'withTypeMapping', 'duplicate', 'multi',
  'masters', 'slots', 'nodeClient', 'getMasterNode', 'options', '_keyPrefix', 'unref', 'subscribe']);

/** node-redis options for ioredis-style ones (what the suites pass to newRedis). */
function nodeRedisOptions(options) {
  const socket = {};
  const result = {};
  for (const [name, value] of Object.entries(options)) {
    if (name === 'retryStrategy') {
      socket.reconnectStrategy = (retries) => {
        const delay = value && value(retries + 1);
        return typeof delay === 'number' ? delay : false;
      };
    } else if (name === 'enableOfflineQueue') result.disableOfflineQueue = !value;
    else if (name === 'connectTimeout') socket.connectTimeout = value;
    else if (name === 'username' || name === 'password') result[name] = value;
    else if (name === 'connectionName') result.name = value; // CLIENT SETNAME, as ioredis's connectionName
    else if (name === 'keyPrefix') throw new Error('keyPrefix: the package refuses it on node-redis (test it on ioredis)');
    // lazyConnect, maxRetriesPerRequest, commandTimeout...: ioredis's; the twin's ioredis side takes them.
  }
  return { ...result, socket };
}

/**
 * A node-redis client of the topology, not connected. rootNodes/sentinels: [{ host, port }].
 */
function createNodeRedis(topology, { url, nodes, sentinel }, options) {
  const { socket, ...rest } = nodeRedisOptions(options);
  if (topology === 'cluster') {
    return nodeRedis.createCluster({
      rootNodes: nodes.map(({ host, port }) => ({ socket: { host, port } })),
      defaults: { ...rest, socket },
    });
  }
  if (topology === 'sentinel') {
    return nodeRedis.createSentinel({
      name: sentinel.name,
      sentinelRootNodes: sentinel.sentinels,
      nodeClientOptions: { ...rest, socket },
    });
  }
  return nodeRedis.createClient({ url, ...rest, socket });
}

/** The twin of `ioredis` (an ioredis client) and `client` (a node-redis one). */
function twin(ioredis, client, { lazy }) {
  let connecting = lazy ? null : client.connect();
  const connect = async () => {
    connecting = connecting || client.connect();
    await Promise.all([connecting, ioredis.status === 'wait' ? ioredis.connect() : null]);
  };
  if (connecting) connecting.catch(() => {}); // a test of a dead Redis sees the failure on its own calls
  client.on('error', () => {}); // as ioredis's twin reports: the package's guard sees every failure
  const special = {
    connect,
    quit: async () => {
      await Promise.allSettled([ioredis.quit(), client.isOpen ? client.close?.() ?? client.quit() : null]);
      return 'OK';
    },
    disconnect: () => {
      ioredis.disconnect();
      if (client.isOpen) client.destroy();
    },
    // As ioredis queues commands until ready, so do the twin's: an app awaits connect() before handing its client
    // over, a test does not (lazy: the test's own connect() starts it).
    sendCommand: async (...args) => {
      await (connecting || connect());
      return client.sendCommand(...args);
    },
    multi: (...args) => {
      const transaction = client.multi(...args);
      const exec = transaction.exec.bind(transaction);
      transaction.exec = async (...execArgs) => {
        await (connecting || connect());
        return exec(...execArgs);
      };
      return transaction;
    },
    nodeRedisClient: client,
    ioredisClient: ioredis,
  };
  return new Proxy(client, {
    get(target, prop) {
      if (prop in special) return special[prop];
      const side = NODE_REDIS_SIDE.has(prop) || !(prop in ioredis) ? target : ioredis;
      const value = Reflect.get(side, prop, side);
      return typeof value === 'function' ? value.bind(side) : value;
    },
    has: (target, prop) => prop in target,
  });
}

module.exports = { nodeRedis, major, createNodeRedis, twin };
