'use strict';
// Which partition a client application reads and writes, from what the app knows at request time.

const { createHash } = require('node:crypto');
const { ConfigurationError } = require('./errors');

/**
 * @typedef {object} Partition
 * @property {'session'|'account'|'app'|'obo'} mode
 * @property {string} partitionKey  the Redis key without the prefix
 * @property {string[]|null} allowed  core partition ids this partition may hold; null: the accounts that the
 *   session itself signed in (decided at run time)
 * @property {'account'|'app'|'obo'} kind  decides the core's TTL rule
 */

function requireString(value, name) {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigurationError(`${name} must be a non-empty string`);
  }
  if (/[\n\r]/.test(value)) throw new ConfigurationError(`${name} must not contain line breaks`);
  return value;
}

/** msal-node's userAssertionHash: base64url(SHA-256(assertion)). */
function userAssertionHash(assertion) {
  return createHash('sha256').update(assertion).digest('base64url');
}

/**
 * @param {{sessionId?: string, homeAccountId?: string, tenantId?: string, userAssertion?: string}} selector
 *   exactly one of the four
 * @param {string} [clientId] required for app and obo partitions (keys are per client application)
 * @returns {Partition}
 */
function resolvePartition(selector, clientId) {
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
      // The braces are a Redis Cluster hash tag: the session's own key can share its slot (see session store).
      return { mode: 'session', partitionKey: `session:{${value}}`, allowed: null, kind: 'account' };
    case 'homeAccountId':
      return { mode: 'account', partitionKey: `account:${value}`, allowed: [`account:${value}`], kind: 'account' };
    case 'tenantId':
      requireString(clientId, 'auth.clientId');
      return { mode: 'app', partitionKey: `app:${clientId}:${value}`, allowed: [`app:${value}`], kind: 'app' };
    default: {
      requireString(clientId, 'auth.clientId');
      const hash = userAssertionHash(value);
      return { mode: 'obo', partitionKey: `obo:${clientId}:${hash}`, allowed: [`obo:${hash}`], kind: 'obo' };
    }
  }
}

module.exports = { resolvePartition, userAssertionHash };
