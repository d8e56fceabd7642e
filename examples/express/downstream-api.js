'use strict';
// The downstream API of dev mode (mounted at /dev-api): a protected resource that accepts a request only with a
// bearer token it can verify came from the dev identity provider: RS256 signature against the provider's JWKS,
// issuer, audience, expiry and the delegated scope, as an API verifies Entra ID tokens.

const express = require('express');
const { verifyJwt, TokenValidationError } = require('./dev-identity-provider/jwt');

/**
 * @param {{ identityProvider: object, audience: string, scope: string }} options
 */
function createDownstreamApi({ identityProvider, audience, scope }) {
  const router = express.Router();

  router.get('/me', (req, res) => {
    const bearer = /^Bearer (\S+)$/.exec(req.get('authorization') || '');
    const reject = (description) => {
      res.set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${description.replace(/"/g, "'")}"`);
      res.status(401).json({ error: 'invalid_token', error_description: description });
    };
    if (!bearer) return reject('no bearer token');
    let claims;
    try {
      claims = verifyJwt(bearer[1], { jwks: identityProvider.jwks(), issuer: identityProvider.isIssuer, audience });
    } catch (err) {
      if (err instanceof TokenValidationError) return reject(err.message);
      throw err;
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
