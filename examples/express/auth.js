'use strict';
// Sign-in and sign-out: the authorization code flow with PKCE, state and nonce, through msal-node.
//
//   GET  /auth/signin    keeps state, nonce and the PKCE verifier in the session (for 10 minutes); redirects to the IdP
//   GET  /auth/redirect  the IdP's answer: its state must be this session's pending sign-in's (else nothing changes);
//                        then a new session id, msal redeems the code (checking state and nonce) and the plugin
//                        writes the new session's token-cache partition
//   POST /auth/signout   deletes the token-cache partition and the session of a signed-in user (GET shows a button)

const crypto = require('node:crypto');
const express = require('express');
const { CryptoProvider } = require('@azure/msal-node');
const { AppError, signInError, signOutFailed } = require('./errors');
const { CacheStoreError } = require('../../js/errors');

const SIGN_IN_TIMEOUT_MS = 10 * 60 * 1000; // as long as the IdP's authorization code lives

/** The session's sign-in waiting for its answer, or null (none, or older than a sign-in may take). */
function pendingSignIn(session) {
  const pending = session.authRequest;
  return pending && Date.now() - pending.startedAt <= SIGN_IN_TIMEOUT_MS ? pending : null;
}

/** a === b for secrets, in a time that does not depend on where they differ. */
function sameSecret(a, b) {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const digest = (text) => crypto.createHash('sha256').update(text).digest();
  return crypto.timingSafeEqual(digest(a), digest(b));
}

const promisify = (session, method) => new Promise((resolve, reject) => session[method]((err) => (err ? reject(err) : resolve())));

/**
 * @param {object} deps
 * @param {object} deps.identity identityConfig() of config.js
 * @param {(req) => import('@azure/msal-node').ConfidentialClientApplication} deps.msalClient one per request
 * @param {import('../../js').RedisTokenCache} deps.tokenCache
 * @param {string} deps.cookieName
 * @param {(req) => object} deps.context  what the views need (user, mode, storage)
 * @param {object} deps.views
 */
function createAuthRouter({ identity, msalClient, tokenCache, cookieName, context, views }) {
  const router = express.Router();
  const pkce = new CryptoProvider();

  router.get('/signin', async (req, res) => {
    const { verifier, challenge } = await pkce.generatePkceCodes();
    const state = crypto.randomBytes(24).toString('base64url');
    const nonce = crypto.randomBytes(24).toString('base64url');
    // Kept server-side in the session: the browser carries only the session cookie.
    req.session.authRequest = { state, nonce, verifier, startedAt: Date.now() };
    if (!req.session.account) {
      // A session made only for this sign-in lives as long as a sign-in may take, not a day: an abandoned sign-in
      // leaves nothing behind for long. The cookie and the Redis key both take this lifetime (the store reads the
      // cookie's expiry); /redirect starts a new session with the normal lifetime. A signed-in user who signs in
      // again keeps theirs.
      req.session.cookie.maxAge = SIGN_IN_TIMEOUT_MS;
    }
    const url = await msalClient(req).getAuthCodeUrl({
      scopes: identity.apiScopes,
      redirectUri: identity.redirectUri(req),
      state,
      nonce,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      prompt: 'select_account',
    });
    // Saved before the redirect is sent: express-session's own save can finish after the browser has followed it.
    await promisify(req.session, 'save');
    res.redirect(identity.browserUrl(url, req));
  });

  router.get('/redirect', async (req, res) => {
    const { code, state, error } = req.query;
    // Anyone can send a browser here (a link, a cross-site navigation carries the Lax cookie): until the answer is
    // known to belong to this session's own sign-in, nothing in the session changes. Otherwise a page elsewhere
    // could start a sign-in (GET /auth/signin) and answer it with a made-up state, and so sign the user out.
    const pending = pendingSignIn(req.session);
    if (!pending) {
      // Without the stored state msal would skip its check: never redeem a code this session did not ask for.
      throw new AppError(400, 'No sign-in in progress', 'This browser session has no sign-in waiting for an answer (it may have expired). Please sign in again.', { signIn: true });
    }
    if (!sameSecret(state, pending.state)) {
      throw signInError('state_mismatch');
    }
    // From here on the answer is this session's: it ends the pending sign-in, whatever it says.
    if (error) {
      delete req.session.authRequest;
      const description = String(req.query.error_description || '').split(/\r?\n/)[0];
      throw new AppError(401, 'Sign-in was not completed', `The identity provider answered: ${error}${description ? ` (${description})` : ''}`, { signIn: true });
    }
    if (typeof code !== 'string' || code === '') throw new AppError(400, 'Sign-in failed', 'The answer carried no authorization code.', { signIn: true });

    // A new session id at sign-in, so an id planted before it (session fixation) is worth nothing. Before redeeming
    // the code, because the token-cache partition is keyed by the session id.
    delete req.session.authRequest;
    await promisify(req.session, 'regenerate');

    const result = await msalClient(req).acquireTokenByCode(
      {
        code,
        scopes: identity.apiScopes,
        redirectUri: identity.redirectUri(req),
        codeVerifier: pending.verifier,
        state: pending.state, // msal compares it with the state that came back (again) ...
        nonce: pending.nonce, // ... and this with the id token's nonce claim
      },
      { code, state, client_info: req.query.client_info },
    );
    const { account } = result;
    // The session keeps who signed in, never a token: tokens stay in the token cache.
    req.session.account = {
      homeAccountId: account.homeAccountId,
      username: account.username,
      name: account.name,
      tenantId: account.tenantId,
      localAccountId: account.localAccountId,
      signedInAt: Date.now(),
    };
    await promisify(req.session, 'save'); // before the browser follows the redirect (see /signin)
    res.redirect('/profile');
  });

  router.get('/signout', (req, res) => {
    res.send(String(views.signOutPage(context(req))));
  });

  router.post('/signout', async (req, res) => {
    // Signed in: the partition first (if Redis fails here, or its replica does not confirm the sign-out in time, the
    // user sees "sign-out not completed" and the session still works for a retry), then the session. Not signed in (no cookie, an expired session, a sign-in not yet answered): there is
    // no partition, and removing one would write a tombstone under a fresh session id, so any client could make
    // Redis keys without limit. Nothing is written (req.session = null: express-session neither saves, touches nor
    // renews it); the browser forgets its cookie, and a pending sign-in's session expires in minutes.
    if (req.session.account) {
      try {
        await tokenCache.removePartition({ sessionId: req.session.id });
      } catch (err) {
        if (err instanceof CacheStoreError) throw signOutFailed();
        throw err;
      }
      await promisify(req.session, 'destroy');
    } else {
      req.session = null;
    }
    // With the attributes it was set with: a browser ignores a __Host- cookie's deletion that is not Secure.
    res.clearCookie(cookieName, { path: '/', httpOnly: true, sameSite: 'lax', secure: req.secure });
    res.redirect(303, identity.signOutUrl(`${req.protocol}://${req.get('host')}`));
  });

  return router;
}

module.exports = { createAuthRouter };
