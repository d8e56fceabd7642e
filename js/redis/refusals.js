'use strict';
// What a Redis error reply means for an operator, in a few fixed words: the guard (guard.js) logs the first
// refusal of each kind. The words are built here, never copied from Redis's message beyond a command name, so a log
// line can carry no key name (Redis 7.2+ may quote keys, scripts quote their own source lines).
//
// Kinds: a command the ACL does not allow (named when Redis names it: "NOPERM this user has no permissions to run
// the 'evalsha' command"; inside a Lua script Redis 7.0 does not say which, so the script is named), keys or channels
// the ACL does not allow, and each other error code (READONLY, OOM, WRONGTYPE, ...).

const ACL_FIX = 'Give the Redis user what README.md ("Transport: TLS and a least-privilege ACL") lists.';

const CODES = {
  READONLY: ['the client is connected to a read-only replica', 'Connect to the master (Sentinel: pass the group name).'],
  OOM: ['Redis is out of memory (maxmemory) and refuses writes', 'Raise maxmemory or set an eviction policy (volatile-lru).'],
  MISCONF: ['Redis cannot save its data and refuses writes', "Fix Redis's persistence (see its log)."],
  WRONGTYPE: ['a key of this package holds another Redis type', 'Another app writes under this prefix: give each app its own prefix.'],
  BUSY: ['a script runs too long on Redis', 'See SCRIPT KILL / FUNCTION KILL on Redis.'],
  LOADING: ['Redis is loading its data set', 'Wait for Redis to finish loading.'],
  MASTERDOWN: ['the replica lost its master', 'Check the master and replication.'],
  CLUSTERDOWN: ['the Redis Cluster is down', 'Check the Cluster (CLUSTER INFO).'],
};

/**
 * @param {string} message an error reply's message
 * @param {string} operation what the package was running (a command, or a Lua script's name)
 * @returns {{ kind: string, text: string, fix: string }} kind: the dedup key
 */
function refusalOf(message, operation) {
  const code = (/^[A-Z]+(?= )/.exec(message) || ['ERR'])[0];
  const named = /'([A-Za-z|_-]+)' command/.exec(message);
  if (code === 'NOPERM' && named) {
    const command = named[1].toLowerCase();
    return { kind: `NOPERM command ${command}`, text: `NOPERM: the Redis user may not run '${command}'`, fix: ACL_FIX };
  }
  if (/can't run this command/.test(message)) {
    return {
      kind: `NOPERM script ${operation}`,
      text: `NOPERM: the Redis user may not run a command of the "${operation}" Lua script (Redis's ACL LOG names it)`,
      fix: ACL_FIX,
    };
  }
  if (/permissions? to access .*keys?|can't access .*keys/i.test(message)) {
    return { kind: 'NOPERM keys', text: "NOPERM: the Redis user may not access this package's keys", fix: ACL_FIX };
  }
  if (code === 'NOPERM') {
    const what = /channel/i.test(message) ? 'channels' : 'something';
    return { kind: `NOPERM ${what}`, text: `NOPERM: the Redis user may not access ${what} the package uses`, fix: ACL_FIX };
  }
  const [text, fix] = CODES[code] || ['an error reply', "See Redis's log."];
  return { kind: code, text: `${code}: ${text}`, fix };
}

module.exports = { refusalOf };
