'use strict';
// The Redis of the Jest run, whatever its topology: tests make their clients here instead of
// `new Redis(process.env.TEST_REDIS_URL)`, so that one suite runs on a standalone server, a Redis Cluster and a
// Sentinel group alike. TEST_REDIS_TOPOLOGY picks it (standalone by default; npm test runs cluster and sentinel
// too); jest-global-setup.js starts it and publishes what this module needs:
//   standalone   TEST_REDIS_URL                 new Redis(url, options)
//   cluster      TEST_REDIS_CLUSTER_NODES       new Redis.Cluster(nodes, { redisOptions: options, ... })
//                ("host:port,host:port,...")
//   sentinel     TEST_REDIS_SENTINELS           new Redis({ sentinels, name, ...options })
//                ("host:port,...") and TEST_REDIS_SENTINEL_NAME
// The client comes from tests/support/ioredis.js (TEST_IOREDIS_MAJOR), or with TEST_REDIS_CLIENT=node-redis it is a
// node-redis client for the package and ioredis for the test's own calls (tests/support/node-redis.js,
// TEST_NODE_REDIS_MAJOR).
//
// Some admin commands act on one node only: KEYS, SCAN, MONITOR, ACL, CONFIG, FLUSHALL, INFO. On a Cluster a
// client sends them to any one master, so the helpers below run them on every master (masters()).

const Redis = require('./ioredis');

const CLIENTS = ['ioredis', 'node-redis'];
const client = process.env.TEST_REDIS_CLIENT || 'ioredis';
if (!CLIENTS.includes(client)) throw new Error(`TEST_REDIS_CLIENT must be one of ${CLIENTS.join(', ')}, not ${client}`);

const TOPOLOGIES = ['standalone', 'cluster', 'sentinel'];
const topology = process.env.TEST_REDIS_TOPOLOGY || 'standalone';
if (!TOPOLOGIES.includes(topology)) {
  throw new Error(`TEST_REDIS_TOPOLOGY must be one of ${TOPOLOGIES.join(', ')}, not ${topology}`);
}

// ioredis reads these from a Cluster's own options (the others go to every node's connection, redisOptions).
const CLUSTER_LEVEL = ['keyPrefix', 'lazyConnect', 'enableOfflineQueue', 'enableReadyCheck', 'scaleReads',
  'maxRedirections', 'retryDelayOnFailover', 'retryDelayOnClusterDown', 'retryDelayOnTryAgain', 'slotsRefreshTimeout'];

/** "host:port,host:port" as [{ host, port }]. */
function parseNodes(text, variable) {
  if (!text) throw new Error(`${variable} is not set: run the tests through Jest (its global setup starts the ${topology} Redis)`);
  return text.split(',').map((address) => {
    const at = address.lastIndexOf(':');
    return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
  });
}

const clusterNodes = () => parseNodes(process.env.TEST_REDIS_CLUSTER_NODES, 'TEST_REDIS_CLUSTER_NODES');
const sentinelGroup = () => ({
  sentinels: parseNodes(process.env.TEST_REDIS_SENTINELS, 'TEST_REDIS_SENTINELS'),
  name: process.env.TEST_REDIS_SENTINEL_NAME || 'mymaster',
});

/**
 * A new client of the run's Redis, with these ioredis options (connection options: the topology's own come from the
 * environment). On a Cluster, retryStrategy also becomes the Cluster's clusterRetryStrategy.
 */
function newRedis(options = {}) {
  const ioredis = newIoredis(options);
  if (client === 'ioredis') return ioredis;
  // eslint-disable-next-line global-require
  const { createNodeRedis, twin } = require('./node-redis');
  const where = topology === 'cluster' ? { nodes: clusterNodes() }
    : topology === 'sentinel' ? { sentinel: sentinelGroup() } : { url: process.env.TEST_REDIS_URL };
  return twin(ioredis, createNodeRedis(topology, where, options), { lazy: Boolean(options.lazyConnect) });
}

/** A standalone client of the Redis at `url` (a server of a test's own), of the run's client like newRedis(). */
function newRedisAt(url, options = {}) {
  const ioredis = new Redis(url, options);
  if (client === 'ioredis') return ioredis;
  // eslint-disable-next-line global-require
  const { createNodeRedis, twin } = require('./node-redis');
  return twin(ioredis, createNodeRedis('standalone', { url }, options), { lazy: Boolean(options.lazyConnect) });
}

/**
 * A client of the Cluster whose nodes are `nodes` (one of a test's own, or the run's), of the run's client like
 * newRedis(): an ioredis Cluster, or under node-redis the twin of one and a node-redis createCluster().
 */
function newRedisOfCluster(nodes, options = {}) {
  const ioredis = newIoredisCluster(nodes, options);
  if (client === 'ioredis') return ioredis;
  // eslint-disable-next-line global-require
  const { createNodeRedis, twin } = require('./node-redis');
  return twin(ioredis, createNodeRedis('cluster', { nodes }, options), { lazy: Boolean(options.lazyConnect) });
}

/**
 * A client of the Sentinel group `group` ({ sentinels, name }: one of a test's own), of the run's client like
 * newRedis(): an ioredis Sentinel client, or under node-redis the twin of one and a node-redis createSentinel().
 */
