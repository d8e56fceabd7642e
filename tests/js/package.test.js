'use strict';
// The package as a consumer gets it: `npm pack`, the tarball installed into a throw-away app outside the repository
// (peer dependencies linked from the repo's node_modules), then the apps in tests/consumer/ run against it:
// CommonJS, ESM, ESM without express-session, and a strict TypeScript app (module nodenext, .mts and .cts) compiled
// with the repo's tsc and run. No Redis needed: the apps only construct objects on a lazyConnect ioredis client.

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { TEST_ENCRYPTION_KEY, TEST_KEY_NAME_SECRET } = require('../support/test-secrets');

const ROOT = path.join(__dirname, '..', '..');
const FIXTURES = path.join(__dirname, '..', 'consumer');
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc');
// The ioredis the consumer gets, as tests/support/ioredis.js picks it (TEST_IOREDIS_MAJOR).
const IOREDIS_PACKAGE = { 5: 'ioredis', 6: 'ioredis6' }[process.env.TEST_IOREDIS_MAJOR || '5'];

// What a consumer needs, and all it gets: the runtime modules, the ESM entry, the types, the wasm core the runtime
// loads (js/core.js), the Lua scripts it sends to Redis (js/redis/scripts.js), and the documents. Every js/*.js is
// runtime code, as is every .js in its folders (tests and tools live elsewhere).
const RUNTIME_FOLDERS = ['', 'msal', 'storage', 'redis', 'local-cache', 'session', 'admin'];
const EXPECTED_FILES = [
  ...RUNTIME_FOLDERS.flatMap((folder) => fs.readdirSync(path.join(ROOT, 'js', folder))
    .filter((name) => name.endsWith('.js')).map((name) => path.posix.join('js', folder, name))),
  'js/index.mjs',
  'js/index.d.ts',
  'js/index.d.mts',
  'js/wasm/msal_cache_core.js',
  ...fs.readdirSync(path.join(ROOT, 'js', 'redis', 'lua')).map((name) => `js/redis/lua/${name}`),
  'package.json',
  'README.md',
  'LICENSE',
  'CHANGELOG.md',
].sort();

