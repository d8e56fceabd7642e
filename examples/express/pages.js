'use strict';
// The signed-in pages: the profile, a call to the downstream API with a token from the cache, and what the cache
// holds for this session. Each answers HTML to a browser and JSON to `Accept: application/json`.

const express = require('express');
const { AppError } = require('./errors');
const { callApi } = require('./downstream-api');
const { CacheFormatError } = require('../../js/errors');

const notSignedIn = () => new AppError(401, 'You are not signed in', 'Sign in to see this page.', { signIn: true });

/** Redis keys carry the session id: show where it sits, never the id itself. */
function maskSessionId(key, sid) {
  return key.split(sid).join('<this session>');
}

/**
 * @param {object} deps see createAuthRouter, plus
 * @param {import('../../js').RedisSessionStore} deps.sessionStore
 * @param {object} deps.redis the ioredis client
 */
function createPagesRouter({ identity, msalClient, tokenCache, sessionStore, redis, context, views }) {
  const router = express.Router();

  const send = (req, res, page, json) => res.format({
    html: () => res.send(String(page())),
    json: () => res.json(json),
  });

  router.get('/', (req, res) => {
    res.send(String(views.homePage(context(req), { signedOut: req.query.signedout === '1' })));
  });

  router.get('/profile', (req, res) => {
    if (!req.session.account) throw notSignedIn();
    send(req, res, () => views.profilePage(context(req)), { user: req.session.account });
  });

  router.get('/api/call', async (req, res) => {
    const signedIn = req.session.account;
    if (!signedIn) throw notSignedIn();
    const msal = msalClient(req);
    // Reads this session's partition from Redis (the plugin's beforeCacheAccess).
    const account = await msal.getTokenCache().getAccountByHomeId(signedIn.homeAccountId);
    if (!account) {
      // Expired, deleted or unreadable partition: the session knows the user but holds no token any more.
      delete req.session.account;
      throw new AppError(401, 'Please sign in again', 'This session\'s token cache is empty (it expired or could not be read).', { signIn: true });
    }
    // From the cache when the access token is still valid; otherwise msal redeems the cached refresh token and the
    // plugin stores the new tokens.
    const result = await msal.acquireTokenSilent({ account, scopes: identity.apiScopes });
    const api = await callApi(identity.apiUrl(req), result.accessToken);
    const summary = { fromCache: result.fromCache, scopes: result.scopes, expiresOn: result.expiresOn && result.expiresOn.toISOString() };
    send(req, res, () => views.apiResultPage(context(req), { result: summary, api }), { token: summary, api });
  });

  router.get('/cache', async (req, res) => {
    const sid = req.session.id;
    const view = {
      partitionKey: maskSessionId(sessionStore.partitionKey(sid), sid),
      sessionTtlSeconds: await redis.ttl(sessionStore.sessionKey(sid)),
      partition: null,
      unreadable: null,
    };
    try {
      const partition = await tokenCache.describePartition({ sessionId: sid });
      if (partition) view.partition = { ...partition, key: maskSessionId(partition.key, sid) };
    } catch (err) {
      // A corrupt value is what msal would treat as an empty cache: say so. Anything else (Redis down) is an error.
      if (!(err instanceof CacheFormatError)) throw err;
      view.unreadable = maskSessionId(err.message, sid);
    }
    const now = Math.floor(Date.now() / 1000);
    send(req, res, () => views.cachePage(context(req), { view, now }), { signedIn: Boolean(req.session.account), ...view });
  });

  return router;
}

module.exports = { createPagesRouter, maskSessionId };
