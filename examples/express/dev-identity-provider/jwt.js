'use strict';
// RS256 JSON Web Tokens with node:crypto only: the dev identity provider signs with it, and the local downstream
// API verifies with it, from the provider's published JWKS, exactly as an API verifies Entra ID tokens.

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

class TokenValidationError extends Error {}

/**
 * Verifies an RS256 JWT against a JWKS and the expectations of the API that received it.
 * @param {string} token
 * @param {{ jwks: {keys: object[]}, issuer: (iss: string, claims: object) => boolean, audience: string,
 *   now?: number, leewaySeconds?: number }} expected
 * @returns {object} the claims
 * @throws {TokenValidationError} saying which check failed
 */
function verifyJwt(token, { jwks: keySet, issuer, audience, now = Math.floor(Date.now() / 1000), leewaySeconds = 60 }) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) throw new TokenValidationError('malformed token');
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new TokenValidationError('malformed token');
  }
  // Only RS256, whatever the header says: never let a token choose "none" or an HMAC with a public key.
  if (header.alg !== 'RS256') throw new TokenValidationError(`unexpected algorithm ${header.alg}`);
  const jwk = keySet.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new TokenValidationError('unknown signing key');
  const publicKey = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const valid = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), publicKey, Buffer.from(parts[2], 'base64url'));
  if (!valid) throw new TokenValidationError('invalid signature');
  if (!issuer(claims.iss, claims)) throw new TokenValidationError(`untrusted issuer ${claims.iss}`);
  if (claims.aud !== audience) throw new TokenValidationError(`wrong audience ${claims.aud}`);
  if (typeof claims.exp !== 'number' || claims.exp + leewaySeconds <= now) throw new TokenValidationError('token expired');
  if (typeof claims.nbf === 'number' && claims.nbf - leewaySeconds > now) throw new TokenValidationError('token not yet valid');
  return claims;
}

module.exports = { signJwt, verifyJwt, decodeJwt, jwks, processSigningKey, base64url, TokenValidationError };
