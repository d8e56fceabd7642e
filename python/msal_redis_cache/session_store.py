"""Sessions in Redis beside their token-cache partitions, exactly as the Node package's RedisSessionStore
(js/session/session-store.js) keeps express-session's sessions, so that a session written by either language opens in the
other:
  - keys `<prefix>{<tag>}` and `<token cache prefix>session:{<tag>}` (session_keys.py): one hash slot;
  - a value is the session's JSON text (express-session's shape: a "cookie" object beside the app's data), sealed
    like a partition (stored_value.py, type "s", meta the session id) with notAfter = write time + 2 x TTL; one that
    cannot be decrypted or parsed, is another session's, or is over max_value_bytes is no session (a warning);
  - saving or touching gives the session and its partition the same TTL, never past the partition's absolute
    lifetime nor (for the partition) its own notAfter: they expire together; a touch that would carry a session past
    its notAfter seals it again (a compare-and-set, so a concurrent save wins);
  - destroying deletes the session and tombstones its partition (the token cache's sign-out).
Redis failures are CacheStoreError (every call goes through the token cache's guard: one breaker). No Flask in this
file: the Flask session interface (flask/interface.py) and sign_out_everywhere use it."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, TypeVar

import redis as redis_py

from .errors import CacheFormatError, CacheStoreError, ConfigurationError
from .partitions import PARTITION_KEY_KINDS
from .session_keys import encode_prefix, session_tag
from .stored_value import (MAX_HEADER_BYTES, PARTITION, SESSION, Opened, UnreadableValue, open_value, seal)

if TYPE_CHECKING:
    from .redis_token_cache import RedisTokenCache

DEFAULT_PREFIX = "sess:"
DEFAULT_TTL_SECONDS = 86400  # connect-redis's: a session whose cookie has no expiry
_HEADER = re.compile(rb"^mrc2 ([cst]) [A-Za-z0-9_-]{16} (\d{1,15}) (\d{1,15}) [A-Za-z0-9_-]{1,16}\n")
T = TypeVar("T")


@dataclass(frozen=True)
class Header:
    """A stored value's header, unverified: only to decide TTLs, never to trust the content."""

    type: str
    created_at: int
    not_after: int


