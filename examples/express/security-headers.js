'use strict';
// The response headers that make the browser enforce what the app promises, through helmet. The
// Content-Security-Policy allows no inline script or style and nothing from another origin: the pages use one
// stylesheet (/static/app.css) and no script, so even markup injected through a bug could not run anything.

const helmet = require('helmet');

/**
 * @param {object} options
 * @param {string[]} options.formActionOrigins where a form submission may end up besides this origin: sign-out
 *   POSTs here and is then redirected to the identity provider's logout page, and browsers apply form-action to
 *   that redirect too
 * @param {boolean} options.https the app is served over HTTPS: then Strict-Transport-Security. Never over plain
 *   HTTP: a browser that once saw it for "localhost" would refuse every http://localhost app for a year.
 */
function securityHeaders({ formActionOrigins, https }) {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false, // every directive spelled out here, so the policy is read in one place
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"], // no script today; never an inline one
        styleSrc: ["'self'"], // public/app.css; no inline styles
        imgSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'", ...formActionOrigins],
        frameAncestors: ["'none'"], // no clickjacking: no page of the app may be framed
      },
    },
    xFrameOptions: { action: 'deny' }, // frame-ancestors for browsers that predate it
    referrerPolicy: { policy: 'no-referrer' }, // the redirect URL carries the authorization code
    strictTransportSecurity: https ? { maxAge: 365 * 24 * 3600, includeSubDomains: true } : false,
  });
}

module.exports = { securityHeaders };
