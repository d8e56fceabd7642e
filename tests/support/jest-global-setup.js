'use strict';
// Jest globalSetup: one redis-server for the whole run. Tests read its URL from
// process.env.TEST_REDIS_URL (Jest hands globalSetup's process.env to the workers).
// If TEST_REDIS_URL is already set (e.g. a CI service container), that server is used instead.

const { startRedis } = require('./redis-server');

module.exports = async function globalSetup() {
  if (process.env.TEST_REDIS_URL) return;
  const redis = await startRedis();
  globalThis.__TEST_REDIS__ = redis; // read back by jest-global-teardown.js (same context)
  process.env.TEST_REDIS_URL = redis.url;
};
