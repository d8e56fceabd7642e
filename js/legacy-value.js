'use strict';
// The format of a value in Redis: one short header line, then the cache JSON exactly as the core wrote it.
//   "mrc1 <created_at> <owner> <digest>\n{...cache...}"
// - created_at: epoch seconds of the partition's first write (for the absolute TTL cap);
// - owner: the home account id a session partition belongs to (URI-encoded), "-" for other partitions;
// - digest: base64url SHA-256 over the key, the header fields and the body.
// The core validates and restricts every cache before it is written, so a value whose digest matches is known
// good and the read path does not parse it again (parsing in wasm is the expensive step; hashing is ~1 GB/s).
// A value that was corrupted, truncated, or copied from another key fails the digest and is a cache miss. The
// digest is not a secret: it detects accidents, not an attacker with write access to Redis.

const { createHash } = require('node:crypto');

const MAGIC = 'mrc1';
const MAX_HEADER_BYTES = 512;
const NEWLINE = 0x0a;
const NO_OWNER = '-';

function digestOf(key, createdAt, owner, body) {
  return createHash('sha256').update(`${key}\n${createdAt} ${owner}\n`).update(body).digest('base64url');
}

/**
 * @param {string} key the Redis key the value is stored under
 * @param {{createdAt: number, owner: string|null}} header
 * @param {Uint8Array} body the cache JSON bytes
 * @returns {Buffer}
 */
function encodeEnvelope(key, { createdAt, owner }, body) {
  const ownerField = owner ? encodeURIComponent(owner) : NO_OWNER;
  const digest = digestOf(key, createdAt, ownerField, body);
  return Buffer.concat([Buffer.from(`${MAGIC} ${createdAt} ${ownerField} ${digest}\n`, 'latin1'), body]);
}

/**
 * The header alone, unverified (e.g. from a GETRANGE of the first MAX_HEADER_BYTES): for metadata only, never to
 * trust the body.
 * @returns {{ createdAt: number, owner: string|null, ownerField: string, digest: string, bodyStart: number }}
 */
function readHeader(value) {
  const end = value.indexOf(NEWLINE);
  if (end < 0 || end > MAX_HEADER_BYTES) throw new Error('not a msal-redis-cache value (no header)');
  const fields = value.toString('latin1', 0, end).split(' ');
  const [magic, created, ownerField, digest] = fields;
  if (fields.length !== 4 || magic !== MAGIC) throw new Error('not a msal-redis-cache value (unknown header)');
  if (!/^\d{1,15}$/.test(created)) throw new Error('not a msal-redis-cache value (bad creation time)');
  let owner = null;
  if (ownerField !== NO_OWNER) {
    try {
      owner = decodeURIComponent(ownerField);
    } catch {
      throw new Error('not a msal-redis-cache value (bad owner)');
    }
  }
  return { createdAt: Number(created), owner, ownerField, digest, bodyStart: end + 1 };
}

/**
 * @param {string} key the Redis key the value was read from
 * @param {Buffer} value
 * @returns {{ createdAt: number, owner: string|null, body: Buffer }}
 * @throws {Error} with a short reason when the value is not an intact value of this key
 */
function decodeEnvelope(key, value) {
  const { createdAt, owner, ownerField, digest, bodyStart } = readHeader(value);
  const body = value.subarray(bodyStart);
  if (digestOf(key, createdAt, ownerField, body) !== digest) {
    throw new Error('integrity check failed (value corrupted, truncated, or copied from another key)');
  }
  return { createdAt, owner, body };
}

module.exports = { encodeEnvelope, decodeEnvelope, readHeader, MAX_HEADER_BYTES };
