'use strict';
// Run by tests/js/metrics.test.js as a child process in which @opentelemetry/api cannot be resolved, as when it is
// not installed: `node tests/support/without-otel-app.js <prefix> <clientId>` with the run's Redis (redis-client.js). Signs a user
// in through a cache with default options, then makes a silent call through one with an onEvent callback, and
// prints { resolvable, fromCache, names } (the event names seen) as its last line.

const Module = require('node:module');

// Fail resolution of @opentelemetry/api as Node does for a missing package.
const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveWithoutOtel(request, ...rest) {
  if (request === '@opentelemetry/api' || request.startsWith('@opentelemetry/api/')) {
    const err = new Error(`Cannot find module '${request}'`);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }
  return resolve.call(this, request, ...rest);
};

const { newRedis } = require('./redis-client');
const { RedisTokenCache } = require('../../js');
const { createFakeIdentityProvider } = require('./fake-identity-provider');
const { testSecrets } = require('./test-secrets');

async function main([prefix, clientId]) {
  let resolvable = true;
  try {
    require.resolve('@opentelemetry/api');
  } catch {
    resolvable = false;
  }
  const redis = newRedis();
  const idp = createFakeIdentityProvider({ clientId });
  const names = new Set();
  const options = { redis, prefix, ...testSecrets() };
  const plain = new RedisTokenCache(options);
  const counted = new RedisTokenCache({ ...options, metrics: { onEvent: (event) => names.add(event.name) } });
  const scopes = ['api://metrics/Read'];
  const { account } = await plain.createClientApplication(idp.msalConfig(), { sessionId: 's' }).acquireTokenByCode({
    code: idp.issueCode(idp.addUser(), { scopes }),
    scopes,
    redirectUri: 'http://localhost/auth/redirect',
  });
  const silent = await counted.createClientApplication(idp.msalConfig(), { sessionId: 's' }).acquireTokenSilent({ account, scopes });
  await plain.close();
  await counted.close();
  redis.disconnect();
  console.log(JSON.stringify({ resolvable, fromCache: silent.fromCache, names: [...names].sort() }));
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
