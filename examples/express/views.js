'use strict';
// The example's pages. Plain functions returning HTML (see html.js for the escaping); no template engine to learn.
// Styles are in public/app.css and there is no script: the Content-Security-Policy (security-headers.js) allows no
// inline style or script. The cache page is in cache-view.js.

const { html } = require('./html');
const { absoluteTime, relativeTime } = require('./format');

const NAV = [
  ['/profile', 'Profile'],
  ['/api/call', 'Call the API'],
  ['/cache', 'Token cache'],
];

/**
 * The header's account area, in one of three states. "Unknown" is when the request carries a session cookie but
 * the session could not be loaded (Redis down): the user may well be signed in, so "Sign in" would be wrong.
 */
function account({ user, sessionUnavailable }) {
  if (user) {
    return html`<span class="who">${user.name || user.username}</span>
      <form method="post" action="/auth/signout"><button type="submit">Sign out</button></form>`;
  }
  if (sessionUnavailable) return html`<span class="unknown">Session unavailable</span>`;
  return html`<a class="signin" href="/auth/signin">Sign in</a>`;
}

/** @param {{ user?: object, sessionUnavailable?: boolean, mode: string, storage: string, path?: string }} ctx */
function layout(ctx, title, body) {
  const { mode, storage, path } = ctx;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · msal-redis-cache example</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/static/app.css"></head>
<body>
<header><a class="name" href="/">msal-redis-cache example</a>
  <nav>${NAV.map(([href, label]) => html`<a href="${href}"${path === href ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
  <div class="account">${account(ctx)}</div>
</header>
${mode === 'dev' ? html`<div class="banner">Development mode: local identity provider and API${storage === 'memory' ? html` · <strong>in-memory store: development only</strong>` : ''}.</div>` : ''}
<main><h1>${title}</h1>${body}</main></body></html>`;
}

/** "3 minutes ago" (or "in 14 days") with the exact time after it: what people want to know first. */
function when(epochSeconds, now = Math.round(Date.now() / 1000)) {
  if (epochSeconds === null || epochSeconds === undefined) return '—';
  return html`<time datetime="${new Date(epochSeconds * 1000).toISOString()}">${relativeTime(epochSeconds, now)}</time>
    <small class="muted at">${absoluteTime(epochSeconds)}</small>`;
}

/** The sign-in button of a page body; "Sign in again" to someone the header shows as signed in. */
function signInButton(ctx) {
  return html`<a class="button" href="/auth/signin">${ctx.user ? 'Sign in again' : 'Sign in'}</a>`;
}

function homePage(ctx, { signedOut }) {
  return layout(ctx, 'Welcome', html`
    ${signedOut ? html`<p>You are signed out: your session and its token cache were deleted.</p>` : ''}
    <p>A sign-in web app on <code>msal-redis-cache</code>: the session and the tokens of each browser session live in
    ${ctx.storage === 'memory' ? 'this process\'s memory (no Redis found)' : 'Redis'}; the browser only ever holds a session cookie.</p>
    ${ctx.user
      ? html`<p>Signed in as <strong>${ctx.user.username}</strong>. <a href="/profile">Your profile</a>.</p>`
      : html`<p>${signInButton(ctx)}</p>`}`);
}

function profilePage(ctx) {
  const { user } = ctx;
  return layout(ctx, 'Profile', html`
    <dl>
      <dt>Name</dt><dd>${user.name}</dd>
      <dt>User name</dt><dd>${user.username}</dd>
      <dt>Tenant</dt><dd><code>${user.tenantId}</code></dd>
      <dt>Object id</dt><dd><code>${user.localAccountId}</code></dd>
      <dt>Signed in</dt><dd>${when(Math.round(user.signedInAt / 1000))}</dd>
    </dl>
    <p><a class="button" href="/api/call">Call the API</a> <a class="button" href="/cache">See the token cache</a></p>`);
}

/** "expiring in 1 hour (2025-11-24 12:12:58 UTC)", from an ISO time. */
function expiry(iso) {
  if (!iso) return 'with no expiry given';
  const at = Math.round(Date.parse(iso) / 1000);
  return `expiring ${relativeTime(at, Math.round(Date.now() / 1000))} (${absoluteTime(at)})`;
}

function apiResultPage(ctx, { result, api }) {
  return layout(ctx, 'API call', html`
    <p>Access token ${result.fromCache ? 'served from the token cache' : 'fetched from the identity provider (refreshed)'},
    for <code>${result.scopes.join(' ')}</code>, ${expiry(result.expiresOn)}.</p>
    <p>The API answered:</p><pre>${JSON.stringify(api, null, 2)}</pre>`);
}

function messagePage(ctx, title, message) {
  return layout(ctx, title, html`<p>${message}</p>`);
}

function errorPage(ctx, { title, message, signIn }) {
  return layout(ctx, title, html`<p class="error">${message}</p>
    <p>${signIn ? signInButton(ctx) : html`<a href="/">Home</a>`}</p>`);
}

function signOutPage(ctx) {
  return layout(ctx, 'Sign out', html`<form method="post" action="/auth/signout">
    <p>Sign out deletes this session and its cached tokens.</p><button class="button" type="submit">Sign out</button></form>`);
}

module.exports = { layout, when, homePage, profilePage, apiResultPage, messagePage, errorPage, signOutPage };
