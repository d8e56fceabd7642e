'use strict';
// The Flask example in a real browser (Debian's headless Chromium through playwright-core), started as processes
// the way `npm run start:flask` starts it: the stand-alone dev identity provider and examples/flask/server.py on
// the Jest run's Redis, reached through a loopback relay that the test can cut (Redis down, for real, for the
// running process). Sign in on the provider's page, profile, API call, cache page, "Refresh now", sign out, Back
// after sign-out, Redis down: on every page no script error, no CSP violation, no 404, and a signed-in user is never
// offered "Sign in". A screenshot of each page goes to test-output/screenshots/flask-<page>.png.

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const Redis = require('../../support/ioredis');
const { chromium } = require('playwright-core');
const { RedisTokenCache, RedisSessionStore } = require('../../../js');
const { isTombstone } = require('../../support/stored');
const { testSecrets } = require('../../support/test-secrets');
const { sessionIdOf } = require('../express/helpers');
const { startFlaskExample } = require('./helpers');

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = path.join(__dirname, '../../../test-output/screenshots');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

jest.setTimeout(120000);

/** A TCP relay to Redis whose connections can all be cut at once, and new ones refused, until restored. */
async function startRelay(target) {
  const sockets = new Set();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return client.destroy();
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => { sockets.delete(a); b.destroy(); });
      a.pipe(b);
    }
    return undefined;
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${server.address().port}/0`,
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      cut = false;
    },
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(resolve);
    }),
  };
}

const prefix = `flask-browser:${Math.random().toString(36).slice(2, 8)}:`;
const prefixes = { tokenPrefix: `${prefix}msal:`, sessionPrefix: `${prefix}sess:` };
let redis;
let relay;
let flask;
let browser;
let sessionStore;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  redis = new Redis(process.env.TEST_REDIS_URL);
  relay = await startRelay(new URL(process.env.TEST_REDIS_URL));
  flask = await startFlaskExample({ prefixes, redisUrl: relay.url });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  // Node's view of the same keys (the public API): where a Flask session and its partition must be.
  const tokenCache = new RedisTokenCache({ redis, prefix: prefixes.tokenPrefix, localCache: false, ...testSecrets() });
  sessionStore = new RedisSessionStore({ redis, tokenCache, prefix: prefixes.sessionPrefix });
});

afterAll(async () => {
  if (browser) await browser.close();
  if (flask) await flask.stop();
  if (relay) await relay.close();
  if (redis) await redis.quit();
});

async function watchedPage(context) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`script error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() === 404) problems.push(`404: ${response.url()}`);
  });
  return { page, problems };
}

async function look(page, name, { signedIn }) {
  await page.waitForLoadState('load');
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
  }));
  expect({ name, scrollWidth }).toEqual({ name, scrollWidth: clientWidth }); // nothing sticks out sideways
  if (signedIn) expect(await page.getByText('Sign in', { exact: true }).count()).toBe(0);
  await page.screenshot({ path: path.join(SCREENSHOTS, `flask-${name}.png`), fullPage: true });
}

async function expectText(page, text) {
  await page.getByText(text, { exact: false }).first().waitFor({ timeout: 10000 });
}