/** Runs a command; throws with its output when it fails. NODE_PATH is dropped so only node_modules resolve. */
function run(command, args, cwd) {
  const env = { ...process.env, MRC_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, MRC_KEY_NAME_SECRET: TEST_KEY_NAME_SECRET };
  delete env.NODE_PATH;
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 120000 });
  if (result.status !== 0) {
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed (${result.status ?? result.signal}):\n` +
      `${result.stdout}\n${result.stderr}${result.error ? `\n${result.error}` : ''}`);
  }
  return result.stdout;
}

/** Runs a consumer app with node; returns the JSON report it prints last. */
function runApp(app, cwd) {
  const lines = run(process.execPath, [app], cwd).trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

function link(nodeModules, name, target) {
  fs.mkdirSync(path.dirname(path.join(nodeModules, name)), { recursive: true });
  fs.symlinkSync(target, path.join(nodeModules, name), 'dir');
}

const repoPackage = (name) => path.dirname(require.resolve(`${name}/package.json`, { paths: [ROOT] }));

/** An app directory with the tarball unpacked as node_modules/msal-redis-cache and the peers linked from the repo. */
function createApp(directory, tarball, { expressSession }) {
  const nodeModules = path.join(directory, 'node_modules');
  const installed = path.join(nodeModules, 'msal-redis-cache');
  fs.mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  link(nodeModules, 'ioredis', repoPackage(IOREDIS_PACKAGE));
  link(nodeModules, 'redis', repoPackage('redis')); // node-redis 6: consumer.cts type-checks its clients too
  link(nodeModules, '@azure/msal-node', repoPackage('@azure/msal-node'));
  link(nodeModules, '@types/node', repoPackage('@types/node'));
  if (expressSession) link(nodeModules, 'express-session', repoPackage('express-session'));
  fs.writeFileSync(path.join(directory, 'package.json'), JSON.stringify({ name: 'consumer-app', private: true }));
  for (const file of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, file), path.join(directory, file));
  return installed;
}

describe('the published package', () => {
  let tmp;
  let packed;
  let app;
  let installed;
  let commonJsKeys; // of the installed copy: what every other form must match

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mrc-package-'));
    // --ignore-scripts skips prepack (the wasm build): it would rebuild js/wasm in this working tree, from whatever
    // the core sources hold at that moment, while the tests run. `npm test` builds the wasm before Jest, and the
    // contents check below fails if the build output is missing.
    const [report] = JSON.parse(
      run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT),
    );
    packed = { tarball: path.join(tmp, report.filename), files: report.files.map((file) => file.path).sort() };
    app = path.join(tmp, 'app');
    installed = createApp(app, packed.tarball, { expressSession: true });
    const printKeys = "console.log(JSON.stringify(Object.keys(require('msal-redis-cache'))))";
    commonJsKeys = JSON.parse(run(process.execPath, ['-e', printKeys], app)).sort();
  }, 120000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the tarball holds what a consumer needs and nothing else', () => {
    expect(packed.files).toEqual(EXPECTED_FILES);
    const notForConsumers = /^(tests|bench|core|bindings|build|scripts|examples)\//;
    expect(packed.files.filter((file) => notForConsumers.test(file))).toEqual([]);
    // A real `npm pack` or `npm publish` builds the wasm first.
    expect(require('../../package.json').scripts.prepack).toBe('bash scripts/build-wasm.sh');
  });

  test('package.json: CommonJS, an exports map for require, import and types, bounded peer ranges', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
    expect(manifest.type).toBe('commonjs');
    expect(manifest.exports).toEqual({
      '.': {
        import: { types: './js/index.d.mts', default: './js/index.mjs' },
        require: { types: './js/index.d.ts', default: './js/index.js' },
      },
      './package.json': './package.json',
    });
    // Each peer range is bounded: caret ranges of the majors the suite runs, no open ">=".
    const caretRanges = /^\^\d+\.\d+\.\d+( \|\| \^\d+\.\d+\.\d+)*$/;
    for (const range of Object.values(manifest.peerDependencies)) expect(range).toMatch(caretRanges);
    expect(manifest.peerDependenciesMeta['express-session'].optional).toBe(true);
    expect(manifest.license).toBe('MIT');
    expect(fs.readFileSync(path.join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026/);
    for (const field of ['repository', 'homepage', 'bugs', 'keywords']) expect(manifest[field]).toBeTruthy();
  });

  test('a CommonJS app requires every export from the installed tarball', () => {
    const report = runApp('cjs-consumer.cjs', app);
    expect(report.resolved).toBe(path.join(installed, 'js', 'index.js'));
    expect(report.names.sort()).toEqual(commonJsKeys);
  });

  test('an ESM app imports every export by name, the same objects as require gives', () => {
    const report = runApp('esm-consumer.mjs', app);
    expect(report.resolved).toBe(pathToFileURL(path.join(installed, 'js', 'index.mjs')).href);
    expect(report.names.sort()).toEqual(report.commonJsNames.sort());
    expect(report.names.sort()).toEqual(commonJsKeys);
  });

  test('an ESM app without express-session imports the package; only RedisSessionStore says what is missing', () => {
    const bare = path.join(tmp, 'app-without-express-session');
    const bareInstalled = createApp(bare, packed.tarball, { expressSession: false });
    const report = runApp('without-express-session.mjs', bare);
    expect(report.resolved).toBe(pathToFileURL(path.join(bareInstalled, 'js', 'index.mjs')).href);
  });

  test('a strict TypeScript app (module nodenext) compiles in .mts and .cts, and runs', () => {
    run(TSC, ['-p', 'tsconfig.json'], app);
    const esm = runApp(path.join('dist', 'consumer.mjs'), app);
    expect(esm.resolved).toBe(pathToFileURL(path.join(installed, 'js', 'index.mjs')).href);
    expect(esm.names.sort()).toEqual([...commonJsKeys, 'default'].sort());
    const commonJs = runApp(path.join('dist', 'consumer.cjs'), app);
    expect(commonJs.resolved).toBe(path.join(installed, 'js', 'index.js'));
    expect(commonJs.names.sort()).toEqual(commonJsKeys);
  }, 180000); // tsc type-checks the libraries' types too (skipLibCheck false): ~5 s, far more on a loaded machine
});
