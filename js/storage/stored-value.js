'use strict';
// The format of every value this package stores in Redis (token-cache partitions, sessions, tombstones):
//
//   "mrc2 <type> <etag> <createdAt> <notAfter> <keyId>\n<sealed>"
//
// - type: "c" a token-cache partition, "s" a session, "t" a tombstone (a removed partition; nothing after the
//   header);
// - etag: 16 base64url characters, 12 random bytes drawn for every write. It is the AES-GCM nonce, and the version a
//   compare-and-set checks (see partition-store.js, whose Lua reads it from the header);
// - createdAt: epoch seconds of the partition's first write (absolute lifetime), or when it was removed;
// - notAfter: epoch seconds after which the value is refused, whatever Redis says: the write time plus the TTL the
//   write set (never past a partition's createdAt + absoluteSeconds), or 0 for a session stored without a TTL
//   (disableTTL). Redis's own TTL is not authenticated: whoever can write to Redis can PERSIST a key, or put back a
//   value it copied earlier (undoing a sign-out); this bounds both to the value's own lifetime;
// - keyId: the fingerprint of the encryption key (keyring.js), "plain" for insecurePlaintextStorage;
// - sealed: AES-256-GCM ciphertext and its 16-byte tag, of "<meta>\n<body>", where meta is the URI-encoded owner
//   (the home account id a session partition belongs to) or session id, and body the cache or session JSON. The
//   additional authenticated data is "<redis key>\n<header>": a value copied to another key, truncated, or with any
//   header field changed does not open. With "plain", sealed is the plaintext and a SHA-256 over the same data,
//   which detects accidents only. A tombstone seals an empty meta and body: it too is bound to its key and lifetime.

const crypto = require('node:crypto');

const MAGIC = 'mrc2';
const TYPE = Object.freeze({ partition: 'c', session: 's', tombstone: 't' });
const PLAIN = 'plain';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const DIGEST_BYTES = 32;
const MAX_HEADER_BYTES = 96;
// Servers' clocks differ a little: a value is refused this long after its notAfter, not at once.
const CLOCK_SKEW_SECONDS = 60;
const NEWLINE = 0x0a;
// The etag as partition-store.js's Lua finds it; anything else there is "!foreign".
const HEADER = /^mrc2 ([cst]) ([A-Za-z0-9_-]{16}) (\d{1,15}) (\d{1,15}) ([A-Za-z0-9_-]{1,16})$/;

/**
 * Thrown for a value that cannot be used; its message is short and never contains the value. `expired`: the value
 * is intact but past its notAfter.
 */
class UnreadableValue extends Error {
  constructor(message, { expired = false } = {}) {
    super(message);
    this.expired = expired;
  }
}

function header(type, etag, createdAt, notAfter, keyId) {
  return `${MAGIC} ${type} ${etag} ${createdAt} ${notAfter} ${keyId}`;
}

const aadOf = (key, head) => Buffer.from(`${key}\n${head}`, 'utf8');

function plainDigest(aad, payload) {
  return crypto.createHash('sha256').update(aad).update(payload).digest();
}

/**
 * @param {ReturnType<import('./keyring').createKeyring>} keyring
 * @param {string} key the Redis key the value will be stored under
 * @param {{type: string, createdAt: number, notAfter: number, meta?: string|null, body: Uint8Array|string}} content
 *   notAfter: epoch seconds (0: no limit, for sessions without a TTL only)
 * @returns {{ value: Buffer, etag: string }}
 */
function seal(keyring, key, { type, createdAt, notAfter, meta = null, body }) {
  if (!Number.isSafeInteger(notAfter) || notAfter < 0) throw new TypeError(`notAfter must be epoch seconds (got ${notAfter})`);
  const nonce = crypto.randomBytes(NONCE_BYTES);
  const etag = nonce.toString('base64url');
  const keyId = keyring.plaintext ? PLAIN : keyring.current.id;
  const head = header(type, etag, createdAt, notAfter, keyId);
  const aad = aadOf(key, head);
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body; // no copy of a Buffer
  const payload = [Buffer.from(`${meta === null ? '' : encodeURIComponent(meta)}\n`, 'utf8'), bodyBytes];
  let sealed;
  if (keyring.plaintext) {
    const plain = Buffer.concat(payload);
    sealed = [plain, plainDigest(aad, plain)];
  } else {
    const cipher = crypto.createCipheriv('aes-256-gcm', keyring.current.key, nonce);
    cipher.setAAD(aad);
    sealed = [cipher.update(payload[0]), cipher.update(payload[1]), cipher.final(), cipher.getAuthTag()];
  }
  return { value: Buffer.concat([Buffer.from(`${head}\n`, 'latin1'), ...sealed]), etag };
}

/**
 * A tombstone: the partition at `key` was removed at `removedAt` and stays removed until `notAfter`; writes based on
 * an earlier load must not bring it back.
 */
