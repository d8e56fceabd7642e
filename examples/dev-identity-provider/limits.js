'use strict';
// How much the development identity provider keeps (./tokens.js). Its sign-in page and token endpoint answer anyone
// who can reach them, so nothing it keeps may grow with what strangers send (8,000 anonymous token requests took
// the example from 76 to 626 MiB when it kept them all): the oldest entry goes first, expired ones before it.

const LIMITS = {
  requests: 1000, // the request log: enough for any test's assertions, the latest first to stay
  requestBodyChars: 4096, // per recorded body (names and values); a JWT assertion fits, a 64 KB flood does not
  codes: 500, // codes not yet redeemed (each also expires after ten minutes)
  refreshTokens: 2000, // beyond this the oldest stop working: that user signs in again
  accessTokens: 2000, // kept for on-behalf-of assertions; those expired over an hour ago are dropped first
};

/**
 * map.set(key, value), first removing from the oldest end the entries whose `dropAfter` (epoch seconds) has passed
 * and, at `limit`, the oldest ones. Entries are mostly added in `dropAfter` order, so this stops at the first one
 * still wanted.
 */
function setBounded(map, key, value, limit) {
  const now = nowSeconds();
  for (const [oldKey, old] of map) {
    if (map.size < limit && !(old.dropAfter <= now)) break;
    map.delete(oldKey);
  }
  map.set(key, value);
}

/** The form as an object, its fields kept in order until LIMITS.requestBodyChars; `truncated: true` if cut. */
function recordedBody(form) {
  const body = {};
  let chars = 0;
  for (const [name, value] of form) {
    chars += name.length + value.length;
    if (chars > LIMITS.requestBodyChars) return Object.assign(body, { truncated: true });
    body[name] = value;
  }
  return body;
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

module.exports = { LIMITS, setBounded, recordedBody, nowSeconds };
