'use strict';
// A Node server of the mixed-language tests, in its own process: its own ioredis client and RedisTokenCache (the
// test secrets), one new ConfidentialClientApplication per operation, as a web app makes one per request. It speaks
// the same protocol as python_worker.py, one JSON line each way: {id, op, args} -> {id, ok, result | error,
// warnings}. Operations: signIn, silent, appToken, onBehalfOf, remove, export, the admin operations, keyName, seal,
// open (the last three: the stored format, compared bit for bit with Python's), and the session store's (session*,
// signedCookie).
//
// Environment: WORKER_REDIS_URL, WORKER_PREFIX, WORKER_IDP_URL (the shared identity provider's network endpoint),
// WORKER_MSAL_AUTH (msal's auth section, JSON), TEST_ENCRYPTION_KEY, TEST_KEY_NAME_SECRET.

const readline = require('node:readline');
const Redis = require('ioredis');
const { RedisTokenCache, RedisSessionStore } = require('../../../js');
const cookie = require('cookie');
const cookieSignature = require('cookie-signature');
const { createKeyring } = require('../../../js/storage/keyring');
const storedValue = require('../../../js/storage/stored-value');
const { forwardingNetworkClient } = require('../../support/shared-identity-provider');

const redis = new Redis(process.env.WORKER_REDIS_URL, { maxRetriesPerRequest: 2 });
let warnings = [];
const secrets = { encryptionKeys: [process.env.TEST_ENCRYPTION_KEY], keyNameSecret: process.env.TEST_KEY_NAME_SECRET };
const tokenCache = new RedisTokenCache({
  redis,
  prefix: process.env.WORKER_PREFIX,
  localCache: false, // every read goes to Redis, as on a Python server
  logger: { warn: (message) => warnings.push(String(message)) },
  ...secrets,
});
// express-session's store beside the token cache, at the prefix the Python tests' session interface uses.
const sessionStore = new RedisSessionStore({ redis, tokenCache, prefix: `${process.env.WORKER_PREFIX}sess:` });
const msalConfig = {
  auth: JSON.parse(process.env.WORKER_MSAL_AUTH),
  system: { networkClient: forwardingNetworkClient(process.env.WORKER_IDP_URL) },
};
const client = (selector) => tokenCache.createClientApplication(msalConfig, selector);

async function accountOf(app, homeAccountId) {
  const account = await app.getTokenCache().getAccountByHomeId(homeAccountId);
  if (!account) throw Object.assign(new Error(`no account ${homeAccountId} in the cache`), { name: 'NoAccount' });
  return account;
}

const operations = {
  async signIn({ selector, code, scopes, redirectUri }) {
    const result = await client(selector).acquireTokenByCode({ code, scopes, redirectUri });
    return { accessToken: result.accessToken, homeAccountId: result.account.homeAccountId };
  },
  async silent({ selector, homeAccountId, scopes, forceRefresh = false }) {
    const app = client(selector);
    const result = await app.acquireTokenSilent({ account: await accountOf(app, homeAccountId), scopes, forceRefresh });
    return { accessToken: result.accessToken, fromCache: result.fromCache };
  },
  async appToken({ tenantId, scopes }) {
    const app = tokenCache.createClientApplication(
      { ...msalConfig, auth: { ...msalConfig.auth, authority: msalConfig.auth.authority.replace(/[^/]+$/, tenantId) } },
      { tenantId },
    );
    const result = await app.acquireTokenByClientCredential({ scopes });
    return { accessToken: result.accessToken, fromCache: result.fromCache };
  },
  async onBehalfOf({ assertion, scopes }) {
    const result = await tokenCache.acquireTokenOnBehalfOf(msalConfig, { oboAssertion: assertion, scopes });
    return { accessToken: result.accessToken, fromCache: result.fromCache };
  },
  remove: ({ selector }) => tokenCache.removePartition(selector, msalConfig.auth.clientId),
  export: ({ selector }) => tokenCache.exportPartition(selector, msalConfig.auth.clientId),
  signOutEverywhere: ({ homeAccountId, sessions = false }) =>
    tokenCache.signOutEverywhere({ homeAccountId }, sessions ? { sessionStore } : {}),
  // The session store and express-session's cookie, compared bit for bit with the Flask session interface's.
  sessionSet: ({ sid, session }) => sessionStore.set(sid, session),
  sessionGet: ({ sid }) => sessionStore.get(sid),
  sessionTouch: ({ sid, session }) => sessionStore.touch(sid, session),
  sessionDestroy: ({ sid }) => sessionStore.destroy(sid),
  sessionKey: ({ sid }) => sessionStore.sessionKey(sid),
  // What express-session puts in Set-Cookie (setcookie: 's:' + cookie-signature's sign, through cookie.serialize).
  signedCookie: ({ name, sid, secret }) => cookie.serialize(name, `s:${cookieSignature.sign(sid, secret)}`),
  clearAppTokens: () => tokenCache.clearAppTokens(msalConfig.auth.clientId),
  countPartitions: () => tokenCache.countPartitions(),
  keyName: ({ kind, id }) => createKeyring(secrets).name(kind, id),
  seal: ({ key, type, createdAt, notAfter, meta, body }) =>
    storedValue.seal(createKeyring(secrets), key, { type, createdAt, notAfter, meta, body }).value.toString('base64'),
  open: ({ key, value, now }) => {
    const opened = storedValue.open(createKeyring(secrets), key, Buffer.from(value, 'base64'), now);
    return { ...opened, body: opened.body === null ? null : opened.body.toString('utf8') };
  },
};

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const { id, op, args } = JSON.parse(line);
  warnings = [];
  let reply;
  try {
    reply = { id, ok: true, result: (await operations[op](args)) ?? null, warnings };
  } catch (err) {
    reply = { id, ok: false, error: { name: err && err.name, message: String(err && err.message) }, warnings };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
});
lines.on('close', () => {
  redis.disconnect();
  process.exit(0);
});
redis.ping().then(() => process.stdout.write(`${JSON.stringify({ ready: true })}\n`));
