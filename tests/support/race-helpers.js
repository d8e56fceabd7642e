'use strict';
// Shared by the race tests (tests/js/race*.test.js): how they look at a partition, wait precisely, and report.

const fs = require('node:fs');
const path = require('node:path');

const { RedisTokenCache } = require('../../js');

const OUTPUT_DIR = path.join(__dirname, '..', '..', 'test-output');
const REDIRECT_URI = 'http://localhost/auth/redirect';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits `ms` with sub-millisecond precision (timers have 1 ms granularity): a timer, then event-loop turns. */
async function pause(ms) {
  const until = performance.now() + ms;
  if (ms > 2) await sleep(ms - 1.5);
  while (performance.now() < until) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * What a fresh client (another request, on any server) finds in a session's partition, through the public API
 * only: its accounts, and whether acquireTokenSilent for `scopes` is served from the cache. Its network client
 * never reaches the identity provider: a call is counted and fails, so looking never writes anything.
 * @param {import('../../js').RedisTokenCache} tokenCache
 * @param {object} msalAuth msal's `auth` section for the app
 * @returns {Promise<{ accounts: object[], silent: { ok: boolean, fromCache?: boolean, accessToken?: string, error?: string }, networkCalls: number }>}
 */
async function observePartition(tokenCache, msalAuth, sessionId, account, scopes) {
  let networkCalls = 0;
  const refuse = async () => {
    networkCalls += 1;
    throw new Error('race test: the check client never calls the identity provider');
  };
  const config = { auth: msalAuth, system: { networkClient: { sendGetRequestAsync: refuse, sendPostRequestAsync: refuse } } };
  const accounts = await tokenCache.createClientApplication(config, { sessionId }).getTokenCache().getAllAccounts();
  let silent = { ok: false, error: 'no account to ask for' };
  if (account) {
    try {
      const result = await tokenCache.createClientApplication(config, { sessionId }).acquireTokenSilent({ account, scopes });
      silent = { ok: true, fromCache: result.fromCache, accessToken: result.accessToken };
    } catch (err) {
      silent = { ok: false, error: err.errorCode || err.message };
    }
  }
  return { accounts, silent, networkCalls };
}

/** True when the observation shows `accessToken` served from the cache with no network call. */
const servedFromCache = (seen, accessToken) =>
  seen.silent.ok && seen.silent.fromCache === true && seen.networkCalls === 0 && seen.silent.accessToken === accessToken;

/** True when a signed-out session's partition shows anything usable again. */
const partitionIsBack = (seen) => seen.accounts.length > 0 || seen.silent.ok || seen.networkCalls > 0;

/**
 * Prints the counts of a test file and writes them to test-output/<name>.json (<name>.<topology>.json on a Cluster
 * or Sentinel pass, so that one pass does not overwrite another's).
 */
function reportCounts(name, meta, summary) {
  const topology = process.env.TEST_REDIS_TOPOLOGY || 'standalone';
  const lines = Object.entries(summary).map(([scenario, counts]) => `  ${scenario}: ${JSON.stringify(counts)}`);
  console.log(`${name} (${JSON.stringify({ ...meta, topology })})\n${lines.join('\n')}`);
  const file = topology === 'standalone' ? `${name}.json` : `${name}.${topology}.json`;
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  fs.writeFileSync(path.join(OUTPUT_DIR, file), `${JSON.stringify({ ...meta, topology, ...summary }, null, 2)}\n`);
}

/**
 * A test's server without an in-process cache, on `redis`: what any server reads there (the truth), and where the
 * test signs users in. `secrets`: { encryptionKey, keyNameSecret }, the workers'.
 */
function truthTokenCache(redis, prefix, secrets) {
  return new RedisTokenCache({
    redis,
    prefix,
    localCache: false,
    logger: { warn: () => {} },
    encryptionKeys: [secrets.encryptionKey],
    keyNameSecret: secrets.keyNameSecret,
  });
}

/** A new user signs in to `sessionId` through `tokenCache`, at the shared identity provider: msal's result. */
function signInThrough(tokenCache, shared, sessionId, scopes) {
  return tokenCache.createClientApplication(shared.idp.msalConfig(), { sessionId }).acquireTokenByCode({
    code: shared.idp.issueCode(shared.idp.addUser(), { scopes }),
    scopes,
    redirectUri: REDIRECT_URI,
  });
}

module.exports = {
  sleep, pause, observePartition, servedFromCache, partitionIsBack, reportCounts, truthTokenCache, signInThrough,
};