function tombstone(keyring, key, removedAt, notAfter) {
  return seal(keyring, key, { type: TYPE.tombstone, createdAt: removedAt, notAfter, body: '' });
}

/**
 * The header alone, unverified: for the etag and metadata, never to trust the content.
 * @param {Buffer} value the whole value or its first bytes
 * @returns {{ type: string, etag: string, createdAt: number, notAfter: number, keyId: string, head: string,
 *   bodyStart: number }}
 */
function readHeader(value) {
  if (value.toString('latin1', 0, 5) === 'mrc1 ') throw new UnreadableValue('an mrc1 value (from version 0.1)');
  const end = value.indexOf(NEWLINE);
  if (end < 0 || end > MAX_HEADER_BYTES) throw new UnreadableValue('not a msal-redis-cache value');
  const head = value.toString('latin1', 0, end);
  const match = HEADER.exec(head);
  if (!match) throw new UnreadableValue('not a msal-redis-cache value (unknown format version or header)');
  const [, type, etag, createdAt, notAfter, keyId] = match;
  return { type, etag, createdAt: Number(createdAt), notAfter: Number(notAfter), keyId, head, bodyStart: end + 1 };
}

/**
 * Whether a value of `type` whose header says `notAfter` may still be used at `nowSeconds` (epoch seconds). Only a
 * session stored without a TTL (disableTTL) may have none (0).
 */
function isLive(type, notAfter, nowSeconds) {
  if (notAfter === 0) return type === TYPE.session;
  return nowSeconds <= notAfter + CLOCK_SKEW_SECONDS;
}

/**
 * Verifies and decrypts a value read from `key` at `nowSeconds`.
 * @returns {{ type: string, etag: string, createdAt: number, notAfter: number, keyId: string, meta: string|null,
 *   body: Buffer|null }} body and meta are null for a tombstone
 * @throws {UnreadableValue} for a value that is not an intact value of this key under a key of the ring, or that is
 *   past its notAfter
 */
function open(keyring, key, value, nowSeconds = Math.floor(Date.now() / 1000)) {
  const { type, etag, createdAt, notAfter, keyId, head, bodyStart } = readHeader(value);
  // Before decrypting: the header is authenticated below, so a value whose notAfter was altered does not open
  // either; one past its notAfter is refused whatever its TTL in Redis says (PERSIST, a replayed copy).
  if (!isLive(type, notAfter, nowSeconds)) {
    const why = notAfter === 0 ? 'has no notAfter' : `expired ${nowSeconds - notAfter} s ago (its notAfter)`;
    throw new UnreadableValue(`${why}, although Redis still holds it`, { expired: true });
  }
  const aad = aadOf(key, head);
  const sealed = value.subarray(bodyStart);
  let payload;
  if (keyId === PLAIN) {
    if (!keyring.plaintext) {
      throw new UnreadableValue('stored unencrypted (insecurePlaintextStorage), but this cache encrypts: refused');
    }
    payload = sealed.subarray(0, Math.max(0, sealed.length - DIGEST_BYTES));
    if (sealed.length < DIGEST_BYTES || !plainDigest(aad, payload).equals(sealed.subarray(payload.length))) {
      throw new UnreadableValue('integrity check failed (corrupted, truncated, or copied from another key)');
    }
  } else {
    const secretKey = keyring.byId.get(keyId);
    if (!secretKey) throw new UnreadableValue(`encrypted under key id ${keyId}, which is not in encryptionKeys`);
    if (sealed.length < TAG_BYTES) throw new UnreadableValue('truncated');
    const decipher = crypto.createDecipheriv('aes-256-gcm', secretKey, Buffer.from(etag, 'base64url'));
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      payload = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
      const rest = decipher.final(); // GCM returns nothing here (a stream cipher): no copy of the payload
      if (rest.length > 0) payload = Buffer.concat([payload, rest]);
    } catch {
      throw new UnreadableValue('does not decrypt (altered, truncated, or copied from another key)');
    }
  }
  const metaEnd = payload.indexOf(NEWLINE);
  if (metaEnd < 0) throw new UnreadableValue('malformed content');
  if (type === TYPE.tombstone) {
    if (payload.length !== 1) throw new UnreadableValue('malformed tombstone');
    return { type, etag, createdAt, notAfter, keyId, meta: null, body: null };
  }
  let meta = null;
  if (metaEnd > 0) {
    try {
      meta = decodeURIComponent(payload.toString('utf8', 0, metaEnd));
    } catch {
      throw new UnreadableValue('malformed content');
    }
  }
  return { type, etag, createdAt, notAfter, keyId, meta, body: payload.subarray(metaEnd + 1) };
}

module.exports = { seal, open, tombstone, readHeader, isLive, UnreadableValue, TYPE, MAX_HEADER_BYTES, CLOCK_SKEW_SECONDS };
