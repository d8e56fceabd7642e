'use strict';
// The format of a value in Redis: one short header line, then the cache JSON.
//   "mrc1 <created_at epoch seconds>\n{...cache...}"
// The header carries what msal's cache JSON cannot: when the partition was first written (for the absolute TTL
// cap), and a version so the format can evolve (encryption) without misreading old values.

const MAGIC = 'mrc1 ';
const MAX_HEADER_BYTES = 32;
const NEWLINE = 0x0a;

/** @returns {Buffer} */
function encodeEnvelope(createdAt, cacheBytes) {
  return Buffer.concat([Buffer.from(`${MAGIC}${createdAt}\n`, 'latin1'), cacheBytes]);
}

/**
 * @param {Buffer} value
 * @returns {{ createdAt: number, body: Buffer }}
 * @throws {Error} with a short reason when the value is not one of ours
 */
function decodeEnvelope(value) {
  const end = value.indexOf(NEWLINE);
  if (end < 0 || end > MAX_HEADER_BYTES || value.toString('latin1', 0, MAGIC.length) !== MAGIC) {
    throw new Error('not a msal-redis-cache value (unknown header)');
  }
  const created = value.toString('latin1', MAGIC.length, end);
  if (!/^\d{1,15}$/.test(created)) throw new Error('not a msal-redis-cache value (bad creation time)');
  return { createdAt: Number(created), body: value.subarray(end + 1) };
}

module.exports = { encodeEnvelope, decodeEnvelope };
