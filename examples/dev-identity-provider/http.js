'use strict';
// The development identity provider as an HTTP service (mounted at /dev-idp in the Express example's dev mode, and
// by the stand-alone server.js the Flask example uses): the
// sign-in page a browser is sent to, and Entra-shaped endpoints around the token logic of ./tokens.js.
//
//   GET  /:tenant/v2.0/.well-known/openid-configuration   metadata pointing at these endpoints
//   GET  /:tenant/discovery/v2.0/keys                     the signing keys (JWKS)
//   GET  /:tenant/oauth2/v2.0/authorize                   the sign-in page: pick or type a user
//   POST /:tenant/oauth2/v2.0/authorize                   signs that user in: redirect back with code and state
//   POST /:tenant/oauth2/v2.0/token                       the token endpoint, over HTTP
//   GET  /:tenant/oauth2/v2.0/logout                      back to post_logout_redirect_uri
//   GET  /idp.css                                         the pages' stylesheet
//
// There is no password: anyone who can reach this page can be anyone. That is why it only runs in dev mode.

const path = require('node:path');
const express = require('express');
const { html } = require('../express/html');
const { openIdConfiguration } = require('./tokens');

const DEFAULT_USERS = [
  { username: 'alice@contoso.example', name: 'Alice Example' },
  { username: 'bob@contoso.example', name: 'Bob Example' },
];
const ACCOUNT_FIELDS = new Set(['username', 'name', 'action']);

function originOf(req) {
  return `${req.protocol}://${req.get('host')}`;
}

/**
 * A redirect URI is accepted only on the origin serving this page (the app that mounted it) or on one of
 * `redirectOrigins` (the apps a stand-alone provider serves, server.js), as Entra accepts only an app's registered
 * reply URLs: the provider can never be used to send codes elsewhere.
 */
function checkRedirectUri(req, value, redirectOrigins = []) {
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  return url.origin === originOf(req) || redirectOrigins.includes(url.origin) ? url : null;
}

/**
 * @param {object} idp createDevIdentityProvider()
 * @param {{ users?: object[], mountPath?: string, redirectOrigins?: string[] }} [options] redirectOrigins: other
 *   origins whose redirect URIs are accepted (e.g. "http://localhost:5000"); default none but this router's own
 */
