'use strict';
// Jest globalTeardown: stops the Redis (server, Cluster or Sentinel group) started by jest-global-setup.js.

module.exports = async function globalTeardown() {
  const redis = globalThis.__TEST_REDIS__;
  if (!redis) return;
  delete globalThis.__TEST_REDIS__;
  for (const name of ['TEST_REDIS_URL', 'TEST_REDIS_CLUSTER_NODES', 'TEST_REDIS_SENTINELS', 'TEST_REDIS_SENTINEL_NAME']) {
    delete process.env[name];
  }
  await redis.stop();
};
