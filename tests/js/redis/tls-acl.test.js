'use strict';
// The package against a production-like Redis: TLS only (a throw-away CA), and the least-privilege ACL user that
// README.md documents (read from README.md, see tests/support/redis-acl.js). The whole public flow runs as that
// user: sign-in by code, refresh, silent cache hit, the session store, sign-out. A command the package needs that
// the line lacks fails it; so does a command in the line that the flow does not need.

const { tcpSocketsOf } = require('../../support/process-sockets');
const crypto = require('node:crypto');
const fs = require('node:fs');
const Redis = require('../../support/ioredis');
const { nodeRedis, major: nodeRedisMajor } = require('../../support/node-redis');
const { RedisTokenCache, RedisSessionStore } = require('../../../js');
const { startRedis, ping } = require('../../support/redis-server');
const { createFakeIdentityProvider } = require('../../support/fake-identity-provider');
const { documentedAclUser } = require('../../support/redis-acl');

const CLIENT_ID = '00000000-0000-4000-8000-00000000c0de';
const SCOPES = ['user.read'];
const REDIRECT_URI = 'http://localhost/auth/redirect';
const ENCRYPTION_KEY = crypto.randomBytes(32).toString('base64');
const KEY_NAME_SECRET = crypto.randomBytes(32).toString('base64');


const password = crypto.randomBytes(24).toString('base64url');
let user;
let server;
let ca;
let admin; // the harness's own access (startRedis keeps the default user, with a random password)

beforeAll(async () => {
  user = documentedAclUser(password);
  server = await startRedis({ tls: true, aclUsers: [user.line] });
  ca = fs.readFileSync(server.caFile);
  admin = new Redis(server.url, { ...server.admin, tls: { ca } });
});
afterAll(async () => {
  if (admin) await admin.quit();
  if (server) await server.stop();
});
/** An empty Redis, as after a restart: no keys, no cached scripts (so EVAL runs before EVALSHA), no ACL LOG. */
async function resetServer() {
  await admin.flushall();
  await admin.script('FLUSH');
  await admin.acl('LOG', 'RESET');
}
beforeEach(resetServer);

/** A client as an app would make it: the documented user, trusting the private CA. */
const connectAsApp = (options = {}) =>
  new Redis(server.url, { username: user.username, password, tls: { ca }, ...options });

/**
 * The app's client of either kind, connected: ioredis as above, or node-redis (createClient of `redis`, 6 unless
 * TEST_NODE_REDIS_MAJOR says 5) with the same user and CA. Its errors are kept in redis.errors.
 */
async function connectAs(kind) {
  if (kind === 'ioredis') return quietly(connectAsApp());
  const redis = quietly(nodeRedis.createClient({ url: server.url, username: user.username, password, socket: { tls: true, ca } }));
  await redis.connect();
  return redis;
}
/** Closes a client of connectAs(): ioredis's quit, node-redis's close (5: quit). */
const closeClient = (redis) => (typeof redis.close === 'function' ? redis.close() : redis.quit());
/** Drops it at once, whatever state it is in. */
function dropClient(redis) {
  if (typeof redis.destroy !== 'function') redis.disconnect();
  else if (redis.isOpen) redis.destroy();
}
const CLIENT_KINDS = ['ioredis', `node-redis ${nodeRedisMajor}`];
const kindOf = (name) => name.split(' ')[0];

// Options for a client that must fail: no retries, no offline queue. disconnectTimeout: ioredis otherwise keeps a
// 2 s timer for a TLS stream that already closed, and Jest would wait for it.
const failFast = {
  lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, disconnectTimeout: 50,
};
/** Keeps a client's 'error' events (the reason a connection failed) out of the console, in redis.errors. */
function quietly(redis) {
  redis.errors = [];
  return redis.on('error', (err) => redis.errors.push(err));
}

/** Connects a failFast client that must fail; resolves the error it emitted (connect() only says "closed"). */
async function connectionError(redis, command = () => redis.ping()) {
  try {
    await expect(redis.connect().then(command)).rejects.toThrow();
    return redis.errors[0] ?? null;
  } finally {
    redis.disconnect();
  }
}

