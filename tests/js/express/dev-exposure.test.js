'use strict';
// What strangers can do to the example's development services (security review, issue 14, point 6.4): the dev
// identity provider answers anyone who reaches it, so what it keeps must stay bounded however much it is sent, and
// the example listens on loopback unless HOST says otherwise.

const http = require('node:http');
const os = require('node:os');
const { startExample, startServerProcess } = require('./helpers');
const { LIMITS } = require('../../../examples/dev-identity-provider/tokens');
const { DEV_CLIENT_ID } = require('../../../examples/express/config');
const { DEFAULT_CLIENT_SECRET } = require('../../../examples/dev-identity-provider/tokens');

jest.setTimeout(120000);

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 16 });
afterAll(() => keepAlive.destroy());

/** A form POST to `url`, as any client on the network could send it; resolves to { status, headers, body }. */
function post(url, form) {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `make(i)` for i in [0, n), `width` at a time; resolves to their results in order. */
async function inBatches(n, width, make) {
  const results = [];
  for (let start = 0; start < n; start += width) {
    results.push(...await Promise.all(Array.from({ length: Math.min(width, n - start) }, (_, k) => make(start + k))));
  }
  return results;
}

test('5,000 anonymous POSTs to the dev identity provider: what it keeps stays within its limits', async () => {
  const example = await startExample({ name: 'dev-idp-flood' });
  try {
    const { idp } = example;
    const tenant = `${example.url}/dev-idp/${idp.tenantId}/oauth2/v2.0`;
    const redirectUri = `${example.url}/auth/redirect`;
    const client = { client_id: DEV_CLIENT_ID, client_secret: DEFAULT_CLIENT_SECRET };
    const scope = 'api://msal-redis-cache-example-api/Data.Read openid offline_access';

    // 1,000 sign-ins on the password-less page: a code each (twice the codes it keeps).
    const codes = await inBatches(1000, 16, async (i) => {
      const answer = await post(`${tenant}/authorize`, { client_id: DEV_CLIENT_ID, response_type: 'code', redirect_uri: redirectUri, scope, username: `u${i}@contoso.example` });
      expect(answer.status).toBe(303);
      return new URL(answer.headers.location).searchParams.get('code');
    });
    expect(idp.retained().codes).toBe(LIMITS.codes);
    // 1,000 redemptions: the oldest codes were let go (invalid_grant), the newest give tokens.
    const redeemed = await inBatches(1000, 16, (i) => post(`${tenant}/token`, { ...client, grant_type: 'authorization_code', code: codes[i], redirect_uri: redirectUri, scope }));
    expect(redeemed.filter((r) => r.status === 200)).toHaveLength(LIMITS.codes);
    const refreshToken = JSON.parse(redeemed[999].body).refresh_token;
    // 2,000 refreshes with one refresh token (old ones stay valid, as in Entra): a new refresh and access token each.
    const refreshed = await inBatches(2000, 16, () => post(`${tenant}/token`, { ...client, grant_type: 'refresh_token', refresh_token: refreshToken, scope }));
    expect(refreshed.every((r) => r.status === 200)).toBe(true);
    // 1,000 junk bodies of 60 KB.
    const junk = 'x'.repeat(60 * 1024);
    await inBatches(1000, 16, (i) => post(`${tenant}/token`, { grant_type: 'client_credentials', padding: junk, i: String(i) }));

    expect(idp.retained()).toEqual({ requests: LIMITS.requests, codes: 0, refreshTokens: LIMITS.refreshTokens, accessTokens: LIMITS.accessTokens });
    // The request log keeps the latest, each body cut to a few KB: not 1,000 copies of 60 KB.
    expect(idp.requests.at(-1).body).toEqual({ grant_type: 'client_credentials', truncated: true });
    expect(JSON.stringify(idp.requests).length).toBeLessThan(LIMITS.requests * (LIMITS.requestBodyChars + 1024));
    // Counting refresh grants (the cache page's number) does not depend on the log.
    expect(idp.grantCount('refresh_token')).toBe(2000);
    expect(example.app.locals.identity.refreshGrants()).toBe(2000);
  } finally {
    await example.close();
  }
});

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress() {
  return Object.values(os.networkInterfaces()).flat().find((a) => a.family === 'IPv4' && !a.internal)?.address;
}

/** Whether something accepts TCP connections at host:port. */
function reachable(host, port) {
  return new Promise((resolve) => {
    const socket = require('node:net').connect(port, host);
    socket.once('connect', () => socket.end(() => resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

test('the example listens on 127.0.0.1 unless HOST says otherwise, and warns when that exposes the dev provider', async () => {
  const external = externalAddress();
  const env = { SESSION_SECRET: 'exposure test', REDIS_URL: process.env.TEST_REDIS_URL, PATH: process.env.PATH };
  const loopback = startServerProcess(env);
  try {
    const port = Number(new URL(await loopback.started).port);
    expect(await reachable('127.0.0.1', port)).toBe(true);
    if (external) expect(await reachable(external, port)).toBe(false);
    expect(loopback.output()).not.toMatch(/WARNING: HOST/);
  } finally {
    expect(await loopback.stop()).toBe(0);
  }

  const everywhere = startServerProcess({ ...env, HOST: '0.0.0.0' });
  try {
    const port = Number(new URL(await everywhere.started).port);
    if (external) expect(await reachable(external, port)).toBe(true);
    expect(everywhere.output()).toMatch(/WARNING: HOST=0\.0\.0\.0: the development identity provider/);
    expect(everywhere.output()).toMatch(/listening on http:\/\/localhost:\d+ \(HOST=0\.0\.0\.0\)/);
  } finally {
    expect(await everywhere.stop()).toBe(0);
  }
});