function newRedisOfSentinel(group, options = {}) {
  const ioredis = new Redis({ sentinels: group.sentinels, name: group.name, ...options });
  if (client === 'ioredis') return ioredis;
  // eslint-disable-next-line global-require
  const { createNodeRedis, twin } = require('./node-redis');
  return twin(ioredis, createNodeRedis('sentinel', { sentinel: group }, options), { lazy: Boolean(options.lazyConnect) });
}

/** The ioredis client of newRedis(), or its ioredis side under node-redis (what tests inspect Redis with). */
const ioredisOf = (redis) => redis.ioredisClient || redis;

function newIoredisCluster(nodes, options) {
  const clusterOptions = { redisOptions: {} };
  for (const [name, value] of Object.entries(options)) {
    if (CLUSTER_LEVEL.includes(name)) clusterOptions[name] = value;
    else clusterOptions.redisOptions[name] = value;
  }
  if (options.retryStrategy) clusterOptions.clusterRetryStrategy = options.retryStrategy;
  return new Redis.Cluster(nodes, clusterOptions);
}

function newIoredis(options) {
  if (topology === 'cluster') return newIoredisCluster(clusterNodes(), options);
  if (topology === 'sentinel') return new Redis({ ...sentinelGroup(), ...options });
  return new Redis(process.env.TEST_REDIS_URL, options);
}

/**
 * The clients that hold the data: every master of a Cluster (its node clients, which have no keyPrefix), or the
 * client itself (a Sentinel client is connected to the master).
 */
async function masters(client) {
  const redis = ioredisOf(client);
  if (!redis.isCluster) return [redis];
  // Until it is ready a Cluster client has not read the slot map: nodes('master') would list the startup nodes.
  if (redis.status !== 'ready') await redis.ping();
  return redis.nodes('master');
}

/** KEYS on every master: the names matching `pattern` (a glob, not prefixed by the client's keyPrefix). */
async function keysAll(redis, pattern) {
  return (await Promise.all((await masters(redis)).map((node) => node.keys(pattern)))).flat();
}

/** Runs `command(node)` on every master (ACL SETUSER, CONFIG SET, ...); resolves their results. */
async function onEveryMaster(redis, command) {
  return Promise.all((await masters(redis)).map(command));
}

/**
 * MONITOR on every master: `on('monitor', listener)` hears the commands of them all; `disconnect()` ends them. Each
 * master's commands arrive in order; those of two masters are not ordered with each other.
 *
 * Not ioredis's monitor(): ioredis enters monitoring mode only once MONITOR's reply has been handled, so on a busy
 * server the lines that arrive in the same packet as that reply match no command and are emitted as "Command queue
 * state error" errors (monitor() then rejects, or the errors go unhandled). Those lines are other clients' commands
 * from before monitoring began, nothing a test did yet: ignored here. Any other error fails the start, or is kept in
 * `errors` once monitoring.
 */
async function monitorAll(redis) {
  const errors = [];
  const monitors = await onEveryMaster(redis, (node) => new Promise((resolve, reject) => {
    const monitor = node.duplicate({ monitor: true, lazyConnect: true });
    let monitoring = false;
    monitor.on('error', (err) => {
      if (/^Command queue state error/.test(err.message)) return;
      if (monitoring) errors.push(err);
      else reject(err);
    });
    monitor.once('monitoring', () => {
      monitoring = true;
      resolve(monitor);
    });
    monitor.connect().catch(reject);
  }));
  return {
    errors,
    on: (event, listener) => monitors.forEach((monitor) => monitor.on(event, listener)),
    disconnect: () => monitors.forEach((monitor) => monitor.disconnect()),
  };
}

/**
 * How many of `keys` exist. EXISTS of several keys is refused on a Cluster when they are in different hash slots
 * (CROSSSLOT): one EXISTS per key there.
 */
async function existing(client, ...keys) {
  const redis = ioredisOf(client);
  if (!redis.isCluster) return redis.exists(...keys);
  return (await Promise.all(keys.map((key) => redis.exists(key)))).reduce((sum, n) => sum + n, 0);
}

/** This module's variables for a Sentinel group: for child processes that must use a group of a test's own. */
function sentinelEnv({ sentinels, name }) {
  return {
    TEST_REDIS_TOPOLOGY: 'sentinel',
    TEST_REDIS_SENTINELS: sentinels.map(({ host, port }) => `${host}:${port}`).join(','),
    TEST_REDIS_SENTINEL_NAME: name,
  };
}

/**
 * What the topology offers: the token cache keeps an in-process cache (L1) on every topology and client (on a Cluster
 * it tracks on every master: js/local-cache/cluster-tracker.js). Kept for the suites that say what they expect where.
 */
const hasLocalCache = true;

module.exports = {
  topology,
  client,
  ioredisOf,
  newRedis,
  newRedisAt,
  newRedisOfCluster,
  newRedisOfSentinel,
  masters,
  keysAll,
  onEveryMaster,
  monitorAll,
  existing,
  hasLocalCache,
  clusterNodes,
  sentinelGroup,
  sentinelEnv,
};
