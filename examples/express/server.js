'use strict';
// Starts the example: `node examples/express/server.js` (or `npm start`).
//   REDIS_URL        the Redis to use; without it a local redis-server is started when installed, else an
//                    in-memory store (development only). rediss://user:password@host:port for TLS and an ACL user
//   REDIS_CA_FILE    PEM CA certificate trusted for a rediss:// REDIS_URL (only for it; NODE_EXTRA_CA_CERTS
//                    would trust it for every TLS connection of the process)
//   REDIS_CLIENT     ioredis (default) or node-redis: which client the app hands the package (node-redis: the
//                    `redis` package's createClient)
//   PORT             default 3000
//   HOST             the address to listen on; default 127.0.0.1 (this machine only). HOST=0.0.0.0 (every
//                    interface) in a container or behind a proxy on another host; in dev mode that also opens the
//                    password-less dev identity provider to the network, and the example says so
//   SESSION_SECRET   signs session cookies; set it (the same everywhere) to run several instances
//   ENCRYPTION_KEYS  the token cache's keys, base64, comma-separated, current first; with KEY_NAME_SECRET. Random
//                    per run when unset (make one: node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))")
//   TRUST_PROXY      Express "trust proxy" (e.g. 1 or loopback) behind a TLS-terminating proxy
//   TENANT_ID, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI   use real Microsoft Entra ID instead of the dev provider
//   API_URL, API_SCOPES                                  Entra mode: the API to call (default Graph /me, User.Read)
//   OTEL_CONSOLE=1   print the token cache's OpenTelemetry metrics every 10 s (examples/express/telemetry.js)

// First: the token cache takes the global MeterProvider when it is made.
require('./telemetry').startTelemetry();

const Redis = require('ioredis');
const { createApp } = require('./app');
const { entraFromEnvironment, redisOptionsFromEnvironment, nodeRedisOptionsFromEnvironment } = require('./config');
const { startRedis } = require('./redis-server');
const { MemoryRedis } = require('./memory-redis');

const DEFAULT_HOST = '127.0.0.1';
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * The app's client of the Redis at `url`, connected and answering (fail at start, not at the first sign-in): an
 * ioredis client, or with REDIS_CLIENT=node-redis a node-redis one. close() ends it.
 */
async function connectRedis(url, env) {
  if (env.REDIS_CLIENT === 'node-redis') {
    // eslint-disable-next-line global-require
    const { createClient } = require('redis');
    const options = nodeRedisOptionsFromEnvironment(env);
    let connected = false;
    // Not reconnecting before the first connection (connect() then rejects: the example does not start, and says
    // why); afterwards node-redis reconnects by itself, and its errors meanwhile are the package's to report.
    const reconnectStrategy = (retries, cause) => (connected ? Math.min(50 * retries, 2000) : cause);
    const redis = createClient({ url, ...options, socket: { ...options.socket, reconnectStrategy } });
    redis.on('error', () => {});
    await redis.connect();
    connected = true;
    await redis.ping();
    return { redis, close: () => (redis.close ? redis.close() : redis.quit()) };
  }
  const redis = new Redis(url, redisOptionsFromEnvironment(env));
  await redis.ping();
  return { redis, close: () => redis.quit() };
}

/** @returns {Promise<{ redis, storage: 'redis'|'memory', description: string, stop: () => Promise<void> }>} */
async function openStore(env) {
  if (![undefined, '', 'ioredis', 'node-redis'].includes(env.REDIS_CLIENT)) {
    throw new Error(`REDIS_CLIENT must be ioredis or node-redis, not "${env.REDIS_CLIENT}"`);
  }
  const client = env.REDIS_CLIENT === 'node-redis' ? ' (node-redis)' : '';
  if (env.REDIS_URL) {
    const { redis, close } = await connectRedis(env.REDIS_URL, env);
    return { redis, storage: 'redis', description: `Redis at ${env.REDIS_URL.replace(/\/\/[^@/]*@/, '//***@')}${client}`, stop: close };
  }
  try {
    const server = await startRedis();
    const { redis, close } = await connectRedis(server.url, env);
    return {
      redis,
      storage: 'redis',
      description: `a local redis-server started for this run (${server.url}, data dropped on exit)${client}`,
      stop: async () => {
        await close();
        await server.stop();
      },
    };
  } catch (err) {
    console.warn(`Could not start redis-server (${err.message}).`);
    console.warn(MemoryRedis.WARNING);
    return { redis: new MemoryRedis(), storage: 'memory', description: 'an in-memory store (development only)', stop: async () => {} };
  }
}

async function main(env = process.env) {
  const entra = entraFromEnvironment(env);
  const store = await openStore(env);
  const app = createApp({
    redis: store.redis,
    storage: store.storage,
    entra,
    sessionSecret: env.SESSION_SECRET,
    encryptionKeys: env.ENCRYPTION_KEYS ? env.ENCRYPTION_KEYS.split(',') : undefined,
    keyNameSecret: env.KEY_NAME_SECRET,
    trustProxy: env.TRUST_PROXY === undefined ? undefined : parseTrustProxy(env.TRUST_PROXY),
  });
  const port = Number(env.PORT || 3000);
  const host = env.HOST || DEFAULT_HOST;
  if (!entra && !LOOPBACK.test(host)) {
    console.warn(`WARNING: HOST=${host}: the development identity provider (/dev-idp) has no passwords, and anyone who can reach this address can sign in as anyone.`);
  }
  const server = app.listen(port, host);
  // Before the "listening" line: whoever reads it may stop the process at once (the tests do).
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    await store.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await new Promise((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port: actualPort } = server.address();
  console.log(`Sessions and token caches: ${store.description}.`);
  console.log(entra ? `Identity: Microsoft Entra ID, tenant ${entra.tenantId}.` : 'Identity: the local development identity provider (/dev-idp) and API (/dev-api).');
  // localhost when that reaches it (a loopback or every-interface address), else the address itself.
  const shown = LOOPBACK.test(host) || ['0.0.0.0', '::'].includes(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  console.log(`Example app listening on http://${shown}:${actualPort}${host === DEFAULT_HOST ? '' : ` (HOST=${host})`}`);

  return server;
}

function parseTrustProxy(value) {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return /^\d+$/.test(value) ? Number(value) : value;
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`Cannot start the example: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { main, openStore };
