'use strict';
// What differs between the ioredis majors the peer range allows (5 and 6), run on the one TEST_IOREDIS_MAJOR
// selects (tests/support/ioredis.js; npm test runs the Redis suites once on each):
//   - ioredis 6 speaks RESP3 by default. Invalidation messages then arrive as RESP3 pushes, which ioredis 6
//     drops: the in-process cache's own connection must speak RESP2 (invalidation-listener.js), and a write by
//     one server must still reach another server's in-process cache. Script replies must parse the same.
//   - ioredis 6 waits much longer for a Redis that is down (exponential back-off to 5 s, 20 retries: ~73 s per
//     command under its defaults, ~10 s on ioredis 5): commandTimeoutMs must bound the package's calls on both,
//     whatever the client's own options.
// And the children the tests start (race workers, example instances) must run the same major as the test process.

const { tcpSocketsOf } = require('../../support/process-sockets');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const Redis = require('../../support/ioredis');
const { RedisTokenCache, RedisSessionStore, CacheStoreError } = require('../../../js');
const { PartitionStore } = require('../../../js/storage/partition-store');
const { driverFor } = require('../../../js/redis/driver');
const { RedisGuard } = require('../../../js/redis/guard');
const { DEV_CLIENT_ID } = require('../../../examples/express/config');
const { createFakeIdentityProvider } = require('../../support/fake-identity-provider');
const { startSharedIdentityProvider } = require('../../support/shared-identity-provider');
const { startRaceWorkers, stopRaceWorkers } = require('../../support/race-workers');
const { startExampleProcess } = require('../../support/example-process');
const { testSecrets, TEST_ENCRYPTION_KEY, TEST_KEY_NAME_SECRET } = require('../../support/test-secrets');

const MAJOR = process.env.TEST_IOREDIS_MAJOR || '5';
const PACKAGE = { 5: 'ioredis', 6: 'ioredis6' }[MAJOR]; // tests/support/ioredis.js's choice, checked below
const CLIENT_ID = '00000000-0000-4000-8000-0000000a1ed5';
const SCOPES = ['user.read'];
const REDIRECT_URI = 'http://localhost/auth/redirect';
const COMMAND_TIMEOUT_MS = 300;
// A call that gives up at commandTimeoutMs settles a few event-loop turns later; Jest runs two files at a time.
const SCHEDULING_SLACK_MS = 250;
const BOUND_MS = COMMAND_TIMEOUT_MS + SCHEDULING_SLACK_MS;

const redisUrl = () => process.env.TEST_REDIS_URL;
const redisPort = () => Number(new URL(redisUrl()).port);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let admin;
beforeAll(() => {
  admin = new Redis(redisUrl());
});
afterAll(() => admin.quit());

/** Waits until check() is true, at most timeoutMs; throws `message` otherwise. */
async function waitUntil(check, timeoutMs, message) {
  for (const started = Date.now(); Date.now() - started < timeoutMs; await sleep(10)) {
    if (await check()) return;
  }
  if (await check()) return;
  throw new Error(message);
}

/**
 * How a promise settles within limitMs: { status: 'fulfilled' | 'rejected' | 'pending', value, reason, ms }. A
 * promise still pending is given a rejection handler, so that it can be abandoned.
 */
async function settleWithin(promise, limitMs) {
  const started = Date.now();
  let timer;
  const outcome = await Promise.race([
    promise.then((value) => ({ status: 'fulfilled', value }), (reason) => ({ status: 'rejected', reason })),
    new Promise((resolve) => {
      timer = setTimeout(() => resolve({ status: 'pending' }), limitMs);
    }),
  ]);
  clearTimeout(timer);
  return { ...outcome, ms: Date.now() - started };
}

/** CLIENT LIST as objects ({ id, addr, name, flags, resp, ... }). */
async function clientList() {
  const text = await admin.client('LIST');
  return text.trim().split('\n').filter(Boolean).map((line) => Object.fromEntries(
    line.split(' ').map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)]),
  ));
}

const newTokenCache = (redis, options = {}) =>
  new RedisTokenCache({ redis, logger: { warn: () => {} }, ...testSecrets(), ...options });

