'use strict';
// Cross-site request forgery protection for every request that changes state (POST /auth/signout,
// POST /cache/refresh, and any form added later): the browser says where a request comes from, and one that comes
// from another site is refused with 403 before it reaches the session.
//   - Sec-Fetch-Site (sent by every current browser): only "same-origin" may change state ("none" too: a request
//     the user made directly, never one a page made);
//   - else Origin (older browsers): its host must be this request's Host;
//   - neither: not a browser (curl, a monitoring probe) or a very old one. The session cookie is SameSite=Lax, so a
//     cross-site POST carries no session anyway.
// Unlike SameSite alone, this also stops a page on a sibling subdomain (same site, other origin), and unlike a
// token in every form, there is nothing to forget when a form is added.

const { AppError } = require('./errors');

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function hostOf(origin) {
  try {
    return new URL(origin).host;
  } catch {
    return null; // "null" (a sandboxed or privacy-sensitive context) or garbage: not this origin
  }
}

function isSameOrigin(req) {
  const site = req.get('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const origin = req.get('origin');
  if (origin === undefined) return true;
  return hostOf(origin) === req.get('host');
}

function sameOriginOnly() {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method) || isSameOrigin(req)) return next();
    return next(new AppError(403, 'Request refused', 'This request came from another site, so it was refused (cross-site request forgery protection). Please use the app\'s own buttons.'));
  };
}

module.exports = { sameOriginOnly };
