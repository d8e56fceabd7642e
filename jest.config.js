'use strict';

module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/tests/js/**/*.test.js'],
  globalSetup: '<rootDir>/tests/support/jest-global-setup.js',
  globalTeardown: '<rootDir>/tests/support/jest-global-teardown.js',
  testTimeout: 30000,
  maxWorkers: 2,
};
