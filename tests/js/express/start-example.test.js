'use strict';
// `npm start` on a machine that has only what the example needs: scripts/start-example.sh asks
// scripts/ensure-tools.sh for the example's tools only (not the C++ test toolchain), says what it is doing one line
// per step, and starts the server. ensure-tools.sh runs in --dry-run mode here: it installs nothing.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const request = require('supertest');
const { startListeningProcess } = require('./helpers');

const ROOT = path.join(__dirname, '../../..');
const ENSURE_TOOLS = path.join(ROOT, 'scripts/ensure-tools.sh');
const TEST_TOOLCHAIN = ['g++', 'libgtest-dev', 'clang-14', 'libclang-rt-14-dev', 'chromium'];

jest.setTimeout(60000);

let bareBin; // a PATH with none of the tools: the script sees a fresh machine
beforeAll(() => {
  bareBin = fs.mkdtempSync(path.join(os.tmpdir(), 'bare-path-'));
  for (const tool of ['id', 'uname', 'ls']) fs.symlinkSync(spawnSync('bash', ['-c', `command -v ${tool}`]).stdout.toString().trim(), path.join(bareBin, tool));
});
afterAll(() => fs.rmSync(bareBin, { recursive: true, force: true }));

/** ensure-tools.sh --dry-run's report (it writes to stderr), run with `PATH` and in `cwd`. */
function dryRun(args, { PATH = process.env.PATH, cwd = ROOT } = {}) {
  const result = spawnSync('/bin/bash', [ENSURE_TOOLS, '--dry-run', ...args], { cwd, env: { PATH }, encoding: 'utf8' });
  expect(result.status).toBe(0);
  return result.stderr;
}

const needsOf = (report) => /^needs: (.*)$/m.exec(report)[1].split(/[ ;]+/);

test('the example needs the WebAssembly build only, redis-server optional: no C++ test toolchain, no browser', () => {
  const example = dryRun(['--example']);
  expect(needsOf(example)).toEqual(['emscripten', 'nlohmann-json3-dev', 'cmake', 'optional:', 'redis-server']);
  const tests = dryRun(['--with-browser', '--with-fuzzer']);
  expect(needsOf(tests)).toEqual(expect.arrayContaining([...TEST_TOOLCHAIN, 'emscripten', 'redis-server']));

  // On a machine with none of them, the example would install exactly those, and go on without redis-server.
  const fresh = dryRun(['--example'], { PATH: bareBin });
  const wouldInstall = /(?:would install Debian packages|would stop with: sudo apt-get install -y) (.*)$/m.exec(fresh)[1].split(' ');
  expect(wouldInstall).toEqual(expect.arrayContaining(['emscripten', 'cmake']));
  for (const tool of [...TEST_TOOLCHAIN, 'redis-server']) expect(wouldInstall).not.toContain(tool);
  expect(fresh).toContain('redis-server not found (sudo apt-get install -y redis-server); continuing without it.');
  // The test run on the same machine would install the test toolchain (the headers may be there already).
  const freshTests = dryRun(['--with-browser', '--with-fuzzer'], { PATH: bareBin });
  expect(freshTests).toMatch(/install -y .*g\+\+.*clang-14.*chromium.*redis-server/);
});

test('npm dependencies: installed with npm ci when node_modules is missing', () => {
  expect(dryRun(['--example'])).toContain('npm dependencies: installed');
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'fresh-clone-'));
  try {
    fs.writeFileSync(path.join(fresh, 'package-lock.json'), '{}');
    expect(dryRun(['--example'], { cwd: fresh })).toContain('would run: npm ci --no-audit --no-fund');
  } finally {
    fs.rmSync(fresh, { recursive: true, force: true });
  }
});

test('npm start says what it is doing, step by step, and starts the example', async () => {
  const run = startListeningProcess('bash', [path.join(ROOT, 'scripts/start-example.sh')], {
    ...process.env, PORT: '0', REDIS_URL: process.env.TEST_REDIS_URL, SESSION_SECRET: 'start test',
  });
  try {
    const url = await run.started;
    const output = run.output();
    const steps = output.split('\n').filter((line) => line.startsWith('==> '));
    expect(steps).toEqual([
      expect.stringMatching(/^==> Checking what the example needs/),
      expect.stringMatching(/^==> (Checking that the WebAssembly core is up to date|Building the WebAssembly core \(first run, about a minute\))\.\.\.$/),
      '==> Starting the example (examples/express/server.js)...',
    ]);
    expect(output).not.toMatch(/libgtest|clang|chromium/);
    await request(url).get('/healthz').expect(200);
  } finally {
    expect(await run.stop()).toBe(0);
  }
});
