'use strict';
// One fake Entra ID for several processes, as several servers of one app share the real one: the dev identity
// provider's token logic (examples/dev-identity-provider/tokens.js) runs in the test process behind a
// loopback HTTP server, and other processes reach it through forwardingNetworkClient() as msal's
// `system.networkClient`. A refresh token issued to one process is therefore valid in every other one.
//
// Race tests need the token responses of several processes to land at the same moment, so the server can HOLD
// them: hold({ count }) keeps token responses back until `count` of them are waiting, then sends them all in one
// tick (or each after a small random delay). A hold always ends after timeoutMs, so a test never hangs on it.
//
//   const shared = await startSharedIdentityProvider({ clientId });
//   const hold = shared.hold({ count: 2 });          // the next 2 token responses leave together
//   ... two processes call acquireTokenSilent ...
//   const { timedOut } = await hold.arrived;
//   await shared.close();

const http = require('node:http');
const { createDevIdentityProvider } = require('../../examples/dev-identity-provider/tokens');

// The one endpoint: it carries msal's request ({ method, url, body }) and answers msal's NetworkResponse
// ({ status, headers, body }) as JSON, so the forwarded call is exactly the in-process one.
const NETWORK_PATH = '/msal-network';
const MAX_REQUEST_BYTES = 256 * 1024;
const DEFAULT_HOLD_TIMEOUT_MS = 5000;

const isTokenRequest = (method, url) => method === 'POST' && new URL(url).pathname.endsWith('/oauth2/v2.0/token');

/**
 * @param {object} options
 * @param {string} options.clientId
 * @param {object} [options.identityProvider] an existing createDevIdentityProvider() to serve; default a new one
 * @returns {Promise<SharedIdentityProvider>}
 */
async function startSharedIdentityProvider({ clientId, identityProvider } = {}) {
  const idp = identityProvider || createDevIdentityProvider({ clientId });
  let current = null; // the armed hold, if any
  let latencyMs = 0; // each token response leaves after a random 0..latencyMs ms (setLatency)
  const redeemed = new Map(); // authorization code -> resolve(), for whenRedeemed

  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== NETWORK_PATH) {
      res.writeHead(404).end();
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      answer(Buffer.concat(chunks).toString('utf8')).then(
        (send) => send(res),
        (err) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err && err.message)),
      );
    });
  });

  // Runs the token logic at once (so the request log shows when a request ARRIVED), and returns how to send the
  // answer: now, or when the armed hold lets it go.
  async function answer(text) {
    const { method, url, body } = JSON.parse(text);
    const response = method === 'GET'
      ? await idp.networkClient.sendGetRequestAsync(url)
      : await idp.networkClient.sendPostRequestAsync(url, { body: body ?? '' });
    const payload = JSON.stringify(response);
    const send = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(payload);
    if (!isTokenRequest(method, url)) return send;
    const code = new URLSearchParams(body ?? '').get('code');
    if (code && redeemed.has(code)) redeemed.get(code).resolve();
    if (latencyMs > 0) {
      const delay = Math.random() * latencyMs;
      return new Promise((resolve) => setTimeout(() => resolve(send), delay));
    }
    if (!current || current.released) return send;
    return new Promise((resolve) => current.enqueue(() => resolve(send)));
  }

  /**
   * Holds the next token responses.
   * @param {object} options
   * @param {number} options.count release when this many are waiting
   * @param {boolean} [options.autoRelease] true (default): release as soon as `count` are waiting; false: the test
   *   calls release() itself (after `arrived`), to act while the responses are held; token requests arriving
   *   meanwhile are held too (sign in in-process, through idp.msalConfig(), to get past a hold)
   * @param {number} [options.jitterMs] each response is sent after a random 0..jitterMs ms (0: all in one tick)
   * @param {number} [options.timeoutMs] release whatever is waiting after this long, count reached or not
   * @returns {{ arrived: Promise<{ waiting: number, timedOut: boolean }>, release: () => void, readonly released: boolean }}
   */
  function hold({ count, autoRelease = true, jitterMs = 0, timeoutMs = DEFAULT_HOLD_TIMEOUT_MS }) {
    if (current && !current.released) throw new Error('shared identity provider: a hold is already armed');
    const waiting = [];
    let settle;
    const arrived = new Promise((resolve) => { settle = resolve; });
    const state = {
      released: false,
      enqueue(send) {
        waiting.push(send);
        if (waiting.length === count) {
          settle({ waiting: waiting.length, timedOut: false });
          if (autoRelease) release();
        }
      },
    };
    const timer = setTimeout(() => {
      settle({ waiting: waiting.length, timedOut: true });
      release();
    }, timeoutMs);
    function release() {
      if (state.released) return;
      state.released = true;
      clearTimeout(timer);
      if (current === state) current = null;
      for (const send of waiting.splice(0)) {
        if (jitterMs > 0) setTimeout(send, Math.random() * jitterMs);
        else send();
      }
    }
    state.release = release;
    current = state;
    return { arrived, release, get released() { return state.released; } };
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;

  return {
    url,
    idp,
    hold,
    /** Every token response from now on leaves after a random 0..ms ms (0: at once); holds are then not used. */
    setLatency(ms) {
      latencyMs = ms;
    },
    /** Resolves when a token request redeeming `code` has arrived (its answer not sent yet when there is latency). */
    whenRedeemed(code) {
      let resolve;
      const promise = new Promise((done) => { resolve = done; });
      redeemed.set(code, { resolve });
      return promise.finally(() => redeemed.delete(code));
    },
    /** The msal `auth` section (strings only, so it can be sent to another process); add your networkClient. */
    msalAuth: () => idp.msalConfig().auth,
    /** Token endpoint calls so far (the request log of the identity provider). */
    tokenRequestCount: () => idp.requests.filter((r) => r.method === 'POST').length,
    async close() {
      if (current) current.release(); // answers still held go out; the server then closes their connections
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * msal's `system.networkClient` for another process: every request goes to the shared identity provider at
 * `baseUrl`. A request that gets no answer within timeoutMs fails (msal then rejects the call), never hangs.
 */
function forwardingNetworkClient(baseUrl, { timeoutMs = 15000 } = {}) {
  async function forward(method, url, options = {}) {
    const response = await fetch(`${baseUrl}${NETWORK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ method, url, body: options.body ?? null }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`shared identity provider answered ${response.status}: ${await response.text()}`);
    return response.json();
  }
  return {
    sendGetRequestAsync: (url, options) => forward('GET', url, options),
    sendPostRequestAsync: (url, options) => forward('POST', url, options),
  };
}

module.exports = { startSharedIdentityProvider, forwardingNetworkClient };
