'use strict';
// The cache page: what this session's token-cache partition holds (GET /cache), and "Refresh now"
// (POST /cache/refresh): msal redeems the refresh token at once, and the page shows that it did. HTML to a
// browser, JSON to `Accept: application/json`.

const express = require('express');
const { CacheFormatError } = require('../../js');
const { storeUnavailable } = require('./errors');
const { signedInAccount } = require('./signed-in');
const { send } = require('./pages');

// This app selects each request's partition with { sessionId } (app.js): a "session" partition.
const PARTITION_KIND = 'session';

/** Redis keys carry the session id: show where it sits, never the id itself. */
function maskSessionId(key, sid) {
  return key.split(sid).join('<this session>');
}

/** When the access token for `scopes` was cached and when it expires (epoch seconds), from a partition description. */
function accessTokenTimes(partition, scopes) {
  if (!partition) return null;
  const wanted = scopes.map((s) => s.toLowerCase());
  const token = partition.tokens.find((t) => t.kind === 'AccessToken' && wanted.every((s) => (t.target || '').toLowerCase().split(' ').includes(s)));
  return token ? { cachedAt: token.cached_at, expiresOn: token.expires_on } : null;
}

/**
 * @param {object} deps see createAuthRouter, plus
 * @param {import('../../js').RedisSessionStore} deps.sessionStore
 * @param {object} deps.redis the ioredis client
 * @param {number} deps.absoluteSeconds the token cache's absolute lifetime cap
 */
function createCachePageRouter({ identity, msalClient, tokenCache, sessionStore, redis, absoluteSeconds, context, views }) {
  const router = express.Router();
  const describe = (sid) => tokenCache.describePartition({ sessionId: sid });

  router.get('/cache', async (req, res) => {
    const sid = req.session.id;
    const view = {
      kind: PARTITION_KIND,
      partitionKey: maskSessionId(sessionStore.partitionKey(sid), sid),
      absoluteSeconds,
      sessionTtlSeconds: null,
      partition: null,
      unreadable: null,
      refreshed: req.session.lastRefresh || null, // what POST /cache/refresh did, shown once
    };
    delete req.session.lastRefresh;
    try {
      const partition = await describe(sid);
      if (partition) view.partition = { ...partition, key: maskSessionId(partition.key, sid) };
    } catch (err) {
      // A corrupt value is what msal would treat as an empty cache: say so. Anything else (Redis down) is an error.
      if (!(err instanceof CacheFormatError)) throw err;
      view.unreadable = maskSessionId(err.message, sid);
    }
    try {
      view.sessionTtlSeconds = await redis.ttl(sessionStore.sessionKey(sid));
    } catch (err) {
      throw Object.assign(storeUnavailable(), { cause: err }); // the app's 503 page, not a raw ioredis error
    }
    const now = Math.round(Date.now() / 1000); // as msal rounds cached_at: a token cached now is not "in 1 second"
    send(req, res, () => views.cachePage(context(req), { view, now }), { signedIn: Boolean(req.session.account), ...view });
  });

  router.post('/cache/refresh', async (req, res) => {
    const sid = req.session.id;
    const msal = msalClient(req);
    const account = await signedInAccount(req, msal);
    const before = accessTokenTimes(await describe(sid), identity.apiScopes);
    const grantsBefore = identity.refreshGrants ? identity.refreshGrants() : null;
    // forceRefresh: msal ignores the cached access token and redeems the refresh token now, as it does by itself
    // when the access token is about to expire; the plugin stores the new tokens (and the rotated refresh token).
    const result = await msal.acquireTokenSilent({ account, scopes: identity.apiScopes, forceRefresh: true });
    const refreshed = {
      at: Date.now(),
      fromCache: result.fromCache,
      before,
      after: accessTokenTimes(await describe(sid), identity.apiScopes),
      refreshGrants: grantsBefore === null ? null : { before: grantsBefore, after: identity.refreshGrants() },
    };
    if (req.accepts(['html', 'json']) === 'json') return res.json({ refreshed });
    // Post/redirect/get: the outcome rides in the session to the cache page, so reloading it does not refresh again.
    req.session.lastRefresh = refreshed;
    await new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
    return res.redirect(303, '/cache');
  });

  return router;
}

module.exports = { createCachePageRouter, maskSessionId };
