'use strict';
// The secrets of a token cache: the encryption keys (the first encrypts, every one decrypts, so keys can be rotated
// without a flag day) and the key-name secret, which turns "session <id>" or "account <oid.tid>" into a Redis key
// name that reveals nothing and stays the same across a rotation of the encryption keys.

const crypto = require('node:crypto');
const { ConfigurationError } = require('../errors');

const KEY_BYTES = 32;
const KEY_ID_CHARS = 11; // 66 bits of a keyed fingerprint: tells keys apart, reveals nothing about them
const NAME_CHARS = 27; // 160 bits: key names never collide in practice
const RECENT_NAMES = 10000; // names kept per keyring (about 1 MB at most)
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const MAKE_KEY_COMMAND = `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))"`;

/** 32 key bytes from a base64 (or base64url) string or a Buffer/Uint8Array; a ConfigurationError otherwise. */
function keyBytes(value, name) {
  let bytes = null;
  if (value instanceof Uint8Array) bytes = Buffer.from(value);
  else if (typeof value === 'string' && BASE64.test(value.trim())) bytes = Buffer.from(value.trim(), 'base64');
  if (bytes === null || bytes.length !== KEY_BYTES) {
    const got = bytes === null ? `a ${value === null ? 'null' : typeof value}` : `${bytes.length} bytes`;
    throw new ConfigurationError(
      `${name} must be ${KEY_BYTES} random bytes, as a base64 string or a Buffer (got ${got}). Make one with: ${MAKE_KEY_COMMAND}`,
    );
  }
  return bytes;
}

/** The key's public name in stored values: a fingerprint, never the key. */
function keyIdOf(bytes) {
  return crypto.createHmac('sha256', bytes).update('msal-redis-cache key id').digest('base64url').slice(0, KEY_ID_CHARS);
}

/**
 * @param {object} options
 * @param {Array<string|Uint8Array>} [options.encryptionKeys] [current, ...previous]
 * @param {string|Uint8Array} [options.keyNameSecret]
 * @param {boolean} [options.insecurePlaintextStorage] store tokens unencrypted (development only)
 * @returns {{ plaintext: boolean, current: {id: string, key: crypto.KeyObject}|null,
 *   byId: Map<string, crypto.KeyObject>, name(kind: string, id: string): string }}
 */
function createKeyring({ encryptionKeys, keyNameSecret, insecurePlaintextStorage = false }) {
  if (typeof insecurePlaintextStorage !== 'boolean') {
    throw new ConfigurationError('insecurePlaintextStorage must be true or false');
  }
  const plaintext = insecurePlaintextStorage;
  if (plaintext && encryptionKeys !== undefined) {
    throw new ConfigurationError('choose one: encryptionKeys (encrypted storage) or insecurePlaintextStorage: true');
  }
  if (!plaintext && encryptionKeys === undefined) {
    throw new ConfigurationError(
      'encryptionKeys is required: tokens are encrypted at rest. Make a key, and a second one for keyNameSecret, ' +
        `with: ${MAKE_KEY_COMMAND} and pass { encryptionKeys: [key], keyNameSecret }. ` +
        '(insecurePlaintextStorage: true stores tokens unencrypted, for development only.)',
    );
  }
  const byId = new Map();
  let current = null;
  if (!plaintext) {
    if (!Array.isArray(encryptionKeys) || encryptionKeys.length === 0) {
      throw new ConfigurationError('encryptionKeys must be a non-empty array: [currentKey, ...previousKeys]');
    }
    encryptionKeys.forEach((value, index) => {
      const bytes = keyBytes(value, `encryptionKeys[${index}]`);
      const id = keyIdOf(bytes);
      if (byId.has(id)) throw new ConfigurationError(`encryptionKeys[${index}] repeats an earlier key`);
      byId.set(id, crypto.createSecretKey(bytes));
      if (index === 0) current = { id, key: byId.get(id) };
    });
    if (keyNameSecret === undefined) {
      throw new ConfigurationError(
        `keyNameSecret is required with encryptionKeys (it names Redis keys without personal data, and must never change). Make one with: ${MAKE_KEY_COMMAND}`,
      );
    }
  }
  const nameSecret = keyNameSecret === undefined ? null : keyBytes(keyNameSecret, 'keyNameSecret');
  if (nameSecret && byId.has(keyIdOf(nameSecret))) {
    throw new ConfigurationError('keyNameSecret must differ from every encryption key');
  }
  // Without a secret (plaintext storage only) names are plain SHA-256: still no personal data in clear, but an
  // attacker who guesses an id can find its key.
  const compute = (input) =>
    (nameSecret ? crypto.createHmac('sha256', nameSecret) : crypto.createHash('sha256'))
      .update(input)
      .digest('base64url')
      .slice(0, NAME_CHARS);
  // Every request names its partition (and a session store its session) again: the names of recent ids are kept,
  // since an HMAC is a few percent of an in-process cache hit. Bounded; emptied when full.
  const recent = new Map();
  const name = (kind, id) => {
    const input = `${kind}\n${id}`;
    let named = recent.get(input);
    if (named === undefined) {
      named = compute(input);
      if (recent.size >= RECENT_NAMES) recent.clear();
      recent.set(input, named);
    }
    return named;
  };
  return { plaintext, current, byId, name };
}

module.exports = { createKeyring, keyBytes, MAKE_KEY_COMMAND };