test('sign in, profile, API call, cache page, refresh, sign out, Back, Redis down: and Redis forgets the session', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page, problems } = await watchedPage(context);
  try {
    await page.goto(flask.url);
    await look(page, 'home', { signedIn: false });
    await page.getByRole('link', { name: 'Sign in' }).first().click();

    await page.waitForURL(/\/dev-idp\/.+\/oauth2\/v2\.0\/authorize/);
    expect(page.url().startsWith(`${flask.idpUrl}/dev-idp/`)).toBe(true); // the stand-alone provider's own page
    expect(new URL(page.url()).searchParams.get('code_challenge_method')).toBe('S256'); // PKCE
    await look(page, 'sign-in', { signedIn: false });
    await page.getByRole('button', { name: /Alice Example/ }).click();

    await page.waitForURL(`${flask.url}/profile`);
    await expectText(page, 'alice@contoso.example');
    await look(page, 'profile', { signedIn: true });
    const [cookie] = (await context.cookies(flask.url)).filter((c) => c.name === 'sid');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false });
    expect(await page.evaluate(() => document.cookie)).toBe('');
    const sid = sessionIdOf(cookie.value);
    const sessionKey = sessionStore.sessionKey(sid);
    const partitionKey = sessionStore.partitionKey(sid);
    expect(await redis.exists(sessionKey, partitionKey)).toBe(2);
    // The Node store opens the Flask session: the same format, keys and secrets.
    const session = await sessionStore.get(sid);
    expect(session.account.username).toBe('alice@contoso.example');
    expect(session).not.toHaveProperty('auth_flow'); // the sign-in's PKCE verifier went with the old session

    await page.getByRole('link', { name: 'Call the API' }).first().click();
    await page.waitForURL(`${flask.url}/api/call`);
    await expectText(page, 'Hello from the downstream API');
    await expectText(page, 'the cache (Redis)');
    await look(page, 'api-call', { signedIn: true });

    await page.getByRole('link', { name: 'Token cache' }).click();
    await page.waitForURL(`${flask.url}/cache`);
    for (const text of ['Partition TTL', 'Data.Read', 'Absolute lifetime cap', 'not shown']) await expectText(page, text);
    expect(await page.content()).not.toContain(sid);
    await look(page, 'cache', { signedIn: true });

    await page.getByRole('button', { name: 'Refresh now' }).click();
    await page.waitForURL(`${flask.url}/cache`);
    await expectText(page, 'Refresh token redeemed');
    await expectText(page, 'Refresh-token grants');
    await look(page, 'cache-refreshed', { signedIn: true });

    await page.locator('header').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${flask.url}/?signedout=1`);
    await expectText(page, 'You are signed out');
    await look(page, 'signed-out', { signedIn: false });
    expect(await redis.exists(sessionKey)).toBe(0);
    expect(await isTombstone(redis, partitionKey)).toBe(true);
    expect((await context.cookies(flask.url)).filter((c) => c.name === 'sid')).toEqual([]);

    // Back after sign-out: no page from the browser's cache (no-store), and the app now asks to sign in.
    await page.goBack();
    await page.waitForLoadState('load');
    expect(page.url()).toBe(`${flask.url}/cache`);
    expect(await page.content()).not.toContain('alice@contoso.example');
    expect(await page.getByText('Refresh token redeemed').count()).toBe(0);
    await look(page, 'back-after-sign-out', { signedIn: false });
    const response = await page.goto(`${flask.url}/api/call`);
    expect(response.status()).toBe(401);

    // Redis down, for the running process, with a session cookie: the app's own 503 page, which does not claim
    // the user is signed out, and /healthz says so; back to normal once Redis answers.
    await page.goto(flask.url);
    await page.getByRole('link', { name: 'Sign in' }).first().click();
    await page.getByRole('button', { name: /Bob Example/ }).click();
    await page.waitForURL(`${flask.url}/profile`);
    relay.cut();
    const unavailable = await page.goto(`${flask.url}/profile`);
    expect(unavailable.status()).toBe(503);
    expect(unavailable.headers()['retry-after']).toBe('5');
    await expectText(page, 'Session unavailable');
    await look(page, 'redis-down', { signedIn: true });
    expect((await page.request.get(`${flask.url}/healthz`)).status()).toBe(503);
    relay.restore();
    await page.goto(`${flask.url}/profile`);
    await expectText(page, 'bob@contoso.example');

    expect(problems).toEqual([]);
  } catch (err) {
    err.message += `\n--- processes ---\n${flask.output().slice(-3000)}`;
    throw err;
  } finally {
    await context.close();
  }
});
