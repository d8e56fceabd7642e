'use strict';
// The downstream API of dev mode (mounted at /dev-api): a protected resource that accepts a request only with a
// bearer token it can verify, with `jose`, exactly as an API verifies Microsoft Entra ID access tokens. This is the
// code to copy into an API; for Entra, give it
//   jwks:     new URL('https://login.microsoftonline.com/<tenant id>/discovery/v2.0/keys')  (fetched and cached by
//             jose's createRemoteJWKSet, fetched again when a token names a key it does not know: key rotation)
//   issuer:   'https://login.microsoftonline.com/<tenant id>/v2.0'  (v2.0 tokens: accessTokenAcceptedVersion 2)
//   audience: your API's application (client) ID and/or its App ID URI, e.g. ['<client id>', 'api://<client id>']
//   scope:    the delegated permission your API exposes, e.g. 'Data.Read'
// (jose is ES modules only: a CommonJS app needs Node >= 20.19 or >= 22.12 to require() it.)

const express = require('express');
const { jwtVerify, createLocalJWKSet, createRemoteJWKSet, errors } = require('jose');

const CLOCK_TOLERANCE_SECONDS = 60;

/** What a refused token is told, by jose's error code: short, and the same words whatever jose's wording. */
const REASONS = {
  ERR_JWS_INVALID: 'malformed token',
  ERR_JWT_INVALID: 'malformed token',
  ERR_JOSE_ALG_NOT_ALLOWED: 'unexpected algorithm',
  ERR_JOSE_NOT_SUPPORTED: 'unexpected algorithm',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown signing key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'ambiguous signing key',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'invalid signature',
  ERR_JWT_EXPIRED: 'token expired',
};
const CLAIM_REASONS = { aud: 'wrong audience', iss: 'untrusted issuer', nbf: 'token not yet valid', exp: 'token expired', iat: 'bad issue time' };

/** The reason a token is refused (401), or null when the error is not the token's fault (keys unreachable: 5xx). */
function refusalReason(err) {
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return `missing ${err.claim} claim`;
    return CLAIM_REASONS[err.claim] || `${err.claim} claim check failed`;
  }
  return REASONS[err.code] || null;
}

/**
 * @param {object} options
 * @param {URL|string|{keys: object[]}} options.jwks the issuer's signing keys: the URL of its JWKS (fetched by
 *   createRemoteJWKSet), or the key set itself (createLocalJWKSet). The key is chosen by the token's `kid`.
 * @param {string|string[]} options.issuer the accepted `iss` value(s)
 * @param {string|string[]} options.audience the accepted `aud` value(s); the token's `aud` may be an array
 * @param {string} options.scope the delegated scope a token must carry in `scp`
 */
function createDownstreamApi({ jwks, issuer, audience, scope }) {
  const keys = jwks instanceof URL || typeof jwks === 'string' ? createRemoteJWKSet(new URL(jwks)) : createLocalJWKSet(jwks);
  const router = express.Router();

  router.get('/me', async (req, res) => {
    const bearer = /^Bearer (\S+)$/.exec(req.get('authorization') || '');
    const reject = (description) => {
      res.set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${description}"`);
      res.status(401).json({ error: 'invalid_token', error_description: description });
    };
    if (!bearer) return reject('no bearer token');
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(bearer[1], keys, {
        algorithms: ['RS256'], // what the issuer signs with: never "none", never an HMAC keyed with the public key
        issuer,
        audience,
        requiredClaims: ['exp', 'iat'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (err) {
      const reason = err instanceof errors.JOSEError ? refusalReason(err) : null;
      if (reason) return reject(reason);
      throw err; // e.g. the keys could not be fetched: the API's problem, not the caller's
    }
    if (!String(claims.scp || '').split(' ').includes(scope)) return reject(`the token lacks the ${scope} scope`);
    return res.json({
      message: 'Hello from the downstream API: your access token is valid.',
      user: { name: claims.name, username: claims.preferred_username, oid: claims.oid, tid: claims.tid },
      token: { audience: claims.aud, scopes: claims.scp, issuedAt: claims.iat, expiresAt: claims.exp },
    });
  });

  return router;
}

/**
 * Calls an API with an access token; resolves to its JSON. Throws an Error with `status` 502 when the API cannot
 * be reached or refuses, saying why, without ever including the token.
 */
async function callApi(url, accessToken, { timeoutMs = 10000 } = {}) {
  let response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw Object.assign(new Error(`The downstream API at ${url} could not be reached (${err.message}).`), { status: 502 });
  }
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: reported below
  }
  if (!response.ok) {
    const reason = (body && (body.error_description || (body.error && body.error.message) || body.error)) || text.slice(0, 200);
    throw Object.assign(new Error(`The downstream API refused the call: ${response.status} ${reason}`), { status: 502 });
  }
  if (body === null) throw Object.assign(new Error('The downstream API did not answer with JSON.'), { status: 502 });
  return body;
}

module.exports = { createDownstreamApi, callApi };