describe(`the suite runs on ioredis ${MAJOR}`, () => {
  test('tests/support/ioredis.js gives the major TEST_IOREDIS_MAJOR selects', () => {
    expect(['5', '6']).toContain(MAJOR);
    expect(Redis).toBe(require(PACKAGE));
    expect(require(`${PACKAGE}/package.json`).version.split('.')[0]).toBe(MAJOR);
  });

  test('an app client speaks the major\'s default protocol (ioredis 6: RESP3), so the suite exercises it', async () => {
    const client = new Redis(redisUrl());
    try {
      expect(await client.client('INFO')).toContain(MAJOR === '6' ? ' resp=3' : ' resp=2');
    } finally {
      client.disconnect();
    }
  });

  test('the peer range of ioredis is exactly the majors the suite runs on, from the versions it runs', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8'));
    const range = pkg.peerDependencies.ioredis;
    const alternatives = range.split('||').map((part) => part.trim());
    const tested = { ioredis: pkg.devDependencies.ioredis, ioredis6: pkg.devDependencies.ioredis6 };
    expect(tested.ioredis6).toMatch(/^npm:ioredis@\^6(\.|$)/);
    const majors = alternatives.map((alternative) => {
      const match = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(alternative);
      expect(match).not.toBeNull(); // caret ranges only: each covers one major
      return match[1];
    });
    expect(majors).toEqual(['5', '6']);
    // The floor of each major is the devDependency's, and each installed (tested) version is in the range.
    expect(alternatives[0]).toBe(tested.ioredis);
    for (const name of ['ioredis', 'ioredis6']) {
      const version = require(`${name}/package.json`).version.split('.').map(Number);
      const floor = alternatives.find((alternative) => alternative.startsWith(`^${version[0]}.`)).slice(1).split('.').map(Number);
      const cmp = version[0] - floor[0] || version[1] - floor[1] || version[2] - floor[2];
      expect(cmp).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('child processes of the tests run the same major (they inherit TEST_IOREDIS_MAJOR)', () => {
  const onLinux = fs.existsSync('/proc/net/tcp') && fs.existsSync('/proc/self/fd');

  /** The local ports of a process's TCP sockets. */
  const localPortsOf = (pid) => new Set(tcpSocketsOf(pid).map((socket) => socket.port));

  /**
   * The RESP versions of a child's app-client connections to the test Redis. A tracking connection (RESP2 on purpose)
   * is told apart by its 't' flag, which it only gets once its CLIENT TRACKING has run: so the answer is taken when
   * two looks 100 ms apart see the same connections, which a tracking connection still being set up would not give.
   */
  async function respOfConnections(pid) {
    let resp = [];
    let previousIds = '';
    await waitUntil(async () => {
      const ports = localPortsOf(pid);
      const appConnections = (await clientList())
        .filter((client) => ports.has(Number(client.addr.split(':').pop())) && !client.flags.includes('t'));
      const ids = appConnections.map((client) => client.id).sort().join(',');
      const stable = appConnections.length > 0 && ids === previousIds;
      previousIds = ids;
      resp = appConnections.map((client) => client.resp);
      if (!stable) await sleep(100);
      return stable;
    }, 8000, `process ${pid} has no settled connection to the test Redis`);
    return resp;
  }

  // The app clients of both children use ioredis's default protocol: RESP3 on ioredis 6, RESP2 on ioredis 5.
  const expectedResp = MAJOR === '6' ? '3' : '2';
  let shared;
  beforeAll(async () => {
    if (onLinux) shared = await startSharedIdentityProvider({ clientId: DEV_CLIENT_ID });
  });
  afterAll(async () => {
    if (shared) await shared.close();
  });

  (onLinux ? test : test.skip)('a race worker (tests/support/race-worker.js)', async () => {
    const secrets = { encryptionKey: TEST_ENCRYPTION_KEY, keyNameSecret: TEST_KEY_NAME_SECRET };
    const workers = await startRaceWorkers(1, { idpUrl: shared.url, msalAuth: shared.msalAuth(), secrets });
    try {
      expect(new Set(await respOfConnections(workers[0].child.pid))).toEqual(new Set([expectedResp]));
    } finally {
      await stopRaceWorkers(workers);
    }
  });

  (onLinux ? test : test.skip)('an example instance (tests/support/example-process.js)', async () => {
    const instance = await startExampleProcess({
      idpUrl: shared.url,
      jwks: shared.idp.jwks(),
      sessionPrefix: 'ioredis-major:sess:',
      tokenPrefix: 'ioredis-major:msal:',
      sessionSecret: 'ioredis major test',
      secrets: { encryptionKey: TEST_ENCRYPTION_KEY, keyNameSecret: TEST_KEY_NAME_SECRET },
    });
    try {
      expect(new Set(await respOfConnections(instance.child.pid))).toEqual(new Set([expectedResp]));
    } finally {
      await instance.stop();
    }
  });
});

describe('the in-process cache hears about other servers\' writes', () => {
  let idp;
  let clients;
  beforeEach(() => {
    idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
    clients = [];
  });
  afterEach(() => Promise.all(clients.map((client) => client.quit())));

  /** A server: its own ioredis client (named, so that its connections can be found) and its own RedisTokenCache. */
  function server(name, prefix, redisOptions = {}) {
    const redis = new Redis(redisUrl(), { connectionName: `${name}-${process.pid}`, ...redisOptions });
    clients.push(redis);
    const warnings = [];
    const tokenCache = newTokenCache(redis, { prefix, logger: { warn: (m) => warnings.push(m) } });
    return { redis, tokenCache, warnings, connectionName: `${name}-${process.pid}` };
  }

  const clientOf = ({ tokenCache }, sessionId) => tokenCache.createClientApplication(idp.msalConfig(), { sessionId });
  const signIn = (on, user, sessionId) => clientOf(on, sessionId).acquireTokenByCode({
    code: idp.issueCode(user, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI,
  });
  const accessTokensIn = (json) => Object.values(JSON.parse(json).AccessToken || {}).map((entry) => entry.secret);
  const tracking = (tokenCache) => waitUntil(
    async () => {
      await tokenCache.exportPartition({ sessionId: 'nobody' }); // the first read connects the listener
      return tokenCache.stats().localCache.coherent;
    },
    5000,
    'the in-process cache never started tracking',
  );

  /** Signs in on A, has B cache the partition, refreshes on A: resolves what B sees afterwards. */
  async function writeOnAReadOnB(a, b, sessionId) {
    const user = idp.addUser();
    const signedIn = await signIn(a, user, sessionId);
    await tracking(b.tokenCache);
    expect(accessTokensIn(await b.tokenCache.exportPartition({ sessionId }))).toEqual([signedIn.accessToken]);
    const { hits } = b.tokenCache.stats().localCache;
    expect(accessTokensIn(await b.tokenCache.exportPartition({ sessionId }))).toEqual([signedIn.accessToken]);
    expect(b.tokenCache.stats().localCache.hits).toBe(hits + 1); // B now serves it from memory

    const { invalidations } = b.tokenCache.stats().localCache;
    const refreshed = await clientOf(a, sessionId).acquireTokenSilent({ account: signedIn.account, scopes: SCOPES, forceRefresh: true });
    expect(refreshed.accessToken).not.toBe(signedIn.accessToken);
    // Fails if the invalidation never arrives (ioredis 6 drops RESP3 invalidation pushes).
    await waitUntil(() => b.tokenCache.stats().localCache.invalidations > invalidations, 2000,
      `B's in-process cache got no invalidation for A's write within 2 s (still ${invalidations})`);
    return { refreshed, seenByB: accessTokensIn(await b.tokenCache.exportPartition({ sessionId })) };
  }

  test('a write through one RedisTokenCache invalidates another\'s copy; its next read sees the write', async () => {
    const prefix = `ioredis${MAJOR}-coherence:`;
    const a = server('coherence-a', prefix);
    const b = server('coherence-b', prefix);
    try {
      const { refreshed, seenByB } = await writeOnAReadOnB(a, b, 'session-1');
      expect(seenByB).toEqual([refreshed.accessToken]);
      expect([...a.warnings, ...b.warnings]).toEqual([]);
    } finally {
      await Promise.all([a.tokenCache.close(), b.tokenCache.close()]);
    }
  });

  test('the invalidation connection speaks RESP2 and tracks, whatever the app client speaks', async () => {
    const b = server('tracking-b', `ioredis${MAJOR}-tracking:`);
    try {
      await tracking(b.tokenCache);
      const mine = (await clientList()).filter((client) => client.name === b.connectionName);
      const listeners = mine.filter((client) => client.flags.includes('t'));
      expect(listeners).toHaveLength(1);
      expect(listeners[0]).toMatchObject({ resp: '2', redir: listeners[0].id, sub: '1' });
      expect(mine.filter((client) => !client.flags.includes('t')).map((client) => client.resp))
        .toEqual([MAJOR === '6' ? '3' : '2']);
    } finally {
      await b.tokenCache.close();
    }
  });

  // ioredis 6's replyMapping "resp3" (maps as objects, doubles as numbers) is only valid with protocol 3, so
  // duplicating such a client with only `protocol: 2` throws. ioredis 5 ignores both options.
  test('an app client with replyMapping "resp3" (ioredis 6): the token cache works and stays coherent', async () => {
    const prefix = `ioredis${MAJOR}-resp3-mapping:`;
    const a = server('resp3-mapping-a', prefix, { protocol: 3, replyMapping: 'resp3' });
    const b = server('resp3-mapping-b', prefix, { protocol: 3, replyMapping: 'resp3' });
    try {
      const { refreshed, seenByB } = await writeOnAReadOnB(a, b, 'session-1');
      expect(seenByB).toEqual([refreshed.accessToken]);
      expect([...a.warnings, ...b.warnings]).toEqual([]);
    } finally {
      await Promise.all([a.tokenCache.close(), b.tokenCache.close()]);
    }
  });
});

describe('script replies parse the same whatever the client speaks', () => {
  // The app's client options that change reply types: the major's default, RESP2 and RESP3 explicitly, RESP3 maps
  // as objects (ioredis 6), and integers as strings (stringNumbers, both majors).
  const clientOptions = [
    {},
    { protocol: 2 },
    ...(MAJOR === '6' ? [{ protocol: 3 }, { protocol: 3, replyMapping: 'resp3' }] : []),
    { stringNumbers: true },
  ];
  const value = (etag, body) => Buffer.from(`mrc2 c ${etag} ${body}`, 'latin1');
  const ETAG_1 = 'AAAAAAAAAAAAAAA1';
  const ETAG_2 = 'BBBBBBBBBBBBBBB2';

  test.each(clientOptions.map((options) => [JSON.stringify(options), options]))('client options %s', async (_, options) => {
    const redis = new Redis(redisUrl(), options);
    const guard = new RedisGuard({ commandTimeoutMs: 5000, clock: Date.now, logger: { warn: () => {} } });
    const store = new PartitionStore(driverFor(redis), guard, { maxValueBytes: 1000 });
    const key = `ioredis${MAJOR}-replies:${JSON.stringify(options)}:k`;
    try {
      await admin.del(key);
      await admin.script('FLUSH'); // the first call of each script gets NOSCRIPT and sends the script (EVAL)
      expect(await store.read(key)).toEqual({ etag: '', value: null, problem: null, ttlMs: 0 });

      expect(await store.compareAndSet(key, '', value(ETAG_1, 'one'), 60)).toEqual({ written: true, replaced: '' });
      const read = await store.read(key);
      expect(read).toEqual({ etag: ETAG_1, value: value(ETAG_1, 'one'), problem: null, ttlMs: expect.any(Number) });
      expect(read.ttlMs).toBeGreaterThan(50000);
      expect(read.ttlMs).toBeLessThanOrEqual(60000);

      const conflict = await store.compareAndSet(key, ETAG_2, value(ETAG_2, 'two'), 60);
      expect(conflict).toEqual({ written: false, current: { etag: ETAG_1, value: value(ETAG_1, 'one'), problem: null, ttlMs: expect.any(Number) } });
      expect(await store.compareAndSet(key, ETAG_1, value(ETAG_2, 'two'), 60)).toEqual({ written: true, replaced: 'c' });

      await admin.set(key, 'x'.repeat(2000));
      expect(await store.read(key)).toEqual({ etag: '!foreign', value: null, problem: 'value is 2000 bytes, over maxValueBytes', ttlMs: 0 });
      await admin.del(key);
      await admin.hset(key, 'field', 'value');
      expect(await store.read(key)).toEqual({ etag: '!foreign', value: null, problem: 'holds a Redis hash, not a string', ttlMs: 0 });
      expect(await store.compareAndSet(key, '*', null, 0)).toEqual({ written: true, replaced: '' });
      expect(await admin.exists(key)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});

describe(`commandTimeoutMs bounds every call of the package on ioredis ${MAJOR}, whatever the client's retry policy`, () => {
  // Clients with ioredis's DEFAULT options (offline queue on, 20 retries per command, the major's back-off): alone
  // they would wait ~10 s (ioredis 5) or ~73 s (ioredis 6) for a Redis that is down.
  const sockets = new Set();
  const servers = [];
  const clients = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  function listen(onConnection) {
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
      onConnection(socket);
    });
    servers.push(server);
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  }

  /**
   * A TCP proxy to the test Redis that can stop forwarding anything, either way: Redis hung, connections open.
   * freeze() at once; freezeAfterNextReply() once the next reply went through.
   */
  async function freezableProxy() {
    let frozen = false;
    let armed = false;
    const port = await listen((socket) => {
      const upstream = net.connect(redisPort(), '127.0.0.1');
      sockets.add(upstream);
      upstream.on('error', () => {});
      socket.on('data', (data) => frozen || upstream.write(data));
      upstream.on('data', (data) => {
        if (frozen) return;
        socket.write(data);
        if (armed) frozen = true;
      });
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
    });
    return {
      port,
      freeze: () => {
        frozen = true;
      },
      freezeAfterNextReply: () => {
        armed = true;
      },
    };
  }

  /** A client with the defaults (its connection errors, expected here, go nowhere). */
  function defaultClient(port) {
    const client = new Redis({ port, host: '127.0.0.1' });
    client.on('error', () => {});
    clients.push(client);
    return client;
  }

  const redisDown = {
    /** Nothing listens: every connection attempt is refused. */
    async unreachable() {
      return defaultClient(1);
    },
    /** It accepts connections and never answers (not even the handshake). */
    async 'hung from the start'() {
      return defaultClient(await listen(() => {}));
    },
    /** It answered until the client was ready, then stops answering (a proxy to the test Redis that freezes). */
    async 'hung once connected'() {
      const proxy = await freezableProxy();
      const client = defaultClient(proxy.port);
      expect(await client.ping()).toBe('PONG');
      proxy.freeze();
      return client;
    },
  };
  const situations = Object.keys(redisDown);

  test.each(situations)('Redis %s: reads and sign-outs give up at commandTimeoutMs, then the breaker fails them at once', async (situation) => {
    const down = await redisDown[situation]();
    const tokenCache = newTokenCache(down, { prefix: `ioredis${MAJOR}-timeout:`, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    try {
      const [raw, read] = await Promise.all([
        settleWithin(down.get(`ioredis${MAJOR}-timeout:raw`), BOUND_MS),
        settleWithin(tokenCache.exportPartition({ sessionId: 's1' }), BOUND_MS),
      ]);
      expect(raw.status).toBe('pending'); // the client alone would still be waiting
      // exportPartition is a tool's read: it says Redis failed (a request's read would fail open), after commandTimeoutMs.
      expect(read).toMatchObject({ status: 'rejected', reason: expect.any(CacheStoreError) });
      expect(read.reason.message).toMatch(/Redis is unavailable/);
      expect(read.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 5);

      // A sign-out fails closed.
      const signOut = await settleWithin(tokenCache.removePartition({ sessionId: 's1' }), BOUND_MS);
      expect(signOut).toMatchObject({ status: 'rejected', reason: expect.any(CacheStoreError) });
      expect(signOut.reason.message).toMatch(/commandTimeoutMs/);

      const another = await settleWithin(tokenCache.exportPartition({ sessionId: 's2' }), BOUND_MS);
      expect(another).toMatchObject({ status: 'rejected', reason: expect.any(CacheStoreError) });

      // Three failures in a row: the breaker is open, and calls fail at once.
      expect(tokenCache.stats().redis).toMatchObject({ breaker: 'open', timeouts: 3 });
      const fast = await settleWithin(tokenCache.removePartition({ sessionId: 's1' }), SCHEDULING_SLACK_MS);
      expect(fast).toMatchObject({ status: 'rejected', reason: expect.any(CacheStoreError) });
      expect(fast.reason.message).toMatch(/circuit breaker open/);
    } finally {
      await tokenCache.close();
    }
  });

  test.each(situations)('Redis %s: a sign-in gets its token (writeFailure "open") or a CacheStoreError ("closed") in time', async (situation) => {
    const down = await redisDown[situation]();
    const idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
    const signIn = (tokenCache) => tokenCache.createClientApplication(idp.msalConfig(), { sessionId: 's1' }).acquireTokenByCode({
      code: idp.issueCode(idp.addUser(), { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI,
    });
    const options = { prefix: `ioredis${MAJOR}-timeout:`, commandTimeoutMs: COMMAND_TIMEOUT_MS };
    const open = newTokenCache(down, { ...options, readFailure: 'open' }); // a user partition's read misses
    const closed = newTokenCache(down, { ...options, writeFailure: 'closed' });
    try {
      // A read (fails open, or closed: the default) and a write: two Redis calls, each bounded; msal's own work on top.
      const [opened, refused] = await Promise.all([
        settleWithin(signIn(open), 2 * BOUND_MS + 500),
        settleWithin(signIn(closed), 2 * BOUND_MS + 500),
      ]);
      expect(opened.status).toBe('fulfilled');
      expect(opened.value.accessToken).toBeTruthy();
      expect(open.stats()).toMatchObject({ missedReads: 1, failedWrites: 1 });
      expect(refused).toMatchObject({ status: 'rejected', reason: expect.any(CacheStoreError) });
    } finally {
      await Promise.all([open.close(), closed.close()]);
    }
  });

  // describePartition reads the partition (through the guard), then asks Redis for its TTL: Redis hangs in between.
  test('describePartition: Redis hangs after the read, the TTL call gives up at commandTimeoutMs', async () => {
    const prefix = `ioredis${MAJOR}-describe:`;
    const idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
    const writer = newTokenCache(admin, { prefix, localCache: false });
    await writer.createClientApplication(idp.msalConfig(), { sessionId: 's1' }).acquireTokenByCode({
      code: idp.issueCode(idp.addUser(), { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI,
    });
    const proxy = await freezableProxy();
    const client = defaultClient(proxy.port);
    expect(await client.ping()).toBe('PONG');
    const tokenCache = newTokenCache(client, { prefix, localCache: false, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    expect((await tokenCache.describePartition({ sessionId: 's1' })).ttlSeconds).toBeGreaterThan(0); // Redis answers
    proxy.freezeAfterNextReply();
    const described = await settleWithin(tokenCache.describePartition({ sessionId: 's1' }), BOUND_MS);
    expect(described.status).not.toBe('pending');
    if (described.status === 'rejected') expect(described.reason).toBeInstanceOf(CacheStoreError);
  });

  // RedisSessionStore with a tokenCache: the session store is part of the package, and README promises that every
  // Redis call of the package gives up after commandTimeoutMs, and that a sign-out (the store's destroy) fails with
  // a CacheStoreError.
  test.each(situations)('Redis %s: RedisSessionStore get and destroy give up at the token cache\'s commandTimeoutMs', async (situation) => {
    const down = await redisDown[situation]();
    const tokenCache = newTokenCache(down, { prefix: `ioredis${MAJOR}-timeout:`, commandTimeoutMs: COMMAND_TIMEOUT_MS });
    const sessions = new RedisSessionStore({ redis: down, tokenCache, prefix: `ioredis${MAJOR}-timeout-sess:` });
    try {
      const [get, destroy] = await Promise.all([
        settleWithin(sessions.get('s1'), BOUND_MS),
        settleWithin(sessions.destroy('s2'), BOUND_MS),
      ]);
      expect({ get: get.status, destroy: destroy.status }).toEqual({ get: 'rejected', destroy: 'rejected' });
      expect(destroy.reason).toBeInstanceOf(CacheStoreError);
    } finally {
      await tokenCache.close();
    }
  });
});
