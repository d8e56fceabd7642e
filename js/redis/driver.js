'use strict';
// The one place that knows which Redis client the app passed. The rest of the package talks to Redis only through
// the driver this module returns, so that ioredis (and its fork iovalkey) and node-redis (`redis`) clients work
// alike, standalone, Cluster or Sentinel. Keys are given as the package names them; results are plain values.
//
// The interface (both drivers implement it, nothing more):
//   kind                          'ioredis' | 'node-redis' (for messages only)
//   topology                      'standalone' | 'cluster' | 'sentinel'
//   script({ lua, sha }, key, args, { buffers, via })
//                                 EVALSHA on one key, EVAL on NOSCRIPT; buffers: bulk replies as Buffers; via: a
//                                 connection of writeConnection(key) to send it through (where the client would pick
//                                 one of several itself: a node-redis Sentinel's master pool; ioredis's connections
//                                 are where the key's commands go anyway, and its driver ignores via)
//   get(key) -> string|null       getBuffer(key) -> Buffer|null       getRange(key, start, end) -> Buffer
//   getRangeAndPttl(key, end, { withPttl }) -> [Buffer, number|null]
//                                 GETRANGE key 0 end and PTTL key in one round trip (pipelined, not atomic); rejects
//                                 with GETRANGE's refusal (WRONGTYPE) when the key holds another type. withPttl false:
//                                 the caller needs no TTL, GETRANGE may go alone (the TTL is then null)
//   type(key) -> string           strlen(key) -> number
//   pipeline(key, commands)       [['ZADD', key, ...], ['EXPIRE', key, ...], ...] on one key's node, in one write, not
//                                 atomic -> replies (strings or numbers); rejects with the first refusal
//   del(key) exists(key) ttl(key) -> number
//   zcount(key, min, max) -> number
//   zrangeByScore(key, min, offset, count) -> [member, score, ...] (strings; max is +inf)
//   transaction(commands)         MULTI/EXEC of [['SET', key, ...], ['EXPIRE', key, s], ...] on one slot; rejects
//                                 with the first refusal (NOPERM, WRONGTYPE...), not a generic EXECABORT
//   scanNodes(guardedPing) -> [{ scan(cursor, match, count, typeArgs) -> [cursor, keys] }]   every master; keys
//                                 and MATCH as Redis sees them (with keyPrefix); guardedPing(ping) runs a PING the
//                                 driver needs first (a Cluster not ready yet) under the caller's guard
//   keyPrefix                     the client's own key prefix (ioredis keyPrefix), '' when none
//   canTrack                      whether trackingConnection() can be opened (the in-process cache needs it)
//   trackingConnection(handlers, node)
//                                 a connection of its own, RESP2, not reconnecting by itself, not keeping the
//                                 process alive: { connect(), command(...args), subscribe(channel), disconnect() };
//                                 handlers: ready(), close(), end(), error(err), message(channel, message) with
//                                 Buffers (message: a Buffer, an array of them, or null). To the server the client
//                                 talks to (standalone; Sentinel: the current master), or on a Cluster to the master
//                                 `node` (an id from clusterView). May throw (a node the client no longer knows).
//   On a Cluster only (js/local-cache/cluster-tracker.js follows the masters with them):
//   clusterView({ fresh }) -> { version, masters, covered }
//                                 the client's view: the ids (host:port) of the masters, whether every slot has an
//                                 owner (not before the client read the slot map), and a string that changes
//                                 whenever a master or any slot's owner does; cheap when unchanged (asked on every
//                                 in-process cache lookup); fresh: read the client's slot map again
//   onTopologyChange(listener) -> unsubscribe
//                                 listener() when the client says its view may have changed (ioredis: +node, -node,
//                                 refresh; node-redis has no such event: clusterView finds it)
//   nodeRole(id) -> 'master'|'slave'|null
//                                 the node's role (INFO replication) through the client's own connection to it
//   refreshTopology()             makes the client read the slot map again
//   ping()
//   writeConnection(key, guardedPing) -> { id, token(), wait(replicas, timeoutMs) -> number,
//                                 replicas() -> number } | null
//                                 the connection a write of `key` goes through (sent with script's via), taken before
//                                 the write: id names it (ioredis: the Cluster node, '' for the one connection;
//                                 node-redis: the client object), wait() runs WAIT on it, replicas()
//                                 is its server's connected_slaves; token() is what identifies it now (null when it
//                                 is down or no longer serves the key): equal before the write and after the WAIT
//                                 means both ran on one server connection (WAIT counts that connection's writes only)

