'use strict';
// RS256 JSON Web Tokens with node:crypto only, for the dev identity provider to sign with. Verifying is not done
// here: the local downstream API verifies with `jose` against the published JWKS (../downstream-api.js), as an API
// verifies Entra ID tokens.

const crypto = require('node:crypto');

let sharedKey = null;

/**
 * The signing key of every dev identity provider in this process, made on first use. One per process because
 * RSA key generation takes tens of milliseconds and tests create a provider per test; a restart makes a new key,
 * which (like a new session secret) simply means everyone signs in again.
 */
function processSigningKey() {
  if (!sharedKey) {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = crypto.createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64url').slice(0, 16);
    sharedKey = { kid, privateKey, publicKey };
  }
  return sharedKey;
}

function base64url(input) {
  return Buffer.from(input).toString('base64url');
}

function signJwt(claims, key = processSigningKey()) {
  const header = { typ: 'JWT', alg: 'RS256', kid: key.kid };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = crypto.sign('sha256', Buffer.from(signingInput), key.privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** The public half as a JSON Web Key Set, as served at .../discovery/v2.0/keys. */
function jwks(key = processSigningKey()) {
  return { keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, use: 'sig', alg: 'RS256' }] };
}

/** Claims of a JWT without any check; for display and for tools that only read (like msal). */
function decodeJwt(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

module.exports = { signJwt, decodeJwt, jwks, processSigningKey, base64url };
