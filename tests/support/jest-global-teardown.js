'use strict';
// Jest globalTeardown: stops the redis-server started by jest-global-setup.js.

module.exports = async function globalTeardown() {
  const redis = globalThis.__TEST_REDIS__;
  if (!redis) return;
  delete globalThis.__TEST_REDIS__;
  delete process.env.TEST_REDIS_URL;
  await redis.stop();
};
