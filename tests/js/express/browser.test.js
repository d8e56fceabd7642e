'use strict';
// The example in a real browser: Debian's headless Chromium driven by playwright-core (no browser download).
// Sign in through the dev identity provider's page, land on the profile, call the API, open the cache page, sign
// out, and check in Redis that the session and its partition are gone. Screenshots of the sign-in page and of the
// cache page are saved under test-output/.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { isTombstone } = require('../../support/stored');
const { chromium } = require('playwright-core');
const { startExample, sessionIdOf } = require('./helpers');

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = path.join(__dirname, '../../../test-output');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

jest.setTimeout(90000);

let example;
let context;
let profileDir;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium`);
  example = await startExample({ name: 'browser' });
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'example-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: ARGS });
});

afterAll(async () => {
  if (context) await context.close();
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  if (example) await example.close();
});

test('sign in, profile, API call, cache page, sign out: and Redis forgets the session', async () => {
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));

  await page.goto(example.url);
  await page.getByRole('link', { name: 'Sign in' }).first().click();

  // The dev identity provider's sign-in page: pick Alice.
  await page.waitForURL(/\/dev-idp\/.+\/oauth2\/v2\.0\/authorize/);
  fs.mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: path.join(OUTPUT, 'example-sign-in-page.png') });
  await page.getByRole('button', { name: /Alice Example/ }).click();

  await page.waitForURL(`${example.url}/profile`);
  await expectText(page, 'alice@contoso.example');
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

  await page.getByRole('link', { name: 'Token cache' }).click();
  await page.waitForURL(`${example.url}/cache`);
  for (const text of ['AccessToken', 'RefreshToken', 'IdToken', 'Partition TTL', 'Data.Read']) await expectText(page, text);
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.screenshot({ path: path.join(OUTPUT, 'example-cache-page.png'), fullPage: true });
  expect(await page.content()).not.toContain(sid);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${example.url}/?signedout=1`);
  await expectText(page, 'You are signed out');
  expect(await example.redis.exists(sessionKey)).toBe(0);
  expect(await isTombstone(example.redis, partitionKey)).toBe(true); // signed out, and stays so
  expect((await context.cookies(example.url)).filter((c) => c.name === 'sid')).toEqual([]);

  // Signed out means signed out: the API call now asks to sign in.
  const response = await page.goto(`${example.url}/api/call`);
  expect(response.status()).toBe(401);
  expect(errors).toEqual([]);
});

async function expectText(page, text) {
  await page.getByText(text, { exact: false }).first().waitFor({ timeout: 10000 });
}
