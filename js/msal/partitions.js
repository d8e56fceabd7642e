'use strict';
// Which partition a client application reads and writes, from what the app knows at request time, and the Redis key
// name it lives under. Key names carry no personal data: the id (session id, home account id, tenant, assertion
// hash) is replaced by a keyed HMAC of it (keyring.js), so the same user maps to the same key on every server and
// across rotations of the encryption keys, and reading key names reveals nothing.

const { createHash } = require('node:crypto');
const { ConfigurationError } = require('../errors');

/**
 * @typedef {object} Partition
 * @property {'session'|'account'|'app'|'obo'} mode
 * @property {string} partitionKey  the Redis key without the prefix
 * @property {string|null} legacyKey  the key version 0.1 used (ids in clear), read only by migrateLegacyValues; null
 *   for a session, whose 0.1 partition is never read: a clear-text value anyone with Redis access could have planted
 *   would decide which account a session is signed in to
 * @property {string[]|null} allowed  core partition ids this partition may hold; null: the accounts that the
 *   session itself signed in (decided at run time)
 * @property {'account'|'app'|'obo'} kind  decides the core's TTL rule
 */

function requireString(value, name) {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigurationError(`${name} must be a non-empty string`);
  }
  if (/[\n\r]/.test(value)) throw new ConfigurationError(`${name} must not contain line breaks`);
  // A lone surrogate is encoded as U+FFFD before hashing: 'a\uD800' and 'a\uDFFF' would share one partition.
  if (!value.isWellFormed()) throw new ConfigurationError(`${name} must be well-formed Unicode (it has a lone surrogate)`);
  return value;
}

// Every partition key is <prefix><kind>:<HMAC name>, with one of these kinds (see resolvePartition): the in-process
// cache's invalidation tracking follows exactly these (invalidation-listener.js), not the index keys beside them.
const PARTITION_KEY_KINDS = Object.freeze(['session', 'account', 'app', 'obo']);

/** The kind of the partition at the full Redis key `key` ("session", "account", "app", "obo"), or null. */
function partitionKindOfKey(prefix, key) {
  if (!key.startsWith(prefix)) return null;
  return PARTITION_KEY_KINDS.find((kind) => key.startsWith(`${kind}:`, prefix.length)) ?? null;
}

/** msal-node's userAssertionHash: base64url(SHA-256(assertion)). */
function userAssertionHash(assertion) {
  return createHash('sha256').update(assertion).digest('base64url');
}

/** The key-name part of a session: its session key and its partition share it (one Redis Cluster hash slot). */
function sessionTag(keyring, sessionId) {
  return `{${keyring.name('session', requireString(sessionId, 'sessionId'))}}`;
}

/**
 * @param {{sessionId?: string, homeAccountId?: string, tenantId?: string, userAssertion?: string}} selector
 *   exactly one of the four
 * @param {string|undefined} clientId required for app and obo partitions (keys are per client application)
 * @param {{ name(kind: string, id: string): string }} keyring
 * @returns {Partition}
 */
function resolvePartition(selector, clientId, keyring) {
  const given = ['sessionId', 'homeAccountId', 'tenantId', 'userAssertion'].filter(
    (name) => selector && selector[name] !== undefined,
  );
  if (given.length !== 1) {
    throw new ConfigurationError(
      'choose exactly one partition: { sessionId } | { homeAccountId } | { tenantId } | { userAssertion }',
    );
  }
  const [name] = given;
  const value = requireString(selector[name], name);
  switch (name) {
    case 'sessionId':
      return {
        mode: 'session',
        partitionKey: `session:${sessionTag(keyring, value)}`,
        legacyKey: null,
        allowed: null,
        kind: 'account',
      };
    case 'homeAccountId':
      return {
        mode: 'account',
        partitionKey: `account:${keyring.name('account', value)}`,
        legacyKey: `account:${value}`,
        allowed: [`account:${value}`],
        kind: 'account',
      };
    case 'tenantId':
      requireString(clientId, 'auth.clientId');
      return {
        mode: 'app',
        partitionKey: `app:${keyring.name('app', `${clientId}\n${value}`)}`,
        legacyKey: `app:${clientId}:${value}`,
        allowed: [`app:${value}`],
        kind: 'app',
      };
    default: {
      requireString(clientId, 'auth.clientId');
      const hash = userAssertionHash(value);
      return {
        mode: 'obo',
        partitionKey: `obo:${keyring.name('obo', `${clientId}\n${hash}`)}`,
        legacyKey: `obo:${clientId}:${hash}`,
        allowed: [`obo:${hash}`],
        kind: 'obo',
      };
    }
  }
}

module.exports = { resolvePartition, userAssertionHash, sessionTag, partitionKindOfKey, PARTITION_KEY_KINDS };
