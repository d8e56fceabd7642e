'use strict';
// The example's pages. Plain functions returning HTML (see html.js for the escaping); no template engine to learn.

const { html, SafeHtml } = require('./html');

const STYLE = `
  body { font-family: system-ui, sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
  header { background: #243a5e; color: #fff; padding: .8rem 2rem; display: flex; gap: 1.5rem; align-items: center; flex-wrap: wrap; }
  header a { color: #fff; text-decoration: none; } header .name { font-weight: 600; margin-right: auto; }
  header form { margin: 0; } header button { background: none; border: 1px solid #fff; color: #fff; padding: .2rem .7rem; cursor: pointer; }
  .banner { background: #fff4ce; padding: .4rem 2rem; font-size: .85rem; }
  main { max-width: 60rem; margin: 1.5rem auto; padding: 0 2rem; }
  table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; background: #fff; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd; font-size: .9rem; vertical-align: top; }
  th { background: #eef1f6; } code, pre { font-family: ui-monospace, monospace; font-size: .85rem; }
  pre { background: #fff; border: 1px solid #ddd; padding: 1rem; overflow: auto; }
  .button { display: inline-block; background: #0067b8; color: #fff; padding: .5rem 1rem; text-decoration: none; border: 0; cursor: pointer; font-size: 1rem; }
  .error { border-left: 4px solid #a80000; background: #fde7e9; padding: .8rem 1rem; }
  .muted { color: #666; } dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.2rem; }
  dt { font-weight: 600; }`;

function layout(ctx, title, body) {
  const { user, mode, storage } = ctx;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · msal-redis-cache example</title><style>${new SafeHtml(STYLE)}</style></head>
<body>
<header><a class="name" href="/">msal-redis-cache example</a>
  <a href="/profile">Profile</a><a href="/api/call">Call the API</a><a href="/cache">Token cache</a>
  ${user
    ? html`<span>${user.name || user.username}</span><form method="post" action="/auth/signout"><button type="submit">Sign out</button></form>`
    : html`<a href="/auth/signin">Sign in</a>`}
</header>
${mode === 'dev' ? html`<div class="banner">Development mode: local identity provider and API${storage === 'memory' ? html` · <strong>in-memory store: development only</strong>` : ''}.</div>` : ''}
<main><h1>${title}</h1>${body}</main></body></html>`;
}

function homePage(ctx, { signedOut }) {
  return layout(ctx, 'Welcome', html`
    ${signedOut ? html`<p>You are signed out: your session and its token cache were deleted.</p>` : ''}
    <p>A sign-in web app on <code>msal-redis-cache</code>: the session and the tokens of each browser session live in
    ${ctx.storage === 'memory' ? 'this process\'s memory (no Redis found)' : 'Redis'}; the browser only ever holds a session cookie.</p>
    ${ctx.user
      ? html`<p>Signed in as <strong>${ctx.user.username}</strong>. <a href="/profile">Your profile</a>.</p>`
      : html`<p><a class="button" href="/auth/signin">Sign in</a></p>`}`);
}

function profilePage(ctx) {
  const { user } = ctx;
  return layout(ctx, 'Profile', html`
    <dl>
      <dt>Name</dt><dd>${user.name}</dd>
      <dt>User name</dt><dd>${user.username}</dd>
      <dt>Tenant</dt><dd><code>${user.tenantId}</code></dd>
      <dt>Object id</dt><dd><code>${user.localAccountId}</code></dd>
      <dt>Signed in</dt><dd>${new Date(user.signedInAt).toISOString()}</dd>
    </dl>
    <p><a class="button" href="/api/call">Call the API</a> <a class="button" href="/cache">See the token cache</a></p>`);
}

function apiResultPage(ctx, { result, api }) {
  return layout(ctx, 'API call', html`
    <p>Access token ${result.fromCache ? 'served from the token cache' : 'fetched from the identity provider (refreshed)'},
    for <code>${result.scopes.join(' ')}</code>, valid until ${result.expiresOn}.</p>
    <p>The API answered:</p><pre>${JSON.stringify(api, null, 2)}</pre>`);
}

function seconds(value) {
  if (value === null || value === undefined || value < 0) return 'none';
  const h = Math.floor(value / 3600);
  const m = Math.floor((value % 3600) / 60);
  return `${value} s (${h} h ${m} min)`;
}

function time(epochSeconds, now) {
  if (epochSeconds === null || epochSeconds === undefined) return '—';
  const delta = epochSeconds - now;
  const relative = delta >= 0 ? `in ${Math.round(delta / 60)} min` : `${Math.round(-delta / 60)} min ago`;
  return `${new Date(epochSeconds * 1000).toISOString().replace('.000', '')} (${relative})`;
}

function cachePage(ctx, { view, now }) {
  const { partition, sessionTtlSeconds, unreadable } = view;
  const summary = html`<dl>
    <dt>Session key TTL</dt><dd>${seconds(sessionTtlSeconds)}</dd>
    <dt>Partition key</dt><dd><code>${view.partitionKey}</code></dd>
    ${partition ? html`
    <dt>Partition TTL</dt><dd>${seconds(partition.ttlSeconds)}</dd>
    <dt>First written</dt><dd>${time(partition.createdAt, now)}</dd>
    <dt>Size</dt><dd>${partition.storedBytes} bytes stored, ${partition.bytes} bytes of cache JSON</dd>` : ''}
  </dl>`;
  let body;
  if (unreadable) {
    body = html`<p class="error">The stored partition cannot be read (${unreadable}). The token cache treats it as empty;
      it is replaced at the next sign-in.</p>`;
  } else if (!partition) {
    body = html`<p>This session's token cache is empty${ctx.user ? '' : ': you are not signed in'}.</p>`;
  } else {
    body = html`
      <h2>Accounts</h2>
      <table><tr><th>User name</th><th>Tenant</th><th>Environment</th></tr>
      ${partition.accounts.map((a) => html`<tr><td>${a.username}</td><td><code>${a.realm}</code></td><td>${a.environment}</td></tr>`)}
      </table>
      <h2>Tokens</h2>
      <table><tr><th>Kind</th><th>Scopes</th><th>Expires</th><th>Cached</th><th>Secret</th></tr>
      ${partition.tokens.map((t) => html`<tr><td>${t.kind}</td><td>${t.target || '—'}</td><td>${time(t.expires_on, now)}</td>
        <td>${time(t.cached_at, now)}</td><td class="muted">${t.secret_bytes} bytes, not shown</td></tr>`)}
      </table>`;
  }
  return layout(ctx, 'Token cache of this session', html`
    <p class="muted">What Redis holds for the current browser session only. Secrets are never shown.</p>
    ${summary}${body}`);
}

function messagePage(ctx, title, message) {
  return layout(ctx, title, html`<p>${message}</p>`);
}

function errorPage(ctx, { title, message, signIn }) {
  return layout(ctx, title, html`<p class="error">${message}</p>
    ${signIn ? html`<p><a class="button" href="/auth/signin">Sign in</a></p>` : html`<p><a href="/">Home</a></p>`}`);
}

function signOutPage(ctx) {
  return layout(ctx, 'Sign out', html`<form method="post" action="/auth/signout">
    <p>Sign out deletes this session and its cached tokens.</p><button class="button" type="submit">Sign out</button></form>`);
}

module.exports = { layout, homePage, profilePage, apiResultPage, cachePage, messagePage, errorPage, signOutPage };
