"""The Flask session object of RedisSessionInterface: a mapping (Flask's SessionMixin) that is read from Redis on its
first use, so a request that never looks at its session (a file, a health probe) neither waits for Redis nor extends
the session. Its data is everything of the stored express-session session but "cookie", which the object keeps
apart (the cookie's lifetime: originalMaxAge, expires) so that the same Redis value serves an Express app too."""

from __future__ import annotations

import secrets
from typing import Any, Dict, Iterator, Optional

from flask.sessions import SessionMixin

from ..errors import CacheStoreError
from ..session_store import RedisSessionStore, expires_text, session_json

ID_BYTES = 24  # express-session's uid-safe(24): 32 base64url characters


class SessionUnavailable(CacheStoreError):
    """The request's session could not be read because Redis failed: who this is, is unknown. Answer "try again"
    (503), never "sign in". Raised on the first use of the session; `session_unavailable()` tells it without raising."""


def new_session_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


class RedisSession(SessionMixin):
    """`new`: not stored yet. `modified`: set on every change of a top-level key; nested changes are found too (the
    data is compared with what was read, as express-session does). `max_age`: seconds the session lives after each
    request (the cookie's Max-Age and the Redis TTL), None for a browser-session cookie."""

    def __init__(self, store: RedisSessionStore, candidate: Optional[str], max_age: Optional[int]) -> None:
        self.store = store
        self._candidate = candidate  # the id the request's cookie carries (signature checked), not read yet
        self._default_max_age = max_age
        self._data: Dict[str, Any] = {}
        self._cookie: Dict[str, Any] = {}
        self._read_text: Optional[str] = None  # the data as read: changes are found by comparing with it
        self.sid: Optional[str] = None
        self.loaded = False
        self.unavailable: Optional[CacheStoreError] = None
        self.destroyed = False
        self.new = True
        self.modified = False
        self.accessed = False
        self.had_cookie = candidate is not None

    # ---- loading ------------------------------------------------------------------------------------------------

    def _load(self) -> None:
        self.accessed = True
        if self.loaded:
            return
        if self.unavailable is not None:
            raise SessionUnavailable(str(self.unavailable)) from self.unavailable
        stored = None
        if self._candidate is not None:
            try:
                stored = self.store.get(self._candidate)
            except CacheStoreError as error:
                self.unavailable = error
                raise SessionUnavailable(str(error)) from error
        self.loaded = True
        if stored is None:
            self._start(new_session_id())
            return
        self.sid, self.new = self._candidate, False
        self._cookie = stored.pop("cookie")
        self._data = stored
        self._read_text = session_json(self._data)

    def _start(self, sid: str) -> None:
        """An empty session under a new id, stored when something is put in it."""
        self.sid, self.new, self._data, self._read_text = sid, True, {}, None
        max_age = self._default_max_age
        self._cookie = {"originalMaxAge": None if max_age is None else max_age * 1000, "expires": None,
                        "httpOnly": True, "path": "/", "sameSite": "lax"}

    # ---- the mapping --------------------------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        self._load()
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._load()
        self._data[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        self._load()
        del self._data[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(self._data)

    def __len__(self) -> int:
        self._load()
        return len(self._data)

    def __repr__(self) -> str:
        return f"<RedisSession {'loaded' if self.loaded else 'not read'}>"  # never the data, nor the id

    # ---- lifetime -----------------------------------------------------------------------------------------------

    @property
    def max_age(self) -> Optional[int]:
        self._load()
        original = self._cookie.get("originalMaxAge")
        return None if not isinstance(original, (int, float)) else max(0, int(original // 1000))

    @max_age.setter
    def max_age(self, seconds: Optional[int]) -> None:
        self._load()
        self._cookie["originalMaxAge"] = None if seconds is None else int(seconds) * 1000
        self.modified = True

    @property
    def permanent(self) -> bool:  # type: ignore[override]
        """Flask's word for a cookie with an expiry: True when max_age is set."""
        return self.max_age is not None

    @permanent.setter
    def permanent(self, value: bool) -> None:
        if value != self.permanent:
            self.max_age = (self._default_max_age or 86400) if value else None

    def changed(self) -> bool:
        """Whether the session must be written (not only touched)."""
        return self.modified or (self._read_text is not None and session_json(self._data) != self._read_text)

    def stored_form(self, now_ms: int, secure: bool) -> Dict[str, Any]:
        """The session as the store keeps it: the cookie's lifetime restarts now (a rolling session, as the Express
        example's), then the app's data."""
        cookie = dict(self._cookie)
        original = cookie.get("originalMaxAge")
        cookie["expires"] = (None if not isinstance(original, (int, float))
                             else expires_text(now_ms + int(original)))
        cookie["secure"] = secure
        return {"cookie": cookie, **self._data}

    # ---- id changes ---------------------------------------------------------------------------------------------

    def regenerate(self) -> None:
        """A new, empty session under a new id (sign-in: an id planted before is worth nothing afterwards); the old
        one is destroyed now, as express-session's regenerate does. Raises CacheStoreError when Redis fails."""
        self._load()
        if not self.new and self.sid is not None:
            self.store.destroy(self.sid)
        self._start(new_session_id())  # with the default lifetime, as express-session's new cookie
        self.modified = True
        self.destroyed = False

    def destroy(self) -> None:
        """Deletes the session and tombstones its token-cache partition now (sign-out); the response drops the
        cookie. Raises CacheStoreError when Redis fails: nobody may believe they signed out when they did not."""
        self._load()
        if not self.new and self.sid is not None:
            self.store.destroy(self.sid)
        self._data.clear()
        self.destroyed = True

