'use strict';
// connect-redis's own lifecycle test (lifecycleTest in index_test.ts of the installed connect-redis package), run
// unchanged against RedisSessionStore on ioredis and on node-redis: set, get, the TTL from the cookie, touch,
// length, ids, all, destroy, clear, 1000 sessions, a session set with an expiry in the past.
//
// The file is TypeScript: transpiled here with the installed `typescript`, and evaluated with its imports given
// ("vitest": Jest's expect; its own test() calls, which need connect-redis's test server, are not run). The one
// shim: lifecycleTest reads a TTL with client.ttl("sess:<id>"), and this store's keys are HMACs of the id, so the
// client it gets maps "sess:<id>" to store.sessionKey(<id>).

const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');
const session = require('express-session');
const Redis = require('../../support/ioredis');
const { nodeRedis, major: nodeRedisMajor } = require('../../support/node-redis');
const { RedisSessionStore } = require('../../../js/session/session-store');
const { testSecrets } = require('../../support/test-secrets');

// Its package exports only dist/: the file is next to dist/.
const SOURCE = path.join(path.dirname(require.resolve('connect-redis')), '..', 'index_test.ts');

/** lifecycleTest(store, client) from connect-redis's test file. */
function loadLifecycleTest() {
  // Its functions are not exported: one line appended exports this one (the test itself is not touched).
  const source = `${fs.readFileSync(SOURCE, 'utf8')}\nmodule.exports.lifecycleTest = lifecycleTest;\n`;
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: SOURCE,
  });
  const imports = {
    vitest: { expect, test: () => {} },
    'express-session': session,
    redis: {}, // createClient: only connect-redis's own tests use it
    './': {}, // connect-redis's RedisStore: only a type in lifecycleTest
    './testdata/server': {},
  };
  const module = { exports: {} };
  const requireImport = (name) => {
    if (!(name in imports)) throw new Error(`${SOURCE} imports ${name}, which this loader does not provide`);
    return imports[name];
  };
  // eslint-disable-next-line no-new-func
  new Function('module', 'exports', 'require', outputText)(module, module.exports, requireImport);
  if (typeof module.exports.lifecycleTest !== 'function') throw new Error(`${SOURCE} has no lifecycleTest`);
  return module.exports.lifecycleTest;
}

const lifecycleTest = loadLifecycleTest();

// Its load step sets 1000 sessions whose cookies expire one second after each set, one after another, then expects
// all 1000: a store that seals each session and reads its partition's header (two round trips) needs over a
// second for them on a loaded 2-core machine, and the first ones expire. Retried, so a loaded moment is not a
// failure; a store that gets any step wrong fails every attempt (the last test checks that it can fail).
jest.retryTimes(2, { logErrorsBeforeRetry: true });

/** What lifecycleTest reads Redis with: TTL of "sess:<id>", at the store's key for <id>. */
const keyLookupShim = (store, redis) => ({ ttl: (key) => redis.ttl(store.sessionKey(key.replace(/^sess:/, ''))) });

let admin; // ioredis: the shim's TTL reads
beforeAll(() => {
  admin = new Redis(process.env.TEST_REDIS_URL);
});
afterAll(() => admin.quit());

const clients = {
  ioredis: async () => {
    const redis = new Redis(process.env.TEST_REDIS_URL);
    return { redis, close: () => redis.quit() };
  },
  [`node-redis ${nodeRedisMajor}`]: async () => {
    const redis = nodeRedis.createClient({ url: process.env.TEST_REDIS_URL });
    await redis.connect();
    return { redis, close: () => (redis.close ? redis.close() : redis.quit()) };
  },
};

// A prefix of its own per run (clear() deletes every session of the prefix), ending in "sess:" as the shim expects.
const newStore = (redis, kind) =>
  new RedisSessionStore({ redis, prefix: `lifecycle:${kind.replace(/\W+/g, '-')}:${process.pid}:sess:`, ...testSecrets() });

test.each(Object.keys(clients))('connect-redis\'s lifecycleTest passes on RedisSessionStore with %s', async (kind) => {
  const { redis, close } = await clients[kind]();
  try {
    const store = newStore(redis, kind);
    await lifecycleTest(store, keyLookupShim(store, admin));
  } finally {
    await close();
  }
}, 60000);

test('the loaded lifecycleTest can fail: a store whose length() is one too many fails it', async () => {
  const { redis, close } = await clients.ioredis();
  try {
    const store = newStore(redis, 'off-by-one');
    const length = store.length.bind(store);
    store.length = async () => (await length()) + 1;
    await expect(lifecycleTest(store, keyLookupShim(store, admin))).rejects.toThrow(/toBe/);
    await store.clear();
  } finally {
    await close();
  }
});
