'use strict';
// The signed-in pages: the profile, and a call to the downstream API with a token from the cache (the cache page
// is cache-page.js). Each answers HTML to a browser and JSON to `Accept: application/json`.

const express = require('express');
const { callApi } = require('./downstream-api');
const { notSignedIn, signedInAccount } = require('./signed-in');

/** Answers HTML (page() builds it) or JSON, as the client asked. */
function send(req, res, page, json) {
  return res.format({
    html: () => res.send(String(page())),
    json: () => res.json(json),
  });
}

/**
 * @param {object} deps see createAuthRouter
 */
function createPagesRouter({ identity, msalClient, context, views }) {
  const router = express.Router();

  router.get('/', (req, res) => {
    res.send(String(views.homePage(context(req), { signedOut: req.query.signedout === '1' })));
  });

  router.get('/profile', (req, res) => {
    if (!req.session.account) throw notSignedIn();
    send(req, res, () => views.profilePage(context(req)), { user: req.session.account });
  });

  router.get('/api/call', async (req, res) => {
    const msal = msalClient(req);
    const account = await signedInAccount(req, msal);
    // From the cache when the access token is still valid; otherwise msal redeems the cached refresh token and the
    // plugin stores the new tokens.
    const result = await msal.acquireTokenSilent({ account, scopes: identity.apiScopes });
    const api = await callApi(identity.apiUrl(req), result.accessToken);
    const summary = { fromCache: result.fromCache, scopes: result.scopes, expiresOn: result.expiresOn && result.expiresOn.toISOString() };
    send(req, res, () => views.apiResultPage(context(req), { result: summary, api }), { token: summary, api });
  });

  return router;
}

module.exports = { createPagesRouter, send };
