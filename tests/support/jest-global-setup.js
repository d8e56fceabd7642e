'use strict';
// Jest globalSetup: one Redis for the whole run, of the topology TEST_REDIS_TOPOLOGY names (standalone by default),
// published in environment variables that tests/support/redis-client.js reads (Jest hands globalSetup's
// process.env to the workers):
//   standalone   one redis-server                                      TEST_REDIS_URL
//   cluster      3 masters (tests/support/redis-cluster.js)            TEST_REDIS_CLUSTER_NODES
//   sentinel     a master, a replica, 3 sentinels (redis-sentinel.js)  TEST_REDIS_SENTINELS, TEST_REDIS_SENTINEL_NAME
// A variable already set (e.g. a CI service container's TEST_REDIS_URL) is used instead of starting one.

const { startRedis } = require('./redis-server');
const redisCluster = require('./redis-cluster');
const redisSentinel = require('./redis-sentinel');

const address = ({ host, port }) => `${host}:${port}`;

module.exports = async function globalSetup() {
  const topology = process.env.TEST_REDIS_TOPOLOGY || 'standalone';
  // What stop() is for is read back by jest-global-teardown.js (same context).
  if (topology === 'cluster') {
    if (process.env.TEST_REDIS_CLUSTER_NODES) return;
    const cluster = await redisCluster.start({ masters: 3 });
    globalThis.__TEST_REDIS__ = cluster;
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodes.map(address).join(',');
  } else if (topology === 'sentinel') {
    if (process.env.TEST_REDIS_SENTINELS) return;
    const group = await redisSentinel.start();
    globalThis.__TEST_REDIS__ = group;
    process.env.TEST_REDIS_SENTINELS = group.sentinels.map(address).join(',');
    process.env.TEST_REDIS_SENTINEL_NAME = group.name;
  } else {
    if (process.env.TEST_REDIS_URL) return;
    const redis = await startRedis();
    globalThis.__TEST_REDIS__ = redis;
    process.env.TEST_REDIS_URL = redis.url;
  }
};
