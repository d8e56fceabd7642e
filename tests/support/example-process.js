'use strict';
// An instance of the Express example in its own process, so several instances race as separate servers do.
// Run as a child (by startExampleProcess), it builds the app with examples/express/app.js createApp() exactly as
// the tests in tests/js/express do, with one difference: its dev identity provider is the test process's SHARED one
// (shared-identity-provider.js), so a refresh token issued through instance A is valid on instance B.
//
// No change to the example was needed: createApp() already accepts the identity provider to use. Ours is a local
// dev identity provider whose msal network client forwards to the shared one, and whose signing keys (used by
// the local /dev-api to verify tokens) are the shared one's. Its sign-in pages are NOT shared (their codes live in
// this process), so tests sign in by redeeming at /auth/redirect a code the shared provider issued: see
// signInThroughSharedProvider in tests/js/race-express.test.js.

const { fork } = require('node:child_process');

const START_TIMEOUT_MS = 20000;

/**
 * Starts an instance. Resolves { url, stop() }.
 * @param {object} options
 * @param {string} options.idpUrl the shared identity provider (clientId must be the example's DEV_CLIENT_ID)
 * @param {object} options.jwks the shared provider's public keys (shared.idp.jwks())
 * @param {string} options.sessionPrefix
 * @param {string} options.tokenPrefix
 * @param {string} options.sessionSecret the same for every instance of one app
 * @param {{ encryptionKey: string, keyNameSecret: string }} options.secrets
 */
function startExampleProcess({ idpUrl, jwks, sessionPrefix, tokenPrefix, sessionSecret, secrets }) {
  const env = {
    ...process.env,
    RACE_IDP_URL: idpUrl,
    RACE_JWKS: JSON.stringify(jwks),
    RACE_SESSION_PREFIX: sessionPrefix,
    RACE_TOKEN_PREFIX: tokenPrefix,
    SESSION_SECRET: sessionSecret,
    TEST_ENCRYPTION_KEY: secrets.encryptionKey,
    TEST_KEY_NAME_SECRET: secrets.keyNameSecret,
  };
  const child = fork(__filename, ['--child'], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    return child.disconnect(); // the instance exits on disconnect
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`example instance did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.once('message', (message) => {
      clearTimeout(timer);
      if (message.url) resolve({ url: message.url, stop, child });
      else reject(new Error(`example instance could not start: ${message.error}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`example instance exited during start (code ${code})`));
    });
  });
}

async function runChild() {
  const { newRedis } = require('./redis-client');
  const { createApp } = require('../../examples/express/app');
  const { DEV_CLIENT_ID } = require('../../examples/express/config');
  const { createDevIdentityProvider } = require('../../examples/dev-identity-provider/tokens');
  const { forwardingNetworkClient } = require('./shared-identity-provider');

  const redis = newRedis({ maxRetriesPerRequest: 2 }); // the run's Redis, whatever its topology
  const local = createDevIdentityProvider({ clientId: DEV_CLIENT_ID });
  const networkClient = forwardingNetworkClient(process.env.RACE_IDP_URL);
  const jwks = JSON.parse(process.env.RACE_JWKS);
  const identityProvider = {
    ...local,
    msalConfig: (options) => ({ ...local.msalConfig(options), system: { networkClient } }),
    jwks: () => jwks,
  };
  const app = createApp({
    redis,
    identityProvider,
    sessionSecret: process.env.SESSION_SECRET,
    sessionPrefix: process.env.RACE_SESSION_PREFIX,
    tokenCacheOptions: {
      prefix: process.env.RACE_TOKEN_PREFIX,
      encryptionKeys: [process.env.TEST_ENCRYPTION_KEY],
      keyNameSecret: process.env.TEST_KEY_NAME_SECRET,
    },
    // Errors are expected in a race (e.g. a call that finds its session signed out); the test judges the state.
    logger: { warn: () => {}, error: () => {} },
  });
  const server = app.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${server.address().port}` }));
  process.on('disconnect', () => {
    server.closeAllConnections();
    server.close();
    redis.disconnect();
    process.exit(0);
  });
}

if (require.main === module && process.argv.includes('--child')) {
  runChild().catch((err) => {
    process.send({ error: String(err && err.stack) });
    process.exit(1);
  });
}

module.exports = { startExampleProcess };
