'use strict';
// The dev identity provider (examples/dev-identity-provider, through tests/support/shared-identity-provider.js)
// served on a loopback port for the Python tests: one source of truth for token answers, whichever language asks.
// msal-node and msal-python reach it at <url>/msal-network (a forwarded request, answered as msal-node's
// NetworkResponse); the tests drive it at <url>/control/<operation> (POST, JSON in and out). Prints {"url"} once
// listening; exits when stdin closes (the test process went away).

const http = require('node:http');
const { startSharedIdentityProvider } = require('../../support/shared-identity-provider');

const clientId = process.env.IDP_CLIENT_ID || 'python-test-client';

async function main() {
  const shared = await startSharedIdentityProvider({ clientId });
  const { idp } = shared;
  let hold = null;
  const operations = {
    msalAuth: () => shared.msalAuth(),
    addUser: ({ username }) => idp.addUser({ username }),
    issueCode: ({ user, scopes, redirectUri }) => idp.issueCode(user, { scopes, redirectUri }),
    // An API's incoming token for `user`: an on-behalf-of assertion this provider accepts.
    issueAccessToken: ({ user }) => idp.issueAccessToken(user),
    // The next `count` token responses leave together (each after a random 0..jitterMs ms).
    // autoRelease false: they wait for `release` (after `arrived`), so the test can act while they are held.
    hold: ({ count, jitterMs = 0, timeoutMs = 5000, autoRelease = true }) => {
      hold = shared.hold({ count, jitterMs, timeoutMs, autoRelease });
      return true;
    },
    arrived: async () => (hold ? hold.arrived : null),
    release: () => hold && hold.release(),
    setLatency: ({ ms }) => shared.setLatency(ms),
    setAccessTokenLifetime: ({ seconds }) => idp.setAccessTokenLifetime(seconds),
    tokenRequestCount: () => shared.tokenRequestCount(),
    grantCount: ({ grantType }) => idp.grantCount(grantType),
    // The next token request fails with this status and OAuth error code.
    failNext: ({ status, errorCode }) => {
      idp.failNext(status, errorCode);
      return true;
    },
  };
  const control = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const name = req.url.replace(/^\/control\//, '');
      try {
        if (!operations[name]) throw new Error(`unknown control operation ${name}`);
        const args = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
        const result = await operations[name](args);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ result: result ?? null }));
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err && err.message));
      }
    });
  });
  await new Promise((resolve) => control.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ url: shared.url, control: `http://127.0.0.1:${control.address().port}` })}\n`);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    control.close();
    await shared.close();
    process.exit(0);
  });
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(1);
});
