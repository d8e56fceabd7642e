'use strict';
// The cache page: the partition's kind, lifetimes (sliding TTL and the absolute cap) in words ("in 14 days",
// "3 minutes ago"), and "Refresh now", which redeems the refresh token and shows that it did.

const { startExample, signIn, tokenRequests } = require('./helpers');
const { relativeTime, duration } = require('../../../examples/express/format');

let example;
let agent;
beforeEach(async () => {
  example = await startExample({ name: expect.getState().currentTestName });
  agent = example.agent();
});
afterEach(() => example.close());

const json = (path) => agent.get(path).set('accept', 'application/json');
const refreshGrants = () => tokenRequests(example.idp).filter((r) => r.grantType === 'refresh_token').length;

test('times in words: "ago" for the past, "in" for the future', () => {
  const now = 1_700_000_000;
  expect(relativeTime(now - 180, now)).toBe('3 minutes ago');
  expect(relativeTime(now - 20, now)).toBe('20 seconds ago');
  expect(relativeTime(now + 3600, now)).toBe('in 1 hour');
  expect(relativeTime(now + 14 * 86400 - 30, now)).toBe('in 14 days');
  expect(relativeTime(now - 2 * 86400, now)).toBe('2 days ago');
  expect(relativeTime(now, now)).toBe('now');
  expect(duration(14 * 86400)).toBe('14 days');
  expect(duration(86399)).toBe('23 hours 59 minutes');
  expect(duration(600)).toBe('10 minutes');
});

test('shows the partition kind, its absolute lifetime cap and times in words', async () => {
  await signIn(agent);
  const page = await agent.get('/cache').expect(200);
  expect(page.text).toContain('Partition kind');
  expect(page.text).toMatch(/session: one per browser session/);
  expect(page.text).toContain('Absolute lifetime cap');
  expect(page.text).toMatch(/>in 14 days<\/time>/); // the cap: first written + 14 days (the default)
  expect(page.text).toContain('14 days after first written');
  expect(page.text).toMatch(/>in 1 hour<\/time>/); // the access token's expiry
  expect(page.text).toMatch(/>(now|\d+ seconds? ago)<\/time>/); // first written, cached
  expect(page.text).not.toMatch(/\d+ min ago|in \d+ min\b/); // the old wording

  const { body } = await json('/cache').expect(200);
  expect(body).toMatchObject({ kind: 'session', absoluteSeconds: 14 * 86400 });
  expect(body.partition.createdAt).toBeGreaterThan(Date.now() / 1000 - 60);
});

test('the absolute lifetime cap is the token cache\'s, when configured', async () => {
  const short = await startExample({ name: 'short-cap', tokenCacheOptions: { absoluteSeconds: 2 * 86400 } });
  try {
    const shortAgent = short.agent();
    await signIn(shortAgent);
    const page = await shortAgent.get('/cache').expect(200);
    expect(page.text).toMatch(/>in 2 days<\/time>/);
  } finally {
    await short.close();
  }
});

test('"Refresh now" redeems the refresh token and shows it: new issue and expiry times, one more grant', async () => {
  await signIn(agent);
  const before = (await json('/cache').expect(200)).body.partition.tokens.find((t) => t.kind === 'AccessToken');
  const grants = refreshGrants();
  example.idp.setAccessTokenLifetime(7200); // so the new token's expiry differs even within the same second

  const post = await agent.post('/cache/refresh').expect(303);
  expect(post.headers.location).toBe('/cache');
  expect(refreshGrants()).toBe(grants + 1);
  expect(tokenRequests(example.idp).at(-1).grantType).toBe('refresh_token');

  const page = await agent.get('/cache').expect(200);
  expect(page.text).toContain('Refresh token redeemed');
  expect(page.text).toContain(`Refresh-token grants</dt><dd>${grants} → <strong>${grants + 1}</strong>`);
  const after = (await json('/cache').expect(200)).body.partition.tokens.find((t) => t.kind === 'AccessToken');
  expect(after.expires_on - before.expires_on).toBeGreaterThanOrEqual(3600);
  expect(page.text).toContain(`→ <strong>${new Date(after.expires_on * 1000).toISOString().slice(11, 19)} UTC</strong>`);
  expect(page.text).toMatch(/>in 2 hours<\/time>/);

  // Shown once: reloading the page neither refreshes again nor repeats the notice.
  const reload = await agent.get('/cache').expect(200);
  expect(reload.text).not.toContain('Refresh token redeemed');
  expect(refreshGrants()).toBe(grants + 1);
});

test('"Refresh now" answers JSON to JSON clients', async () => {
  await signIn(agent);
  const { body } = await agent.post('/cache/refresh').set('accept', 'application/json').expect(200);
  expect(body.refreshed).toMatchObject({ fromCache: false, refreshGrants: { before: 0, after: 1 } });
  expect(body.refreshed.after.cachedAt).toBeGreaterThanOrEqual(body.refreshed.before.cachedAt);
});

test('"Refresh now" is offered to a signed-in user only, and refused to anyone else', async () => {
  const visitor = await agent.get('/cache').expect(200);
  expect(visitor.text).not.toContain('Refresh now');
  await agent.post('/cache/refresh').expect(401);
  await signIn(agent);
  const page = await agent.get('/cache').expect(200);
  expect(page.text).toContain('<form method="post" action="/cache/refresh"><button class="button" type="submit">Refresh now</button></form>');
});

test('a revoked refresh token: "Refresh now" asks to sign in again', async () => {
  await signIn(agent);
  example.idp.revokeRefreshTokens(example.idp.userNamed('alice@contoso.example'));
  const response = await agent.post('/cache/refresh').expect(401);
  expect(response.text).toContain('Sign in again');
});