function createDevIdentityProviderRouter(idp, { users = DEFAULT_USERS, mountPath = '/dev-idp', redirectOrigins = [] } = {}) {
  const router = express.Router();
  router.use(express.urlencoded({ extended: false, limit: '64kb' }));
  const baseOf = (req) => `${originOf(req)}${mountPath}/${encodeURIComponent(req.params.tenant)}`;
  const stylesheet = `${mountPath}/idp.css`;
  const refused = (res, message) => res.status(400).type('html').send(String(page('Sign-in request refused', html`<p class="error">${message}</p>`, stylesheet)));

  router.get('/idp.css', (req, res) => res.sendFile(path.join(__dirname, 'idp.css'), { maxAge: '1h' }));

  router.get('/:tenant/v2.0/.well-known/openid-configuration', (req, res) => {
    res.json(openIdConfiguration(req.params.tenant, baseOf(req)));
  });

  router.get('/:tenant/discovery/v2.0/keys', (req, res) => res.json(idp.jwks()));

  router.get('/:tenant/oauth2/v2.0/authorize', (req, res) => {
    const query = new URLSearchParams(req.originalUrl.split('?')[1] || '');
    const problem = requestProblem(req, query);
    if (problem) return refused(res, problem);
    return res.type('html').send(String(signInPage(query, users, req.originalUrl.split('?')[0], stylesheet)));
  });

  router.post('/:tenant/oauth2/v2.0/authorize', (req, res) => {
    const query = new URLSearchParams(Object.entries(req.body).filter(([name]) => !ACCOUNT_FIELDS.has(name)));
    const problem = requestProblem(req, query);
    if (problem) return refused(res, problem);
    const back = new URL(query.get('redirect_uri'));
    if (req.body.action === 'cancel') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'AADSTS65004: User declined to consent to access the app.');
      if (query.get('state')) back.searchParams.set('state', query.get('state'));
      return res.redirect(303, back.toString());
    }
    const username = String(req.body.username || '').trim();
    if (!/^[^\s@<>"]{1,64}@[^\s@<>"]{1,190}$/.test(username)) {
      return res.status(400).type('html').send(String(signInPage(query, users, req.originalUrl, stylesheet, 'Enter a user name like someone@contoso.example.')));
    }
    const user = idp.userNamed(username, String(req.body.name || '').trim().slice(0, 100) || undefined);
    try {
      return res.redirect(303, idp.authorizeRequest(query, user).location);
    } catch (err) {
      return refused(res, err.message);
    }
  });

  router.post('/:tenant/oauth2/v2.0/token', (req, res) => {
    const form = new URLSearchParams(req.body);
    // client_secret_basic: the credentials may come in the Authorization header instead of the body.
    const basic = /^Basic (.+)$/i.exec(req.get('authorization') || '');
    if (basic) {
      const [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':').map(decodeURIComponent);
      form.set('client_id', id);
      form.set('client_secret', secret ?? '');
    }
    const { status, headers, body } = idp.token(req.params.tenant, form, `${baseOf(req)}/oauth2/v2.0/token`);
    res.status(status).set(headers).set('cache-control', 'no-store').json(body);
  });

  router.get('/:tenant/oauth2/v2.0/logout', (req, res) => {
    const back = checkRedirectUri(req, req.query.post_logout_redirect_uri, redirectOrigins);
    if (back) return res.redirect(303, back.toString());
    return res.type('html').send(String(page('Signed out', html`<p>You are signed out of the development identity provider.</p>`, stylesheet)));
  });

  function requestProblem(req, query) {
    if (query.get('client_id') !== idp.clientId) return `Unknown application (client_id "${query.get('client_id') ?? ''}").`;
    if (query.get('response_type') !== 'code') return 'Only the authorization code flow (response_type=code) is supported.';
    if (!checkRedirectUri(req, query.get('redirect_uri'), redirectOrigins)) {
      const allowed = [originOf(req), ...redirectOrigins].join(' or ');
      return `The redirect URI "${query.get('redirect_uri') ?? ''}" is not registered: it must be on ${allowed}.`;
    }
    return null;
  }

  return router;
}

function signInPage(query, users, action, stylesheet, error) {
  const hidden = [...query].map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
  const scopes = (query.get('scope') || '').split(' ').filter(Boolean);
  return page('Sign in', html`
    <p>Development identity provider: pick a user or type any name. There are no passwords here.</p>
    ${error ? html`<p class="error">${error}</p>` : ''}
    ${users.map((user) => html`
      <form method="post" action="${action}">${hidden}
        <input type="hidden" name="username" value="${user.username}">
        <input type="hidden" name="name" value="${user.name}">
        <button class="user" type="submit"><strong>${user.name}</strong><br><small>${user.username}</small></button>
      </form>`)}
    <form method="post" action="${action}" class="other">${hidden}
      <label>User name <input name="username" type="email" placeholder="someone@contoso.example" required></label>
      <label>Display name <input name="name" placeholder="optional"></label>
      <button type="submit">Sign in</button>
    </form>
    <form method="post" action="${action}">${hidden}<button name="action" value="cancel" class="link">Cancel</button></form>
    <p class="scopes">The application asks for: ${scopes.join(', ')}</p>`, stylesheet);
}

function page(title, body, stylesheet) {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Dev identity provider</title>
<link rel="stylesheet" href="${stylesheet}"></head>
<body><main><div class="brand">Dev identity provider</div><h1>${title}</h1>${body}</main></body></html>`;
}

module.exports = { createDevIdentityProviderRouter, DEFAULT_USERS };
