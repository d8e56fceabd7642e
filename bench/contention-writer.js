'use strict';
// One writer of the contention case (bench/contention.js): a server of its own, with its own ioredis client, its own
// RedisTokenCache (same secrets as the others, as servers of one app) and its own DistributedCachePlugin client.
// Used in-process (8 writers in one event loop) and in child processes (bench/contention-worker.js, one each).
//
// A write is msal's write path for this writer's own scope set: a fresh msal TokenCache, the plugin's
// beforeCacheAccess, the token response (this writer's access token gets a new secret; every other entry stays as
// loaded), the plugin's afterCacheAccess. Every writer updates a different access token of the same partition, so
// a correct cache keeps all of them: after a round of concurrent writes the stored partition must hold every
// writer's new token, and the ones it does not hold are lost writes.

const Redis = require('ioredis');
const { ConfidentialClientApplication, TokenCacheContext } = require('@azure/msal-node');
const { RedisTokenCache } = require('../js');
const { open } = require('../js/storage/stored-value');
const { emptyCache, addUser } = require('../tests/support/cache-fixtures');
const { RedisCacheClient, distributedPlugin } = require('./distributed-baseline');
const { countCompareAndSet } = require('./cas-counter');

const SIDES = ['ours', 'theirs'];

/**
 * The contended partition: one user with one access token (scope set) per writer. Deterministic, so that the
 * parent and every child process build the same one.
 */
function contendedCache({ writers, clientId, oid, tid, now }) {
  const cache = emptyCache();
  const scopeSets = Array.from({ length: writers }, (_, w) => [`api://writer-${w}/data.write`]);
  const homeAccountId = addUser(cache, { oid, tid, clientId, now, scopeSets });
  const tokenKeys = Object.keys(cache.AccessToken); // writer w owns tokenKeys[w]
  return { cache, json: JSON.stringify(cache), homeAccountId, tokenKeys };
}

/** The secret writer `w` stores in `round` on `side`: unique, same length as the fixture's. */
function secretFor(template, side, w, round) {
  const tail = `-${side}-w${w}-r${String(round).padStart(9, '0')}`;
  return template.slice(0, template.length - tail.length) + tail;
}

/**
 * @param {object} options
 * @param {number} options.w this writer's index
 * @param {string} options.redisUrl
 * @param {{encryptionKeys: string[], keyNameSecret: string}} options.secrets
 * @param {object} options.msalAuth msal's `auth` section (no network is used)
 * @param {{ ours: string, theirs: string }} options.prefixes key prefixes of the two sides
 * @param {string} options.sessionId ours: the session partition; theirs: the account key (same user)
 * @param {object} options.fixture contendedCache(...) arguments
 */
function createWriter({ w, redisUrl, secrets, msalAuth, prefixes, sessionId, fixture }) {
  const contended = contendedCache(fixture);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  const warnings = [];
  const logger = { warn: (message) => warnings.push(String(message)) };
  const tokenCache = new RedisTokenCache({ redis, prefix: prefixes.ours, logger, ...secrets });
  let lastWritten = null;
  const cas = countCompareAndSet(tokenCache, (result) => { lastWritten = result.written; });
  const client = new RedisCacheClient(redis);
  const keys = {
    ours: tokenCache.cachePlugin({ sessionId }).key,
    theirs: `${prefixes.theirs}account:${contended.homeAccountId}`,
  };
  const pluginFor = {
    ours: () => tokenCache.cachePlugin({ sessionId }),
    theirs: () => distributedPlugin(client, keys.theirs, () => keys.theirs),
  };
  const msalConfig = { auth: msalAuth };
  const myKey = contended.tokenKeys[w];
  const template = contended.cache.AccessToken[myKey];

  /** One write on `side`; resolves to what it did (times in µs, the compare-and-sets of ours). */
  async function write(side, round) {
    const plugin = pluginFor[side]();
    const memory = new ConfidentialClientApplication(msalConfig).getTokenCache();
    const casBefore = { ...cas.counts };
    const warningsBefore = warnings.length;
    lastWritten = null;
    const t0 = process.hrtime.bigint();
    await plugin.beforeCacheAccess(new TokenCacheContext(memory, false));
    // The token response: this writer's access token renewed, the rest as loaded.
    const now = Math.floor(Date.now() / 1000);
    const cache = JSON.parse(memory.serialize());
    const secret = secretFor(template.secret, side, w, round);
    cache.AccessToken[myKey] = {
      ...(cache.AccessToken[myKey] || template), secret, cached_at: String(now), expires_on: String(now + 3600), extended_expires_on: String(now + 7200),
    };
    memory.deserialize(JSON.stringify(cache));
    const t1 = process.hrtime.bigint();
    await plugin.afterCacheAccess(new TokenCacheContext(memory, true));
    const t2 = process.hrtime.bigint();
    return {
      w,
      secret,
      opUs: Number(t2 - t0) / 1000,
      afterUs: Number(t2 - t1) / 1000,
      finishedAt: performance.timeOrigin + performance.now(),
      compareAndSets: cas.counts.calls - casBefore.calls,
      conflicts: cas.counts.conflicts - casBefore.conflicts,
      // ours: the write reached Redis (its last compare-and-set succeeded); the baseline's SET always "succeeds"
      stored: side === 'ours' ? lastWritten === true : true,
      warnings: warnings.slice(warningsBefore),
    };
  }

  async function close() {
    if (typeof tokenCache.close === 'function') await tokenCache.close();
    await redis.quit();
  }

  return { write, keys, tokenCache, close };
}

/** The access-token secrets stored at the contended partition of `side`: { tokenKey: secret }. */
async function storedSecrets(redis, side, key, keyring) {
  const value = await redis.getBuffer(key);
  if (value === null) return {};
  const text = side === 'ours' ? open(keyring, key, value).body.toString('utf8') : value.toString('utf8');
  return Object.fromEntries(Object.entries(JSON.parse(text).AccessToken).map(([k, t]) => [k, t.secret]));
}

module.exports = { createWriter, contendedCache, storedSecrets, secretFor, SIDES };