const aclLog = async () =>
  (await admin.acl('LOG')).map((entry) => {
    const fields = {};
    for (let i = 0; i < entry.length; i += 2) fields[entry[i]] = entry[i + 1];
    return `${fields.reason} ${fields.object} (${fields.context})`;
  });

/** Sign-in, refresh, cache hit, session store, sign-out: everything the package does, as an app does it. */
const MAX_VALUE_BYTES = 64 * 1024; // the flow's token cache's: small enough to write a larger value quickly

async function runPublicFlow(redis) {
  const idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
  const warnings = [];
  const logger = { warn: (message) => warnings.push(message) };
  // skewSeconds 0: the store keeps a token msal considers expired, so that msal must refresh it.
  const tokenCache = new RedisTokenCache({
    redis, logger, skewSeconds: 0, maxValueBytes: MAX_VALUE_BYTES, encryptionKeys: [ENCRYPTION_KEY], keyNameSecret: KEY_NAME_SECRET,
  });
  const sessions = new RedisSessionStore({ redis, tokenCache, logger });
  try {
    await runFlowWith(redis, { idp, warnings, tokenCache, sessions });
  } finally {
    await tokenCache.close();
  }
}

/**
 * Waits until the in-process cache's invalidation connection tracks (its commands are then in the ACL's view). It
 * connects on the cache's first read: this one.
 */
