'use strict';
// The example in a real browser: Debian's headless Chromium driven by playwright-core (no browser download), once
// as a desktop and once as a phone (375 px wide, mobile viewport rules). Sign in through the dev identity
// provider's page, profile, API call, cache page, "Refresh now", sign out, and the error pages; on every page: no
// horizontal scrolling, no script error, no Content-Security-Policy violation, no 404, and a signed-in user is never
// offered "Sign in". A screenshot of each page goes to test-output/screenshots/<page>-<desktop|phone>.png.

const fs = require('node:fs');
const path = require('node:path');
const Redis = require('../../support/ioredis');
const { isTombstone } = require('../../support/stored');
const { chromium } = require('playwright-core');
const { startExample, sessionIdOf, signedCookie } = require('./helpers');

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = path.join(__dirname, '../../../test-output/screenshots');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DEVICES = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};

jest.setTimeout(120000);

let example;
let broken; // an instance whose Redis is unreachable, for the 503 page
let down;
let browser;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  example = await startExample({ name: 'browser' });
  down = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  broken = await startExample({ name: 'browser-down', redis: down });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

afterAll(async () => {
  if (browser) await browser.close();
  if (example) await example.close();
  if (broken) await broken.close();
  if (down) down.disconnect();
});

/** Opens a page that records what must not happen on any page. */
async function watchedPage(context) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`script error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() === 404 && !response.url().endsWith('/nope')) problems.push(`404: ${response.url()}`);
  });
  return { page, problems };
}

/** Checks the page as it is now, and saves its screenshot. */
async function look(page, name, device, { signedIn }) {
  await page.waitForLoadState('load');
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
  }));
  expect({ name, scrollWidth }).toEqual({ name, scrollWidth: clientWidth }); // nothing sticks out sideways
  if (signedIn) expect(await page.getByText('Sign in', { exact: true }).count()).toBe(0);
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${device}.png`), fullPage: true });
}

async function expectText(page, text) {
  await page.getByText(text, { exact: false }).first().waitFor({ timeout: 10000 });
}

describe.each(Object.keys(DEVICES))('on a %s', (device) => {
  test('sign in, profile, API call, cache page, refresh, sign out, error pages: and Redis forgets the session', async () => {
    const context = await browser.newContext(DEVICES[device]);
    const { page, problems } = await watchedPage(context);
    try {
      await page.goto(example.url);
      await look(page, 'home', device, { signedIn: false });
      await page.getByRole('link', { name: 'Sign in' }).first().click();

      // The dev identity provider's sign-in page: pick Alice.
      await page.waitForURL(/\/dev-idp\/.+\/oauth2\/v2\.0\/authorize/);
      await look(page, 'sign-in', device, { signedIn: false });
      await page.getByRole('button', { name: /Alice Example/ }).click();

      await page.waitForURL(`${example.url}/profile`);
      await expectText(page, 'alice@contoso.example');
      await look(page, 'profile', device, { signedIn: true });
      const [cookie] = (await context.cookies(example.url)).filter((c) => c.name === 'sid');
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false });
      expect(await page.evaluate(() => document.cookie)).toBe(''); // nothing readable by scripts
      const sid = sessionIdOf(cookie.value);
      const sessionKey = example.sessionKey(sid);
      const partitionKey = example.partitionKey(sid);
      expect(await example.redis.exists(sessionKey, partitionKey)).toBe(2);

      await page.getByRole('link', { name: 'Call the API' }).first().click();
      await page.waitForURL(`${example.url}/api/call`);
      await expectText(page, 'Hello from the downstream API');
      await expectText(page, 'served from the token cache');
      await look(page, 'api-call', device, { signedIn: true });

      await page.getByRole('link', { name: 'Token cache' }).click();
      await page.waitForURL(`${example.url}/cache`);
      for (const text of ['AccessToken', 'RefreshToken', 'IdToken', 'Partition TTL', 'Data.Read', 'Absolute lifetime cap', 'in 14 days']) {
        await expectText(page, text);
      }
      expect(await page.content()).not.toContain(sid);
      await look(page, 'cache', device, { signedIn: true });

      await page.getByRole('button', { name: 'Refresh now' }).click();
      await page.waitForURL(`${example.url}/cache`);
      await expectText(page, 'Refresh token redeemed');
      await look(page, 'cache-refreshed', device, { signedIn: true });

      await page.goto(`${example.url}/nope`);
      await look(page, 'not-found', device, { signedIn: true });

      await page.goto(`${example.url}/auth/signout`);
      await look(page, 'sign-out', device, { signedIn: true });
      await page.locator('main').getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${example.url}/?signedout=1`);
      await expectText(page, 'You are signed out');
      await look(page, 'signed-out', device, { signedIn: false });
      expect(await example.redis.exists(sessionKey)).toBe(0);
      expect(await isTombstone(example.redis, partitionKey)).toBe(true); // signed out, and stays so
      expect((await context.cookies(example.url)).filter((c) => c.name === 'sid')).toEqual([]);

      // Signed out means signed out: the API call now asks to sign in.
      const response = await page.goto(`${example.url}/api/call`);
      expect(response.status()).toBe(401);
      await look(page, 'not-signed-in', device, { signedIn: false });

      // Redis down, with a session cookie: the app's own 503 page, which does not claim the user is signed out.
      await context.addCookies([{ name: 'sid', value: signedCookie('some-session'), url: broken.url }]);
      const unavailable = await page.goto(broken.url);
      expect(unavailable.status()).toBe(503);
      await expectText(page, 'Session unavailable');
      await look(page, 'redis-down', device, { signedIn: true });

      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
