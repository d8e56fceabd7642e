'use strict';
// Shared by the Flask example's tests: the stand-alone dev identity provider (examples/dev-identity-provider/
// server.js) and the Flask example (examples/flask/server.py, on /usr/bin/python3 with the package built in place),
// each in a process of its own, as `npm run start:flask` starts them, on the Jest run's Redis.

const net = require('node:net');
const path = require('node:path');
const { startListeningProcess } = require('../express/helpers');
const { TEST_ENCRYPTION_KEY, TEST_KEY_NAME_SECRET } = require('../../support/test-secrets');

const ROOT = path.join(__dirname, '../../..');
const PYTHON = '/usr/bin/python3';
const SESSION_SECRET = 'test session secret'; // the Express helpers' (startExample): the two examples share sessions

/** A free loopback port (released at once: the process that gets it binds it a moment later). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Waits for a process's "listening on <url>" line (any host), returning that URL. */
function listening(child) {
  return child.started;
}

/**
 * Starts the dev identity provider and the Flask example with the test secrets. `prefixes`: { tokenPrefix,
 * sessionPrefix } (the Express helpers' prefixesFor), so an Express instance can share its keys.
 * @returns {Promise<{ url: string, idpUrl: string, output: () => string, stop: () => Promise<void> }>}
 */
async function startFlaskExample({ prefixes, redisUrl = process.env.TEST_REDIS_URL, env = {} }) {
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const idp = startListeningProcess(process.execPath, [path.join(ROOT, 'examples/dev-identity-provider/server.js')], {
    PATH: process.env.PATH, PORT: '0', REDIRECT_ORIGINS: url,
  });
  idp.started.catch(() => {}); // it prints 127.0.0.1, not localhost: idpStarted reads its line
  let flask = null;
  try {
    const idpUrl = await idpStarted(idp);
    flask = startListeningProcess(PYTHON, [path.join(ROOT, 'examples/flask/server.py')], {
      PATH: process.env.PATH,
      PORT: String(port),
      REDIS_URL: redisUrl,
      DEV_IDP_URL: idpUrl,
      SESSION_SECRET,
      ENCRYPTION_KEYS: TEST_ENCRYPTION_KEY,
      KEY_NAME_SECRET: TEST_KEY_NAME_SECRET,
      TOKEN_CACHE_PREFIX: prefixes.tokenPrefix,
      SESSION_PREFIX: prefixes.sessionPrefix,
      ...env,
    });
    await listening(flask);
    return {
      url,
      idpUrl,
      output: () => `${idp.output()}\n${flask.output()}`,
      async stop() {
        await flask.stop();
        await idp.stop();
      },
    };
  } catch (err) {
    if (flask) await flask.stop();
    await idp.stop();
    throw err;
  }
}

/** The provider prints "listening on http://127.0.0.1:<port>"; startListeningProcess looks for localhost. */
function idpStarted(idp) {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(idp.output());
      if (match) {
        clearInterval(timer);
        resolve(match[1]);
      }
    }, 50);
    idp.exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`dev identity provider exited (${code}):\n${idp.output()}`));
    });
  });
}

module.exports = { startFlaskExample, freePort, PYTHON, ROOT, SESSION_SECRET };
