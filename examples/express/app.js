'use strict';
// The example web app: sign-in with msal-node, sessions and token caches in Redis (one partition per session),
// tokens never in the browser. createApp() builds it (server.js starts it; tests start several).

const crypto = require('node:crypto');
const path = require('node:path');
const express = require('express');
const session = require('express-session');
const { RedisTokenCache, RedisSessionStore, DEFAULTS } = require('../../js');
const { identityConfig } = require('./config');
const { createAuthRouter } = require('./auth');
const { createPagesRouter } = require('./pages');
const { createCachePageRouter } = require('./cache-page');
const { createDownstreamApi } = require('./downstream-api');
const { createDevIdentityProviderRouter } = require('../dev-identity-provider/http');
const { createHealthRouter } = require('./health');
const { securityHeaders } = require('./security-headers');
const { sameOriginOnly } = require('./same-origin');
const { AppError, errorHandler } = require('./errors');
const views = { ...require('./views'), ...require('./cache-view') };

const COOKIE_NAME = 'sid';
const DEFAULT_SESSION_SECONDS = 24 * 3600; // = the token cache's default sliding window: both expire together
const PUBLIC = path.join(__dirname, 'public');

/**
 * The token cache's keys: from the options (ENCRYPTION_KEYS and KEY_NAME_SECRET in server.js), else made up for this
 * run, like the session secret, with a warning: encrypted data then cannot be read after a restart.
 */
function tokenCacheSecrets({ encryptionKeys, keyNameSecret }, logger) {
  if (encryptionKeys && keyNameSecret) return { encryptionKeys, keyNameSecret };
  if (encryptionKeys || keyNameSecret) throw new Error('set both ENCRYPTION_KEYS and KEY_NAME_SECRET, or neither');
  logger.warn(
    'ENCRYPTION_KEYS and KEY_NAME_SECRET are not set: using random development keys (cached tokens are unreadable ' +
      'after a restart and not shared between instances).',
  );
  return { encryptionKeys: [crypto.randomBytes(32)], keyNameSecret: crypto.randomBytes(32) };
}

/**
 * @param {object} options
 * @param {object} options.redis an ioredis client (or the in-memory stand-in of memory-redis.js)
 * @param {'redis'|'memory'} [options.storage] shown on the pages; default 'redis'
 * @param {object|null} [options.entra] { tenantId, clientId, clientSecret, redirectUri, apiUrl, apiScopes }: real
 *   Entra ID; without it the app runs in dev mode with the local identity provider and API
 * @param {object} [options.identityProvider] dev mode: the provider to use (instances that share one behave as
 *   one app); default a new one
 * @param {string|string[]} [options.sessionSecret] signs the session cookie; instances behind one Redis must share
 *   it; default random (every restart signs everyone out)
 * @param {boolean|number|string} [options.trustProxy] Express "trust proxy": lets X-Forwarded-Proto mark a request as
 *   HTTPS behind a TLS-terminating proxy, so the cookie is Secure (in Entra mode with an https redirect URI it
 *   always is)
 * @param {number} [options.sessionSeconds] idle lifetime of a session and of its token cache; default 86400
 * @param {Array<string|Buffer>} [options.encryptionKeys] the token cache's encryption keys, current first; with
 *   keyNameSecret; default random keys for this run
 * @param {string|Buffer} [options.keyNameSecret] names Redis keys without personal data
 * @param {object} [options.tokenCacheOptions] more RedisTokenCache options (prefix, absoluteSeconds, ...)
 * @param {string} [options.sessionPrefix] prefix of session keys; default "sess:"
 * @param {{warn: Function, error: Function}} [options.logger] default console
 */
