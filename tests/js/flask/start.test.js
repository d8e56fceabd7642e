'use strict';
// `npm run start:flask`: scripts/start-flask-example.sh asks ensure-tools.sh for the Flask example's tools only,
// says what it does one line per step, starts a throw-away Redis and the dev identity provider, then the app; and
// stops what it started when it is stopped.

const net = require('node:net');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startListeningProcess } = require('../express/helpers');
const { freePort, ROOT } = require('./helpers');

jest.setTimeout(90000);

const answers = (port) => new Promise((resolve) => {
  const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
  socket.on('error', () => resolve(false));
});

test('the Flask example needs the Python build, Flask and msal, redis-server optional: no emscripten', () => {
  const result = spawnSync('/bin/bash', [path.join(ROOT, 'scripts/ensure-tools.sh'), '--flask-example', '--dry-run'],
    { cwd: ROOT, env: { PATH: process.env.PATH }, encoding: 'utf8' });
  expect(result.status).toBe(0);
  const needs = /^needs: (.*)$/m.exec(result.stderr)[1].split(/[ ;]+/);
  expect(needs).toEqual(expect.arrayContaining(['python3-flask', 'python3-msal', 'python3-redis', 'python3-cryptography',
    'pybind11-dev', 'optional:', 'redis-server']));
  expect(needs).not.toContain('emscripten');
  expect(needs.indexOf('redis-server')).toBeGreaterThan(needs.indexOf('optional:'));
});

test('npm run start:flask starts Redis, the dev identity provider and the app, one line per step, and stops them', async () => {
  const [port, idpPort] = [await freePort(), await freePort()];
  const run = startListeningProcess('/bin/bash', [path.join(ROOT, 'scripts/start-flask-example.sh')], {
    PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), DEV_IDP_PORT: String(idpPort),
  });
  try {
    expect(await run.started).toBe(`http://localhost:${port}`);
    const output = run.output();
    for (const step of ['Checking what the Flask example needs', 'Python extension', 'throw-away local Redis',
      'Starting the dev identity provider', 'Starting the example']) {
      expect(output).toMatch(new RegExp(`^==> .*${step}`, 'm'));
    }
    expect(output).toContain('using random development keys'); // the warning, as the Express example's
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const home = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(home).toContain('href="/auth/signin"');
    const signIn = await fetch(`http://127.0.0.1:${port}/auth/signin`, { redirect: 'manual' });
    expect(signIn.headers.get('location')).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${idpPort}/dev-idp/`));
    const redisPort = Number(/throw-away local Redis on 127\.0\.0\.1:(\d+)/.exec(output)[1]);
    expect(await answers(redisPort)).toBe(true);

    await run.stop();
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const started of [port, idpPort, redisPort]) expect({ started, answers: await answers(started) }).toEqual({ started, answers: false });
  } finally {
    await run.stop();
  }
});