def session_json(session: Dict[str, Any]) -> str:
    """The text express-session's store would write: JSON.stringify's compact form, non-ASCII as it is."""
    return json.dumps(session, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def expires_text(epoch_ms: int) -> str:
    """A JavaScript Date's JSON form ("2026-12-07T19:00:00.000Z"): how express-session stores cookie.expires."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def expires_ms(text: str) -> Optional[int]:
    try:
        return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


class RedisSessionStore:
    """get / set / touch / destroy of sessions by id, as RedisSessionStore's (with tokenCache) in Node. Sessions are
    dicts in express-session's shape: {"cookie": {"originalMaxAge", "expires", ...}, ...the app's data}."""

    def __init__(self, tokens: "RedisTokenCache", *, prefix: str = DEFAULT_PREFIX,
                 ttl: int = DEFAULT_TTL_SECONDS) -> None:
        settings = tokens.settings
        if not isinstance(prefix, str):
            raise ConfigurationError("prefix must be a string")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise ConfigurationError("ttl must be a positive number of seconds")
        # A session key must never be a partition or index key (js/options.js, checkPrefixes).
        for kind in (*PARTITION_KEY_KINDS, "index"):
            taken = f"{settings.prefix}{kind}:"
            if prefix.startswith(taken) or encode_prefix(prefix).startswith(taken):
                raise ConfigurationError(f'session prefix "{prefix}" is inside the token cache\'s key names '
                                         f'("{taken}..."); use another one (e.g. "sess:")')
        self.tokens = tokens
        self.settings = settings
        self.redis = settings.redis
        self.prefix = prefix
        self.key_prefix = encode_prefix(prefix)
        self.ttl = ttl
        self.logger = settings.logger
        self.max_value_bytes = settings.max_value_bytes
        shared = tokens._shared  # one package: the token cache's script runner and write path
        self.values = shared.context.store
        self.writer = shared.writer

    # ---- keys ---------------------------------------------------------------------------------------------------

    def session_key(self, sid: str) -> str:
        return self.key_prefix + session_tag(self.settings.keyring, sid)

    def partition_key(self, sid: str) -> str:
        return self._partition_key_of_tag(session_tag(self.settings.keyring, sid))

    def _partition_key_of_tag(self, tag: str) -> str:
        return f"{self.settings.prefix}session:{tag}"

    def now_ms(self) -> int:
        return math.floor(self.settings.clock() * 1000)

    # ---- the store's operations ---------------------------------------------------------------------------------

    def get(self, sid: str) -> Optional[Dict[str, Any]]:
        """The session stored under `sid`, or None (missing, or unusable: a warning)."""
        key = self.session_key(sid)
        found = self._read(key)
        return found[1] if found is not None and found[0] == sid else None

    def set(self, sid: str, session: Dict[str, Any]) -> None:
        """Stores the session (and gives its partition the same TTL)."""
        self._save(sid, session, write=True)

    def touch(self, sid: str, session: Dict[str, Any]) -> None:
        """Restarts the TTL of the session and of its partition (sealing the session again when due)."""
        self._save(sid, session, write=False)

    def destroy(self, sid: str) -> None:
        """Deletes the session and tombstones its partition: a sign-out. Raises CacheStoreError when Redis fails."""
        self._destroy_tag(session_tag(self.settings.keyring, sid))

    def delete_session_of_tag(self, tag: str) -> None:
        """Deletes the session whose partition is `<token cache prefix>session:<tag>` (sign_out_everywhere)."""
        key = self.key_prefix + tag
        self._call("DEL", key, lambda: self.redis.delete(key))

    # ---- inside -------------------------------------------------------------------------------------------------

    def _call(self, what: str, key: str, operation: Callable[[], T]) -> T:
        """A Redis call through the token cache's guard: its breaker, metrics and CacheStoreError."""
        return self.values.guard.run(what, key, operation)

    def _destroy_tag(self, tag: str) -> None:
        key = self.key_prefix + tag
        self._call("DEL", key, lambda: self.redis.delete(key))
        self.writer.remove(self._partition_key_of_tag(tag))

    def _read(self, key: str) -> Optional[Tuple[str, Dict[str, Any]]]:
        """(session id, session) stored at `key`, or None: missing, or unreadable (a warning, never an error)."""
        def unreadable(reason: str) -> None:
            self.logger.warning(f'msal-redis-cache: ignoring unreadable session "{key}" (treated as no session): '
                                f"{reason}")
        state = self.values.read(key)  # one over max_value_bytes is read no further than max_value_bytes + 1 bytes
        if state.problem:
            return unreadable(state.problem)
        if state.value is None:
            return None
        try:
            opened = open_value(self.settings.keyring, key, state.value, self.now_ms() // 1000)
        except UnreadableValue as error:
            return unreadable(str(error))
        if opened.type != SESSION:
            return unreadable("not a session")
        assert opened.body is not None
        try:
            session = json.loads(opened.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            return unreadable(f"JSON.parse failed ({type(error).__name__})")  # never the text: it is the session
        if not isinstance(session, dict) or not isinstance(session.get("cookie"), dict):
            return unreadable("not an express-session session")
        return (opened.meta or "", session)

    def _save(self, sid: str, session: Dict[str, Any], write: bool) -> None:
        tag = session_tag(self.settings.keyring, sid)
        session_key = self.key_prefix + tag
        body = session_json(session) if write else None  # before any Redis call: a bad session changes nothing
        ttl, partition_ttl = self._ttls(tag, session)
        if ttl <= 0:
            self._destroy_tag(tag)  # already expired (or its partition reached its absolute lifetime): gone
            return
        header = None if write else self._header(session_key)
        now = self.now_ms() // 1000
        reseal = (header is not None and header.type == SESSION and header.not_after != 0
                  and now + ttl > header.not_after)
        if reseal:
            self._reseal(session_key, ttl)
        # One MULTI: the session and its partition share a hash tag (one Cluster slot).
        pipe = self.redis.pipeline(transaction=True)
        queued = 0
        if body is not None:
            pipe.set(session_key, self._seal(session_key, created_at=now, sid=sid, body=body.encode("utf-8"),
                                             ttl=ttl), ex=ttl)
            queued += 1
        elif not reseal:
            pipe.expire(session_key, ttl)
            queued += 1
        if partition_ttl > 0:  # EXPIRE does nothing to a missing key: no partition, nothing to extend
            pipe.expire(self._partition_key_of_tag(tag), partition_ttl)
            queued += 1
        if queued:
            self._call("SET" if write else "EXPIRE", session_key, pipe.execute)

    def _seal(self, key: str, *, created_at: int, sid: str, body: bytes, ttl: int) -> bytes:
        """A session value; its notAfter leaves room for touches: twice its TTL (see _save)."""
        value = seal(self.settings.keyring, key, type=SESSION, created_at=created_at, not_after=created_at + 2 * ttl,
                     meta=sid, body=body).value
        if len(value) > self.max_value_bytes:
            raise CacheFormatError(f'session "{key}" would be {len(value)} bytes, over max_value_bytes '
                                   f"({self.max_value_bytes}); not stored")
        return value

    def _reseal(self, key: str, ttl: int) -> None:
        """Seals the stored session again with a later notAfter, as it is now (another request may have changed it)."""
        state = self.values.read(key)
        if state.value is None:
            return
        try:
            opened: Opened = open_value(self.settings.keyring, key, state.value, self.now_ms() // 1000)
        except UnreadableValue:
            return  # the next read says why; nothing to extend
        if opened.type != SESSION or opened.body is None:
            return
        value = self._seal(key, created_at=self.now_ms() // 1000, sid=opened.meta or "", body=opened.body, ttl=ttl)
        self.values.compare_and_set(key, state.etag, value, ttl)

    def _header(self, key: str) -> Optional[Header]:
        """The header of the value at `key` (its first bytes only), or None when there is none this package reads."""
        try:
            head = self._call("GETRANGE", key, lambda: self.redis.getrange(key, 0, MAX_HEADER_BYTES))
        except CacheStoreError as error:
            if isinstance(error.__cause__, redis_py.exceptions.ResponseError) and "WRONGTYPE" in str(error.__cause__):
                return None  # not ours: reads treat it as unreadable
            raise
        match = _HEADER.match(head or b"")
        return Header(match.group(1).decode(), int(match.group(2)), int(match.group(3))) if match else None

    def _ttls(self, tag: str, session: Dict[str, Any]) -> Tuple[int, int]:
        """The session's TTL (from its cookie's expiry, else `ttl`), never past its partition's absolute lifetime;
        and the TTL its partition may get: the same, never past the partition's own notAfter."""
        ttl = self.ttl
        cookie = session.get("cookie") if isinstance(session.get("cookie"), dict) else {}
        expires = expires_ms(cookie["expires"]) if isinstance(cookie.get("expires"), str) else None
        if expires is not None:
            ttl = math.ceil((expires - self.now_ms()) / 1000)
        if ttl <= 0:
            return ttl, ttl
        header = self._header(self._partition_key_of_tag(tag))
        now = self.now_ms() // 1000
        if header is None:
            return ttl, ttl
        if header.type != PARTITION:
            return ttl, min(ttl, header.not_after - now)
        capped = min(ttl, header.created_at + self.settings.absolute_seconds - now)
        return capped, min(capped, header.not_after - now)
