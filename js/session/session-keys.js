'use strict';
// Where RedisSessionStore keeps a session:
//   <prefix>{<tag>}                          the session (its value: stored-value.js, type "s")
//   <token cache prefix>session:{<tag>}      its token-cache partition (partitions.js)
// where tag is the keyed HMAC of the session id (keyring.js): no session id in clear, and any id, whatever its
// characters, makes a key. Redis Cluster hashes only what lies between a key's first "{" and the next "}", so the
// two keys share a hash slot (one MULTI). A "{" or "}" in the prefix would come first and break that, so the prefix
// goes into key names with "{", "}" and "%" percent-encoded ("%" too, so that two prefixes never share keys).

const { ConfigurationError } = require('../errors');

/** The prefix as it appears in key names. */
function encodePrefix(prefix) {
  return prefix.replace(/[%{}]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * `{<tag>}` for a session id: the same name as partitions.js's sessionTag (the token cache's { sessionId } key),
 * for every string; that one refuses ids msal should never see (empty, line breaks), which a store can still keep.
 */
function sessionTag(keyring, sid) {
  // Ill-formed UTF-16 (a lone surrogate) would hash as U+FFFD: two ids, one key.
  if (typeof sid !== 'string' || !sid.isWellFormed()) {
    const got = typeof sid === 'string' ? 'a string with a lone surrogate' : sid === null ? 'null' : typeof sid;
    throw new ConfigurationError(
      `a session id must be a string of well-formed Unicode (got ${got}); check express-session's genid`,
    );
  }
  return `{${keyring.name('session', sid)}}`;
}

module.exports = { encodePrefix, sessionTag };
