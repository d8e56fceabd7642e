'use strict';
// Both examples side by side on one Redis with the same secrets and key prefixes: the Express example (in-process)
// and the Flask example (processes, as `npm run start:flask` starts them). One user signs in on both in a real
// browser (two hosts, so two cookies); one signOutEverywhere, from Node and then from Python, signs them out of both:
// sessions deleted, partitions tombstoned, each app asks to sign in again.

const fs = require('node:fs');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { isTombstone } = require('../../support/stored');
const { TEST_ENCRYPTION_KEY, TEST_KEY_NAME_SECRET } = require('../../support/test-secrets');
const { startExample, sessionIdOf } = require('../express/helpers');
const { startFlaskExample, PYTHON, ROOT } = require('./helpers');

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];
const USER = 'ivy@contoso.example';

jest.setTimeout(120000);

let express;
let flask;
let browser;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium`);
  express = await startExample({ name: 'cross-language' });
  flask = await startFlaskExample({ prefixes: express.prefixes });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

afterAll(async () => {
  if (browser) await browser.close();
  if (flask) await flask.stop();
  if (express) await express.close();
});

/** Signs USER in on an example through its dev identity provider's page; returns the session id. */
async function signIn(page, context, url) {
  await page.goto(`${url}/auth/signin`);
  await page.waitForURL(/\/dev-idp\/.+\/oauth2\/v2\.0\/authorize/);
  await page.locator('form.other input[name="username"]').fill(USER);
  await page.locator('form.other').getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/profile`);
  await page.getByText(USER).first().waitFor();
  const [cookie] = (await context.cookies(url)).filter((c) => c.name === 'sid');
  return sessionIdOf(cookie.value);
}

/** Both apps ask to sign in again, and Redis holds neither session, only tombstones where the partitions were. */
async function expectSignedOutOfBoth(page, sids) {
  for (const url of [express.url, flask.url]) {
    const response = await page.goto(`${url}/profile`);
    expect({ url, status: response.status() }).toEqual({ url, status: 401 });
    expect(await page.content()).not.toContain(USER);
  }
  for (const sid of sids) {
    expect(await express.redis.exists(express.sessionKey(sid))).toBe(0);
    expect(await isTombstone(express.redis, express.partitionKey(sid))).toBe(true);
  }
}

/** Python's sign_out_everywhere, in a process of its own, with the Flask example's keys and prefixes. */
function pythonSignOutEverywhere(homeAccountId) {
  const script = `
import sys, redis
sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'python'))})
from msal_redis_cache import RedisTokenCache
from msal_redis_cache.session_store import RedisSessionStore
tokens = RedisTokenCache(redis=redis.Redis.from_url(sys.argv[1], socket_timeout=1, socket_connect_timeout=1),
                         encryption_keys=[sys.argv[2]],
                         key_name_secret=sys.argv[3], prefix=sys.argv[4])
print(tokens.sign_out_everywhere(sys.argv[6], session_store=RedisSessionStore(tokens, prefix=sys.argv[5])))
`;
  const args = ['-c', script, process.env.TEST_REDIS_URL, TEST_ENCRYPTION_KEY, TEST_KEY_NAME_SECRET,
    express.prefixes.tokenPrefix, express.prefixes.sessionPrefix, homeAccountId];
  return new Promise((resolve, reject) => {
    execFile(PYTHON, args, { timeout: 30000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(Number(stdout.trim()))));
  });
}

test('one signOutEverywhere, from Node then from Python, signs a user out of both examples', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    const { tokenCache, sessionStore } = express.app.locals;
    let sids = [await signIn(page, context, express.url), await signIn(page, context, flask.url)];
    // The Flask session is in the Node store's format: Node reads who signed in there.
    const { homeAccountId } = (await sessionStore.get(sids[1])).account;
    expect((await sessionStore.get(sids[0])).account.homeAccountId).toBe(homeAccountId); // the same user

    expect(await tokenCache.signOutEverywhere({ homeAccountId }, { sessionStore })).toBe(2);
    await expectSignedOutOfBoth(page, sids);

    sids = [await signIn(page, context, express.url), await signIn(page, context, flask.url)];
    expect(await pythonSignOutEverywhere(homeAccountId)).toBe(2);
    await expectSignedOutOfBoth(page, sids);
  } catch (err) {
    err.message += `\n--- Flask processes ---\n${flask.output().slice(-3000)}`;
    throw err;
  } finally {
    await context.close();
  }
});
