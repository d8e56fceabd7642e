'use strict';
// The cache page: what Redis holds for this browser session's token-cache partition, its lifetimes, and the
// outcome of "Refresh now". Never a secret: the partition description has none (only their sizes).

const { html } = require('./html');
const { layout, when } = require('./views');
const { absoluteTime, duration } = require('./format');

const KINDS = {
  session: 'session: one per browser session, deleted at sign-out (selected by { sessionId })',
  account: 'account: one per user, shared by all their sessions (selected by { homeAccountId })',
  app: 'app: the application\'s own tokens, client credentials (selected by { tenantId })',
  obo: 'obo: an API\'s on-behalf-of tokens for one incoming token (selected by { userAssertion })',
};

/** A Redis TTL: -2 no key, -1 no expiry. */
function ttl(seconds) {
  if (seconds === null || seconds === undefined || seconds === -2) return 'no key';
  if (seconds === -1) return 'none (never expires)';
  return html`${duration(seconds)} <small class="muted">${seconds} s</small>`;
}

function clock(epochSeconds) {
  return epochSeconds ? absoluteTime(epochSeconds).slice(11) : '—';
}

function refreshNotice(refreshed) {
  const { before, after, refreshGrants } = refreshed;
  const changed = (field) => html`${clock(before && before[field])} → <strong>${clock(after && after[field])}</strong>`;
  return html`<section class="notice" aria-live="polite">
    <h2>${refreshed.fromCache ? 'No refresh token was redeemed' : 'Refresh token redeemed'}</h2>
    <p>At ${clock(Math.floor(refreshed.at / 1000))}: ${refreshed.fromCache
      ? 'msal answered from the cache.'
      : 'msal redeemed the refresh token (acquireTokenSilent with forceRefresh) and the token cache stored the new tokens.'}</p>
    <dl>
      <dt>Access token issued</dt><dd>${changed('cachedAt')}</dd>
      <dt>Access token expires</dt><dd>${changed('expiresOn')}</dd>
      ${refreshGrants ? html`<dt>Refresh-token grants</dt><dd>${refreshGrants.before} → <strong>${refreshGrants.after}</strong>
        <small class="muted note">answered by the development identity provider, all users</small></dd>` : ''}
    </dl></section>`;
}

function tokensTable(tokens, now) {
  return html`<table class="cards"><thead><tr><th>Kind</th><th>Scopes</th><th>Expires</th><th>Cached</th><th>Secret</th></tr></thead>
    <tbody>${tokens.map((t) => html`<tr><td data-label="Kind">${t.kind}</td><td data-label="Scopes">${t.target || '—'}</td>
      <td data-label="Expires">${when(t.expires_on, now)}</td><td data-label="Cached">${when(t.cached_at, now)}</td>
      <td data-label="Secret" class="muted">${t.secret_bytes} bytes, not shown</td></tr>`)}</tbody></table>`;
}

function accountsTable(accounts) {
  return html`<table class="cards"><thead><tr><th>User name</th><th>Tenant</th><th>Environment</th></tr></thead>
    <tbody>${accounts.map((a) => html`<tr><td data-label="User name">${a.username}</td>
      <td data-label="Tenant"><code>${a.realm}</code></td><td data-label="Environment">${a.environment}</td></tr>`)}</tbody></table>`;
}

/**
 * @param {object} ctx layout context
 * @param {{ view: object, now: number }} data view: see cache-page.js; now in epoch seconds
 */
function cachePage(ctx, { view, now }) {
  const { partition, unreadable, refreshed } = view;
  const summary = html`<dl>
    <dt>Partition kind</dt><dd>${KINDS[view.kind]}</dd>
    <dt>Partition key</dt><dd><code>${view.partitionKey}</code></dd>
    <dt>Session key TTL</dt><dd>${ttl(view.sessionTtlSeconds)}</dd>
    ${partition ? html`
    <dt>Partition TTL</dt><dd>${ttl(partition.ttlSeconds)} <small class="muted note">sliding: renewed by each use, up to the cap</small></dd>
    <dt>First written</dt><dd>${when(partition.createdAt, now)}</dd>
    <dt>Absolute lifetime cap</dt><dd>${when(partition.createdAt + view.absoluteSeconds, now)}
      <small class="muted note">${duration(view.absoluteSeconds)} after first written, however active: then sign in again</small></dd>
    <dt>Size</dt><dd>${partition.storedBytes} bytes stored (encrypted), ${partition.bytes} bytes of cache JSON</dd>` : html`
    <dt>Absolute lifetime cap</dt><dd>${duration(view.absoluteSeconds)} after the partition is first written</dd>`}
  </dl>`;
  let body;
  if (unreadable) {
    body = html`<p class="error">The stored partition cannot be read (${unreadable}). The token cache treats it as empty;
      it is replaced at the next sign-in.</p>`;
  } else if (!partition) {
    body = html`<p>This session's token cache is empty${ctx.user ? '' : ': you are not signed in'}.</p>`;
  } else {
    body = html`<h2>Accounts</h2>${accountsTable(partition.accounts)}<h2>Tokens</h2>${tokensTable(partition.tokens, now)}`;
  }
  const refresh = ctx.user && partition ? html`<div class="actions">
    <form method="post" action="/cache/refresh"><button class="button" type="submit">Refresh now</button></form>
    <p class="muted">Redeems the refresh token now, as msal does when the access token is about to expire.</p></div>` : '';
  return layout(ctx, 'Token cache of this session', html`
    <p class="muted">What Redis holds for the current browser session only. Secrets are never shown.</p>
    ${refreshed ? refreshNotice(refreshed) : ''}${summary}${refresh}${body}`);
}

module.exports = { cachePage };
