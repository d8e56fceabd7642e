'use strict';
// What another site can make a signed-in user's browser do, in a real browser (Debian's headless Chromium through
// playwright-core, as in browser.test.js), and what the browser keeps after sign-out (security review, issue 14,
// point 6). The app is served at http://127.0.0.1:<port>, the attacker's page at http://localhost:<port>: another
// site, so the browser sends the app's SameSite=Lax cookie only with top-level GET navigations, which is exactly
// what the attacker's page does.

const fs = require('node:fs');
const http = require('node:http');
const { chromium } = require('playwright-core');
const { startExample } = require('./helpers');

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

jest.setTimeout(120000);

let example;
let attacker;
let attackerUrl;
let browser;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium`);
  example = await startExample({ name: 'browser-cross-site' });
  // The attacker's page: sends the browser on to ?to=<address> from a script, as any site can.
  attacker = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end('<!doctype html><title>elsewhere</title><script>location.replace(new URLSearchParams(location.search).get("to"))</script>');
  });
  await new Promise((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerUrl = `http://localhost:${attacker.address().port}/`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

afterAll(async () => {
  if (browser) await browser.close();
  if (attacker) await new Promise((resolve) => attacker.close(resolve));
  if (example) await example.close();
});

async function signInAsAlice(page) {
  await page.goto(`${example.url}/auth/signin`);
  await page.waitForURL(/\/dev-idp\/.+\/oauth2\/v2\.0\/authorize/);
  await page.getByRole('button', { name: /Alice Example/ }).click();
  await page.waitForURL(`${example.url}/profile`);
  await page.getByText('alice@contoso.example').first().waitFor({ timeout: 10000 });
}

/** The attacker's page navigates the browser to `path` on the app; resolves to the app's response. */
async function sentThereFromElsewhere(page, path) {
  const arrived = page.waitForResponse((response) => response.url().startsWith(`${example.url}${path.split('?')[0]}`));
  await page.goto(`${attackerUrl}?to=${encodeURIComponent(example.url + path)}`);
  const response = await arrived;
  expect(await response.request().headerValue('sec-fetch-site')).toBe('cross-site'); // really from another site
  await page.waitForLoadState('load');
  return response;
}

test('another site sends a signed-in browser to /auth/signin and to a forged /auth/redirect, twice: still signed in', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await signInAsAlice(page);
    expect((await sentThereFromElsewhere(page, '/auth/signin')).status()).toBe(302);
    for (let i = 0; i < 2; i += 1) {
      const forged = await sentThereFromElsewhere(page, '/auth/redirect?state=bogus&code=x');
      expect(forged.status()).toBe(400);
    }
    const profile = await page.goto(`${example.url}/profile`);
    expect(profile.status()).toBe(200);
    await page.getByText('alice@contoso.example').first().waitFor({ timeout: 10000 });
  } finally {
    await context.close();
  }
});

test('after sign-out, Back does not show the signed-in pages from the browser\'s cache', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await signInAsAlice(page);
    await page.goto(`${example.url}/cache`);
    await page.goto(`${example.url}/auth/signout`);
    await page.locator('main').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${example.url}/?signedout=1`);
    for (const path of ['/auth/signout', '/cache', '/profile']) {
      await page.goBack();
      expect(page.url()).toBe(`${example.url}${path}`);
      expect(await page.content()).not.toMatch(/Alice Example|alice@contoso/);
    }
  } finally {
    await context.close();
  }
});