function createApp(options) {
  const { redis, storage = 'redis', logger = console, sessionSeconds = DEFAULT_SESSION_SECONDS } = options;
  if (!redis) throw new Error('createApp: options.redis is required');
  const identity = identityConfig(options);
  const tokenCacheOptions = options.tokenCacheOptions || {};
  // Stated here rather than left to the default, because the cache page shows it.
  const absoluteSeconds = tokenCacheOptions.absoluteSeconds ?? DEFAULTS.absoluteSeconds;
  const tokenCache = new RedisTokenCache({
    redis, logger, slidingSeconds: sessionSeconds, ...tokenCacheSecrets(options, logger), ...tokenCacheOptions, absoluteSeconds,
  });
  const sessionStore = new RedisSessionStore({
    redis, tokenCache, logger, ttlSeconds: sessionSeconds, ...(options.sessionPrefix !== undefined && { prefix: options.sessionPrefix }),
  });
  let secret = options.sessionSecret;
  if (!secret) {
    secret = crypto.randomBytes(32).toString('base64url');
    logger.warn('SESSION_SECRET is not set: using a random one (sessions end on restart and are not shared between instances).');
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  app.locals = Object.assign(app.locals, { tokenCache, sessionStore, identity, redis });
  app.use(securityHeaders({ formActionOrigins: identity.formActionOrigins, https: identity.https }));

  // Before the session middleware: files and probes neither create a session nor wait for Redis.
  app.use('/static', express.static(PUBLIC, { index: false, maxAge: '1h' }));
  for (const icon of ['/favicon.svg', '/favicon.ico']) {
    // One SVG icon; also at the address browsers and tools ask for without reading the page's <link>.
    app.get(icon, (req, res) => res.type('image/svg+xml').sendFile(path.join(PUBLIC, 'favicon.svg'), { maxAge: '1d' }));
  }
  // Everything from here on is made for this request (pages with the user's data, the cache page, JSON, redirects):
  // no browser or proxy may keep it, so Back after sign-out cannot show a signed-in page from the browser's cache.
  app.use((req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  app.use(createHealthRouter({ redis, tokenCache, storage }));

  if (identity.mode === 'dev') {
    // The stand-ins for Entra ID and a protected API: outside the session middleware, as they are other services.
    const idp = identity.identityProvider;
    app.use('/dev-idp', createDevIdentityProviderRouter(idp));
    app.use('/dev-api', createDownstreamApi({ jwks: idp.jwks(), issuer: idp.issuer, audience: identity.apiAudience, scope: identity.apiScope }));
  }

  app.use(sameOriginOnly()); // every POST of the app from here on: cross-site request forgery protection
  // The app's public URL is https (Entra mode, REDIRECT_URI): the browser always talks HTTPS to it, whatever the hop
  // from a TLS-terminating proxy looks like (and TRUST_PROXY may be unset), so the cookie is always Secure, and
  // named __Host- (Secure, Path=/, no Domain: no other host or path can set or shadow it). express-session sets a
  // Secure cookie only on a request it believes is HTTPS: it reads req.secure. Dev mode keeps secure: 'auto', so
  // http://localhost works.
  const cookieName = identity.https ? `__Host-${COOKIE_NAME}` : COOKIE_NAME;
  if (identity.https) {
    app.use((req, res, next) => {
      Object.defineProperty(req, 'secure', { value: true });
      next();
    });
  }
  app.use(session({
    name: cookieName,
    store: sessionStore,
    secret,
    resave: false,
    saveUninitialized: false, // no Redis key for visitors who never sign in
    rolling: true, // every response renews the cookie; the store renews both Redis keys with it
    cookie: { httpOnly: true, sameSite: 'lax', secure: identity.https || 'auto', maxAge: sessionSeconds * 1000, path: '/' },
  }));

  const context = (req) => ({
    user: req.session && req.session.account,
    // A session cookie came, but its session could not be loaded (Redis down): who it is, is unknown.
    sessionUnavailable: !req.session && typeof req.sessionID === 'string',
    mode: identity.mode,
    storage,
    path: req.path,
  });
  // One ConfidentialClientApplication per request, bound to this session's partition: never shared across users.
  const msalClient = (req) => tokenCache.createClientApplication(identity.msalConfig(req), { sessionId: req.session.id });
  const deps = { identity, msalClient, tokenCache, sessionStore, redis, absoluteSeconds, context, views, cookieName };

  app.use('/auth', createAuthRouter(deps));
  app.use(createPagesRouter(deps));
  app.use(createCachePageRouter(deps));
  app.use((req) => {
    throw new AppError(404, 'Not found', `There is no page at ${req.path}.`);
  });
  app.use(errorHandler({ logger, renderError: (req, problem) => views.errorPage(context(req), problem) }));
  return app;
}

module.exports = { createApp, COOKIE_NAME };