async function localCacheTracking(tokenCache) {
  await tokenCache.exportPartition({ sessionId: 'nobody' });
  for (let waited = 0; waited < 3000; waited += 20) {
    if (tokenCache.stats().localCache.coherent) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the in-process cache never started tracking');
}

async function runFlowWith(redis, { idp, warnings, tokenCache, sessions }) {
  await localCacheTracking(tokenCache);
  const sid = crypto.randomBytes(18).toString('base64url');
  const client = () => tokenCache.createClientApplication(idp.msalConfig(), { sessionId: sid });
  const grants = () => idp.requests.filter((r) => r.method === 'POST').map((r) => r.grantType);
  const cookie = (seconds) => ({ originalMaxAge: seconds * 1000, expires: new Date(Date.now() + seconds * 1000).toISOString(), httpOnly: true, path: '/' });

  expect(await redis.ping()).toBe('PONG'); // an app's health check (the Express example pings at start)

  // Sign-in by code. The access token lives 200 s: expired for msal, which refreshes 300 s early.
  idp.setAccessTokenLifetime(200);
  const alice = idp.addUser({ username: 'alice@contoso.example' });
  const signedIn = await client().acquireTokenByCode({ code: idp.issueCode(alice, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
  idp.setAccessTokenLifetime(3600);
  const session = { cookie: cookie(3600), user: { username: 'alice@contoso.example' } };
  await sessions.set(sid, session);

  // Refresh: a new request, a new client; the cached refresh token redeemed, the new tokens stored.
  const refreshed = await client().acquireTokenSilent({ account: signedIn.account, scopes: SCOPES });
  expect(refreshed.fromCache).toBe(false);
  expect(grants()).toEqual(['authorization_code', 'refresh_token']);

  // Cache hit: from the in-process cache (kept coherent by Redis), no token request.
  const hit = await client().acquireTokenSilent({ account: signedIn.account, scopes: SCOPES });
  expect(hit.fromCache).toBe(true);
  expect(hit.accessToken).toBe(refreshed.accessToken);
  expect(grants()).toHaveLength(2);

  // The session store: get, touch (the session and its partition get the same TTL), length and all (SCAN).
  expect(await sessions.get(sid)).toEqual(session);
  await sessions.touch(sid, { ...session, cookie: cookie(7200) });
  const partition = await tokenCache.describePartition({ sessionId: sid });
  expect(partition.ttlSeconds).toBeGreaterThan(7100);
  expect(partition.ttlSeconds).toBeLessThanOrEqual(7200);
  expect(await sessions.length()).toBe(1);
  expect((await sessions.all()).map((s) => s.id)).toEqual([sid]);

  // Sign-out: the partition, then the session.
  expect(await tokenCache.removePartition({ sessionId: sid })).toBe(true);
  await expect(client().acquireTokenSilent({ account: signedIn.account, scopes: SCOPES })).rejects.toThrow();
  await sessions.destroy(sid);
  expect(await sessions.get(sid)).toBeNull();
  expect(await sessions.length()).toBe(0);

  // Admin operations (their indexes): a new sign-in is counted; signing out everywhere removes it and its session.
  const sid2 = crypto.randomBytes(18).toString('base64url');
  const again = await tokenCache.createClientApplication(idp.msalConfig(), { sessionId: sid2 })
    .acquireTokenByCode({ code: idp.issueCode(alice, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
  await sessions.set(sid2, session);
  expect(await tokenCache.countPartitions()).toEqual({ session: 1, account: 0, app: 0, obo: 0 });
  expect(await tokenCache.signOutEverywhere({ homeAccountId: again.account.homeAccountId }, { sessionStore: sessions })).toBe(1);
  expect(await sessions.get(sid2)).toBeNull();
  expect(await tokenCache.countPartitions()).toEqual({ session: 0, account: 0, app: 0, obo: 0 });
  expect(warnings).toEqual([]);

  // Another app's key of another type at a partition key: a miss, with a warning that names its type (TYPE).
  const otherSid = crypto.randomBytes(18).toString('base64url');
  // Its key from the session store (the same as the cache plugin's), not from a cache plugin, which starts reading it
  // at once: that read could reach Redis before or after the HSET on the admin connection (then a second warning).
  const otherKey = sessions.partitionKey(otherSid);
  await admin.hset(otherKey, 'field', 'value');
  expect(await tokenCache.exportPartition({ sessionId: otherSid })).toBeNull();
  expect(warnings.splice(0)).toEqual([expect.stringMatching(/holds a Redis hash, not a string/)]);

  // And a value over maxValueBytes: a miss, with a warning that says its size (STRLEN), the value not transferred.
  const bigSid = crypto.randomBytes(18).toString('base64url');
  await admin.set(sessions.partitionKey(bigSid), Buffer.alloc(MAX_VALUE_BYTES + 100, 0x41));
  expect(await tokenCache.exportPartition({ sessionId: bigSid })).toBeNull();
  expect(warnings.splice(0)).toEqual([expect.stringMatching(new RegExp(`value is ${MAX_VALUE_BYTES + 100} bytes, over maxValueBytes`))]);
}

describe('the documented ACL line', () => {
  test('is least privilege by construction: two key prefixes, one channel, single commands, no admin command', () => {
    const { rules, commands } = user;
    expect(rules[0]).toBe('on');
    expect(rules.filter((rule) => rule.startsWith('~'))).toEqual(['~msal:*', '~sess:*']);
    expect(rules).toContain('resetchannels');
    // The one channel: Redis's invalidation messages for the in-process cache.
    expect(rules.filter((rule) => rule.startsWith('&'))).toEqual(['&__redis__:invalidate']);
    expect(rules.indexOf('resetchannels')).toBeLessThan(rules.indexOf('&__redis__:invalidate'));
    const firstGrant = rules.findIndex((rule) => rule.startsWith('+'));
    expect(rules.indexOf('-@all')).toBeGreaterThanOrEqual(0);
    expect(rules.indexOf('-@all')).toBeLessThan(firstGrant);
    // Every grant is one command or subcommand: no category (+@...), no allcommands / allkeys / allchannels.
    for (const rule of rules.slice(firstGrant)) expect(rule).toMatch(/^\+[a-z]+(\|[a-z]+)?$/);
    for (const rule of rules) expect(rule).not.toMatch(/^(allkeys|allcommands|allchannels|nopass|%|~\*$|&\*$)/);
    for (const forbidden of ['keys', 'flushall', 'flushdb', 'config', 'acl', 'debug', 'shutdown', 'monitor', 'module', 'publish']) {
      expect(commands.filter((command) => command.split('|')[0] === forbidden)).toEqual([]);
    }
    // CLIENT only to learn the connection's own id and turn on tracking for it: not KILL, LIST, PAUSE, ...
    expect(commands.filter((command) => command.split('|')[0] === 'client').sort()).toEqual(['client|id', 'client|tracking']);
  });
});

describe('over TLS as the documented user', () => {
  // node-redis: what it sends on connect (HELLO, CLIENT SETINFO, CLIENT MAINT_NOTIFICATIONS) and on the in-process
  // cache's RESP2 connection (AUTH, CLIENT SETINFO, then CLIENT ID, CLIENT TRACKING, SUBSCRIBE) passes this line too.
  test.each(CLIENT_KINDS)('%s: sign-in, refresh, cache hit, session store and sign-out work, and the ACL refuses nothing', async (kind) => {
    const redis = await connectAs(kindOf(kind));
    try {
      await runPublicFlow(redis);
    } finally {
      await closeClient(redis);
    }
    expect(redis.errors).toEqual([]);
    expect(await aclLog()).toEqual([]);
  });

  test('every command of the line is needed: without any one of them the ACL refuses something in the flow (of either client)', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {}); // ioredis on a refused ready check
    /** Whether the flow on a client of `kind` without `command` is refused something by the ACL. */
    const refusedWithout = async (command, kind) => {
      await resetServer();
      await admin.acl('SETUSER', user.username, `-${command}`);
      let redis = null;
      let failure = null;
      try {
        redis = await connectAs(kind);
        await runPublicFlow(redis);
      } catch (err) {
        failure = err;
      } finally {
        if (redis) dropClient(redis);
        await admin.acl('SETUSER', user.username, `+${command}`);
      }
      const refused = await aclLog();
      // A failure the ACL did not cause is this test's problem, not a finding.
      if (failure && refused.length === 0) throw failure;
      return refused.length > 0;
    };
    const needed = {};
    try {
      // ioredis first; a command it does without (none, today) must be one node-redis needs (and INFO, ioredis's
      // ready check, is one node-redis does without).
      for (const command of user.commands) {
        // WAIT goes only to a master with replicas (signOutReplicas "auto"); this Redis has none:
        // tests/js/redis/replica-wait.test.js shows the line's user needs it there.
        if (command === 'wait') continue;
        needed[command] = await refusedWithout(command, 'ioredis') || await refusedWithout(command, 'node-redis');
      }
    } finally {
      warn.mockRestore();
    }
    const notNeeded = Object.keys(needed).filter((command) => !needed[command]);
    expect(notNeeded).toEqual([]);
  });

  test('the user cannot reach other keys, channels or admin commands, not even from a script', async () => {
    await admin.set('other:secret', 'not yours');
    const redis = connectAsApp();
    try {
      const refused = [
        () => redis.get('other:secret'),
        () => redis.set('other:key', 'x'),
        () => redis.keys('*'),
        () => redis.flushall(),
        () => redis.flushdb(),
        () => redis.config('GET', 'requirepass'),
        () => redis.acl('LIST'),
        () => redis.publish('channel', 'x'),
        () => redis.eval("return redis.call('GET', KEYS[1])", 1, 'other:secret'),
        () => redis.eval("return redis.call('GET', 'other:secret')", 0),
        () => redis.eval("return redis.call('FLUSHALL')", 0),
      ];
      // Redis 7.0 words refusals inside a script "ERR The user executing the script can't access / run ..."
      for (const call of refused) await expect(call()).rejects.toThrow(/NOPERM|The user executing the script can't/);
    } finally {
      await redis.quit();
    }
    expect(await admin.get('other:secret')).toBe('not yours');
  });
});

describe('a Redis user without a right the package needs', () => {
  /** The documented user again, whatever a test changed. */
  const restoreUser = () => admin.acl('SETUSER', user.username, 'reset', ...user.line.split(/\s+/).slice(2));
  afterEach(restoreUser);

  // [what is taken away (ACL SETUSER rules), what the one warning must say]
  const cases = [
    ['+evalsha', ['-evalsha'], /NOPERM: the Redis user may not run 'evalsha'/],
    ['write access to the partitions', ['resetkeys', '~msal:index:*', '%R~msal:session:*', '~sess:*'], /NOPERM: the Redis user may not access this package's keys/],
    ['+set (inside the compare-and-set script)', ['-set'], /NOPERM: the Redis user may not run a command of the "compare_and_set" Lua script/],
  ];
  test.each(cases)('without %s: sign-ins still return tokens, nothing is stored, and one warning says why', async (_, rules, says) => {
    await admin.acl('SETUSER', user.username, ...rules);
    const redis = connectAsApp();
    const idp = createFakeIdentityProvider({ clientId: CLIENT_ID });
    const warnings = [];
    const tokenCache = new RedisTokenCache({
      redis, logger: { warn: (message) => warnings.push(message) }, localCache: false, readFailure: 'open',
      encryptionKeys: [ENCRYPTION_KEY], keyNameSecret: KEY_NAME_SECRET,
    });
    try {
      for (let i = 0; i < 3; i++) {
        const alice = idp.addUser({ username: `alice${i}@contoso.example` });
        const sessionId = crypto.randomBytes(18).toString('base64url');
        const client = tokenCache.createClientApplication(idp.msalConfig(), { sessionId });
        const result = await client.acquireTokenByCode({ code: idp.issueCode(alice, { scopes: SCOPES }), scopes: SCOPES, redirectUri: REDIRECT_URI });
        expect(result.accessToken).toEqual(expect.any(String));
      }
      expect(tokenCache.stats().failedWrites).toBe(3);
      expect(await admin.keys('msal:session:*')).toEqual([]);
      // One warning across the three sign-ins (each refused at its read and its write): what Redis refused, no key.
      expect(warnings).toEqual([expect.stringMatching(says)]);
      expect(warnings[0]).toMatch(/^msal-redis-cache: Redis refused \w+ \(/);
      expect(warnings[0]).not.toMatch(/msal:|sess:|\{/); // no key name
      expect((await aclLog()).length).toBeGreaterThan(0); // it was the ACL
    } finally {
      await tokenCache.close();
      await redis.quit();
    }
  });
});

describe('the transport', () => {
  test('Redis listens on the TLS port only: no plain-TCP listener, plain text on the TLS port gets no answer', async () => {
    expect(server.url).toBe(`rediss://127.0.0.1:${server.port}`);
    expect(await admin.config('GET', 'port')).toEqual(['port', '0']);
    expect(await admin.config('GET', 'tls-port')).toEqual(['tls-port', String(server.port)]);
    if (fs.existsSync(`/proc/${server.pid}/fd`)) expect(listeningPorts(server.pid)).toEqual([server.port]);

    expect(await ping(server.port)).toBe(false); // plain-text PING
    expect(await ping(server.port, { ca, auth: server.admin })).toBe(true);
    const plain = quietly(new Redis(`redis://127.0.0.1:${server.port}`, { username: user.username, password, ...failFast }));
    await connectionError(plain);
  });

  test('a client that does not trust the CA, or expects another host name, is refused', async () => {
    // What a rediss:// URL alone gives: Node's public CA list.
    const untrusting = quietly(new Redis(server.url, { username: user.username, password, ...failFast }));
    expect(await connectionError(untrusting)).toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });

    const wrongName = quietly(connectAsApp({ ...failFast, tls: { ca, servername: 'redis.example' } }));
    expect(await connectionError(wrongName)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });

    // The certificate names both 127.0.0.1 and localhost.
    const byName = new Redis(`rediss://localhost:${server.port}`, { username: user.username, password, tls: { ca } });
    expect(await byName.ping()).toBe('PONG');
    await byName.quit();
  });

  test('without credentials, or with a wrong password, nothing is reachable', async () => {
    // Over RESP2 (ioredis 5; ioredis 6 with protocol 2) the connection opens and every command is refused.
    const anonymous = quietly(new Redis(server.url, { tls: { ca }, ...failFast, enableReadyCheck: false, protocol: 2 }));
    await anonymous.connect();
    await expect(anonymous.get('msal:x')).rejects.toThrow(/NOAUTH/);
    anonymous.disconnect();
    // As a client connects by default (ioredis 6: HELLO 3 first, refused; ioredis 5: the ready check's INFO).
    const anonymousDefault = quietly(new Redis(server.url, { tls: { ca }, ...failFast }));
    expect((await connectionError(anonymousDefault)).message).toMatch(/NOAUTH/);

    const wrong = quietly(connectAsApp({ ...failFast, password: 'wrong' }));
    expect((await connectionError(wrong)).message).toMatch(/WRONGPASS/);
  });
});

/** The TCP ports a process listens on. */
function listeningPorts(pid) {
  const ports = tcpSocketsOf(pid).filter((socket) => socket.listening).map((socket) => socket.port);
  return [...new Set(ports)].sort((a, b) => a - b);
}
