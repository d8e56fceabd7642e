'use strict';
// The ioredis the tests run against: 5 by default, 6 when TEST_IOREDIS_MAJOR=6 (npm test runs the Redis suites on
// both majors the peer range allows), or iovalkey (ioredis 5's fork for Valkey) when TEST_IOVALKEY=1 (npm test's Valkey
// pass). Tests require this module instead of 'ioredis'.

const major = process.env.TEST_IOREDIS_MAJOR || '5';
const modules = { 5: 'ioredis', 6: 'ioredis6' };
if (!modules[major]) throw new Error(`TEST_IOREDIS_MAJOR must be 5 or 6, not ${major}`);
if (process.env.TEST_IOVALKEY === '1' && major !== '5') throw new Error('TEST_IOVALKEY=1 is a fork of ioredis 5: leave TEST_IOREDIS_MAJOR at 5');

// eslint-disable-next-line import/no-dynamic-require
module.exports = require(process.env.TEST_IOVALKEY === '1' ? 'iovalkey' : modules[major]);
