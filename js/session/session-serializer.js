'use strict';
// A session and the text that stands for it: the serializer's stringify and parse (JSON unless the app passes its
// own, as in connect-redis). RedisSessionStore encrypts that text; the serializer never sees ciphertext.

const { ConfigurationError } = require('../errors');

/** The text of a session. Throws what the serializer throws (e.g. JSON's TypeError for a circular session). */
function serialize(serializer, session) {
  const text = serializer.stringify(session);
  if (typeof text !== 'string') {
    const got = text === null ? 'null' : typeof text;
    throw new ConfigurationError(`serializer.stringify must return a string (it returned ${got})`);
  }
  return text;
}

/**
 * The session in a text: { session } or, when it is no usable session, { session: null, problem } (never a throw: a
 * stored session that does not parse is no session, as one that does not decrypt).
 */
async function deserialize(serializer, text) {
  let session;
  try {
    session = await serializer.parse(text);
  } catch (err) {
    // The error's name only: JSON.parse's message quotes the text, which is the session.
    return { session: null, problem: `${serializer === JSON ? 'JSON' : 'serializer'}.parse failed (${err && err.name})` };
  }
  // express-session dereferences session.cookie: anything else would crash the request, so it is no session.
  if (!session || typeof session !== 'object' || !session.cookie || typeof session.cookie !== 'object') {
    return { session: null, problem: 'not an express-session session' };
  }
  return { session, problem: null };
}

module.exports = { serialize, deserialize };
