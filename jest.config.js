'use strict';

// npm test (scripts/test-all.sh) runs Jest in several passes: ioredis 5 (everything), ioredis 6, node-redis 6 and 5,
// node-redis on a Cluster and Sentinel, ioredis on a Cluster and Sentinel, Valkey. The lists below are the topology
// passes'; each other pass's choice (an explicit list, or an ignore list that replaces these) is in test-all.sh beside
// it, with why (time on 2 cores, or what a pass cannot run), and README.md "Develop" sums them up.
//
// TEST_REDIS_TOPOLOGY=cluster|sentinel runs the suites that talk to Redis on a Redis Cluster or a Sentinel group
// (tests/support/jest-global-setup.js starts it). The lists below leave suites out per topology (a
// --testPathIgnorePatterns on the command line replaces them). These run on the standalone server only, and why:
const topology = process.env.TEST_REDIS_TOPOLOGY || 'standalone';
const STANDALONE_ONLY = {
  // No Redis at all: the same on every topology.
  core: 'no Redis (the wasm core)',
  'core-merge': 'no Redis (the wasm core)',
  'cache-fixtures': 'no Redis',
  'fake-identity-provider': 'no Redis',
  'msal-memory': 'no Redis',
  'cluster-tracker': 'no Redis (a fake Cluster driver)',
  options: 'no Redis (checks fail before the first command)',
  package: 'no Redis (the packed package, type-checked)',
  // One standalone redis-server by nature.
  'connect-redis-lifecycle': 'connect-redis\'s lifecycleTest on both clients at TEST_REDIS_URL (the store\'s Cluster and Sentinel behaviour: the session-store suites)',
  'tls-acl': 'a TLS + ACL redis-server of its own (the documented least-privilege user)',
  'replica-wait': 'a master and replica of its own, SIGSTOPped and killed (~3 s); Sentinel: every sign-out of the sentinel pass waits for its replica, and sentinel-failover',
  'local-cache.faults': 'kills and freezes a redis-server of its own (SIGKILL, SIGSTOP); Sentinel: sentinel-failover',
  'local-cache.cluster': 'a Cluster with replicas of its own (fails a master over, migrates a slot): the same on every pass',
  'ioredis-handoff': 'ioredis 6.1\'s Smart Client Handoff through a proxy in front of a redis-server of its own',
  'ioredis-major': 'what differs between ioredis 5 and 6 on one server; the topology passes run ioredis 5 only',
  'express/.*': 'the example app, whose start command takes one REDIS_URL; race-express runs it on every topology',
  'flask/.*': 'the Flask example (Python processes) beside the Express one, on one REDIS_URL',
};
// And these not on one topology.
const NOT_ON = {
  standalone: {
    'sentinel-failover': 'runs on the sentinel pass (it starts a Sentinel group of its own)',
    'cluster-failover': 'runs on the cluster pass (it starts a Cluster of its own, 3 masters and 3 replicas: ~35 s)',
  },
  cluster: {
    'sentinel-failover': 'runs on the sentinel pass',
  },
  sentinel: {
    'session-store.cluster': 'about a Cluster (it starts one of its own, or uses the cluster pass\'s)',
    'local-cache.same-cycle': 'on a redis-server of its own: the same as the standalone pass (a Sentinel master is tracked as one)',
    'cluster-failover': 'runs on the cluster pass',
  },
};

// A suite by its file name, in whichever folder of tests/js it is.
const suitePattern = (name) => `/tests/js/(.+/)?${name}\\.test\\.js$`;
const ignored = [...(topology === 'standalone' ? [] : Object.keys(STANDALONE_ONLY)), ...Object.keys(NOT_ON[topology])]
  .map(suitePattern);

module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/tests/js/**/*.test.js'],
  testPathIgnorePatterns: ['/node_modules/', ...ignored],
  globalSetup: '<rootDir>/tests/support/jest-global-setup.js',
  globalTeardown: '<rootDir>/tests/support/jest-global-teardown.js',
  testTimeout: 30000,
  maxWorkers: 2,
};
