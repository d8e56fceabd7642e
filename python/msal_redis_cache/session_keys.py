"""Where a session is kept, as js/session/session-keys.js names it (the Node RedisSessionStore's keys, bit for bit):
    <prefix>{<tag>}                          the session (its value: stored_value.py, type "s")
    <token cache prefix>session:{<tag>}      its token-cache partition
tag is the keyed HMAC of the session id (keyring.py): no session id in clear, and the two keys share a Redis Cluster
hash slot (one MULTI). A "{", "}" or "%" in the prefix is percent-encoded so that it cannot take the hash tag over."""

from __future__ import annotations

import re

from .errors import ConfigurationError
from .keyring import Keyring

_SPECIAL = re.compile(r"[%{}]")


def encode_prefix(prefix: str) -> str:
    """The prefix as it appears in key names ("%" too, so that two prefixes never share keys)."""
    return _SPECIAL.sub(lambda match: f"%{ord(match.group(0)):X}", prefix)


def session_tag(keyring: Keyring, session_id: str) -> str:
    """`{<tag>}` for any session id: the same name as partitions.session_tag (the token cache's session_id key),
    which refuses ids msal should never see (empty, line breaks) that a session store can still keep."""
    if not isinstance(session_id, str):
        raise ConfigurationError(f"a session id must be a string (got {type(session_id).__name__})")
    try:
        session_id.encode("utf-8")
    except UnicodeEncodeError:
        # Node hashes a lone surrogate as U+FFFD: two ids would share one key.
        raise ConfigurationError("a session id must be well-formed Unicode (it has a lone surrogate)") from None
    return "{" + keyring.name("session", session_id) + "}"