const { ConfigurationError } = require('../errors');

const IOREDIS = 'an ioredis client (new Redis(...) or new Redis.Cluster(...) from "ioredis" or "iovalkey")';
const NODE_REDIS = 'a node-redis client (createClient(), createCluster() or createSentinel() from "redis", 5 or 6)';

/** Which client `redis` is: 'ioredis', 'node-redis', or null. By shape, never by require (both are optional). */
function clientKind(redis) {
  if (!redis || typeof redis !== 'object') return null;
  // Every node-redis client (5 and 6: client, cluster, sentinel) has sendCommand, the isOpen getter and
  // withTypeMapping; ioredis has neither isOpen nor withTypeMapping. Checked first: ioredis's Buffer commands are
  // only its spelling (a wrapper could add them to a node-redis client).
  if (typeof redis.sendCommand === 'function' && 'isOpen' in redis && typeof redis.withTypeMapping === 'function') {
    return 'node-redis';
  }
  if (typeof redis.evalshaBuffer === 'function' && typeof redis.getBuffer === 'function') return 'ioredis';
  return null;
}

/** What was passed instead of a client, in words that say what to change. */
function describeClient(value) {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'string' ? 'a string (a URL? pass a connected client: new Redis(url) or createClient({ url }))' : String(value);
  }
  const what = value.constructor ? value.constructor.name : 'Object';
  if (typeof value.then === 'function') return `${what} (a promise? await createClient(...).connect() first)`;
  return what;
}

/** Checks that `redis` is a client this package can drive. */
function checkRedisClient(redis, name = 'options.redis') {
  if (!clientKind(redis)) {
    throw new ConfigurationError(`${name} must be ${IOREDIS} or ${NODE_REDIS}; got ${describeClient(redis)}`);
  }
  if (clientKind(redis) === 'node-redis' && nodeRedisKeyPrefix(redis)) {
    throw new ConfigurationError(
      `${name}: node-redis's keyPrefix option is not applied to the raw commands this package sends; ` +
        'leave it unset and use the package\'s prefix option',
    );
  }
  return redis;
}

const nodeRedisKeyPrefix = (redis) => (redis.options && redis.options.keyPrefix) || redis._keyPrefix || '';

const drivers = new WeakMap(); // one driver per client: the token cache and session store share it

/** The driver of an app's client (checked first with checkRedisClient). */
function driverFor(redis) {
  let driver = drivers.get(redis);
  if (!driver) {
    checkRedisClient(redis);
    // Required here, not at the top: each file is loaded only for the client the app has.
    // eslint-disable-next-line global-require
    const Driver = clientKind(redis) === 'ioredis' ? require('./ioredis-driver') : require('./node-redis-driver');
    driver = new Driver(redis);
    drivers.set(redis, driver);
  }
  return driver;
}

/**
 * An error reply from Redis itself (WRONGTYPE, NOPERM, ...: Redis is alive), as opposed to no answer: ioredis's
 * ReplyError, node-redis's ErrorReply (which keeps the name "Error", so told by its class's name).
 */
function isReplyError(err) {
  if (!err || typeof err !== 'object') return false;
  if (err.name === 'ReplyError') return true;
  for (let proto = Object.getPrototypeOf(err); proto && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    if (proto.constructor && proto.constructor.name === 'ErrorReply') return true;
  }
  return false;
}

/** EVALSHA, then EVAL when the script cache does not hold it (after a restart or failover, or on a new node). */
async function withScriptFallback(evalsha, evalScript) {
  try {
    return await evalsha();
  } catch (err) {
    if (!/^NOSCRIPT/.test(err && err.message)) throw err;
    return evalScript();
  }
}

/** connected_slaves of INFO replication (0 on a replica, which takes no writes of its own). */
function connectedReplicas(info) {
  if (!/^role:master\r?$/m.test(info)) return 0;
  const found = /^connected_slaves:(\d+)\r?$/m.exec(info);
  return found ? Number(found[1]) : 0;
}

module.exports = {
  driverFor, checkRedisClient, clientKind, describeClient, isReplyError, withScriptFallback, connectedReplicas,
};
