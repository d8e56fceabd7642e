'use strict';
// What Redis holds, read as a server with the test keys would: for tests that check the stored state itself.

const { createKeyring } = require('../../js/storage/keyring');
const { open, TYPE } = require('../../js/storage/stored-value');
const { testSecrets } = require('./test-secrets');

const testKeyring = createKeyring(testSecrets());

/** The opened value at `key` ({ type, etag, createdAt, meta, body }), or null when the key is missing. */
async function storedValue(redis, key, keyring = testKeyring) {
  const value = await redis.getBuffer(key);
  return value === null ? null : open(keyring, key, value);
}

/** The token cache stored at a partition key, parsed; null when missing or removed (a tombstone). */
async function storedPartition(redis, key, keyring = testKeyring) {
  const opened = await storedValue(redis, key, keyring);
  if (opened === null || opened.type === TYPE.tombstone) return null;
  return JSON.parse(opened.body.toString('utf8'));
}

/** The cache JSON text stored at a partition key (null when missing or removed). */
async function storedPartitionText(redis, key, keyring = testKeyring) {
  const opened = await storedValue(redis, key, keyring);
  return opened === null || opened.type === TYPE.tombstone ? null : opened.body.toString('utf8');
}

/** The session stored at a session key, parsed; null when missing. */
async function storedSession(redis, key, keyring = testKeyring) {
  const opened = await storedValue(redis, key, keyring);
  return opened === null ? null : JSON.parse(opened.body.toString('utf8'));
}

/** True when the key holds a tombstone (a removed partition). */
async function isTombstone(redis, key) {
  const opened = await storedValue(redis, key);
  return opened !== null && opened.type === TYPE.tombstone;
}

module.exports = { storedValue, storedPartition, storedPartitionText, storedSession, isTombstone, testKeyring };
