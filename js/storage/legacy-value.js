'use strict';
// Version 0.1's stored value, read only with migrateLegacyValues (never written):
//   "mrc1 <created_at> <owner> <digest>\n{...cache JSON in clear...}"
// owner: the URI-encoded home account id of a session partition, "-" for others; digest: base64url SHA-256 over
// the key, the header fields and the body. Unkeyed, so it detects accidents only: anyone who can write to Redis can
// forge one, which is why reading these values must be asked for.

const { createHash } = require('node:crypto');

const MAX_HEADER_BYTES = 512;
const NO_OWNER = '-';

/**
 * @param {string} key the (version 0.1) Redis key the value was read from
 * @param {Buffer} value
 * @returns {{ createdAt: number, owner: string|null, body: Buffer }}
 * @throws {Error} with a short reason when the value is not an intact mrc1 value of this key
 */
function decodeLegacyValue(key, value) {
  const end = value.indexOf(0x0a);
  const fields = end < 0 || end > MAX_HEADER_BYTES ? [] : value.toString('latin1', 0, end).split(' ');
  const [magic, created, ownerField, digest] = fields;
  if (fields.length !== 4 || magic !== 'mrc1' || !/^\d{1,15}$/.test(created)) throw new Error('not an mrc1 value');
  const body = value.subarray(end + 1);
  const expected = createHash('sha256').update(`${key}\n${created} ${ownerField}\n`).update(body).digest('base64url');
  if (expected !== digest) throw new Error('integrity check failed');
  let owner = null;
  if (ownerField !== NO_OWNER) {
    try {
      owner = decodeURIComponent(ownerField);
    } catch {
      throw new Error('bad owner');
    }
  }
  return { createdAt: Number(created), owner, body };
}

/** A value in version 0.1's format, for tests of the upgrade path. */
function encodeLegacyValue(key, { createdAt, owner }, body) {
  const ownerField = owner ? encodeURIComponent(owner) : NO_OWNER;
  const digest = createHash('sha256').update(`${key}\n${createdAt} ${ownerField}\n`).update(body).digest('base64url');
  return Buffer.concat([Buffer.from(`mrc1 ${createdAt} ${ownerField} ${digest}\n`, 'latin1'), Buffer.from(body)]);
}

module.exports = { decodeLegacyValue, encodeLegacyValue };
