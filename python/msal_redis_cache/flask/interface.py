"""A Flask session interface that keeps sessions encrypted in Redis beside their token-cache partitions, in the Node
package's RedisSessionStore format (session_store.py), with express-session's signed cookie (cookie_signature.py):
an Express and a Flask app that share Redis, the token cache's keys and the session secret share sessions.

    app.session_interface = RedisSessionInterface(tokens)   # instead of SESSION_TYPE = "redis" + Session(app)

What the browser gets: one cookie holding the signed session id (HttpOnly, SameSite=Lax, Secure over HTTPS, Path=/);
renewed on every response of a request that used its session (rolling, as the Express example's); none for a
visitor whose session stays empty (express-session's saveUninitialized: false)."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Union

import flask
from flask.sessions import SessionInterface

from ..errors import ConfigurationError
from ..redis_token_cache import RedisTokenCache
from ..session_store import DEFAULT_PREFIX, DEFAULT_TTL_SECONDS, RedisSessionStore
from .cookie_signature import cookie_value, session_id_of
from .session import RedisSession

DEFAULT_MAX_AGE = 86400  # = the token cache's default sliding window: session and tokens expire together


class RedisSessionInterface(SessionInterface):
    """Options: `prefix` of session keys ("sess:", as the Node store's); `max_age`: seconds a session lives after
    each request (cookie and Redis), None for browser-session cookies (Redis then keeps them `ttl` seconds);
    `cookie_name`: default Flask's SESSION_COOKIE_NAME; `secret`: the cookie's signing secret, or a list [current,
    *previous] (default the app's secret_key), the same as the Express app's `secret` to share sessions with it.
    Flask's SESSION_COOKIE_DOMAIN, _PATH, _HTTPONLY, _SECURE and _SAMESITE apply (SameSite defaults to Lax, Secure
    is set whenever the request came over HTTPS)."""

    def __init__(self, tokens: RedisTokenCache, *, prefix: str = DEFAULT_PREFIX,
                 max_age: Optional[int] = DEFAULT_MAX_AGE, ttl: int = DEFAULT_TTL_SECONDS,
                 cookie_name: Optional[str] = None, secret: Union[str, Sequence[str], None] = None) -> None:
        if not isinstance(tokens, RedisTokenCache):
            raise ConfigurationError("RedisSessionInterface needs the app's RedisTokenCache: sessions use its Redis "
                                     "client and keys, and each session's partition expires and goes with it")
        if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool) or max_age <= 0):
            raise ConfigurationError("max_age must be a positive number of seconds, or None")
        self.store = RedisSessionStore(tokens, prefix=prefix, ttl=ttl)
        self.tokens = tokens
        self.max_age = max_age
        self.cookie_name = cookie_name
        self._secrets = self._check_secrets(secret) if secret is not None else None

    @staticmethod
    def _check_secrets(secret: Union[str, Sequence[str]]) -> List[str]:
        found = [secret] if isinstance(secret, str) else list(secret)
        if not found or not all(isinstance(one, str) and one for one in found):
            raise ConfigurationError("secret must be a non-empty string or a list of them ([current, *previous])")
        return found

    def secrets(self, app: flask.Flask) -> List[str]:
        if self._secrets is not None:
            return self._secrets
        if not app.secret_key:
            raise ConfigurationError("set app.secret_key (or pass secret=): it signs the session cookie")
        key = app.secret_key
        return [key.decode("utf-8") if isinstance(key, bytes) else str(key)]

    def get_cookie_name(self, app: flask.Flask) -> str:
        return self.cookie_name or super().get_cookie_name(app)

    def get_cookie_samesite(self, app: flask.Flask) -> Optional[str]:
        return super().get_cookie_samesite(app) or "Lax"

    def open_session(self, app: flask.Flask, request: flask.Request) -> RedisSession:
        """Nothing is read here: the session is read on its first use (see session.py)."""
        candidate = session_id_of(request.cookies.get(self.get_cookie_name(app)), self.secrets(app))
        return RedisSession(self.store, candidate, self.max_age)

    def save_session(self, app: flask.Flask, session: Any, response: flask.Response) -> None:
        if not isinstance(session, RedisSession) or session.unavailable is not None:
            return  # Redis failed when the session was read: nothing is known to save
        name = self.get_cookie_name(app)
        secure = self.get_cookie_secure(app) or flask.request.is_secure
        cookie = {"domain": self.get_cookie_domain(app), "path": self.get_cookie_path(app),
                  "httponly": self.get_cookie_httponly(app), "samesite": self.get_cookie_samesite(app),
                  "secure": secure}
        if session.destroyed or (session.loaded and not session.new and session.changed() and len(session) == 0):
            # Destroyed, or emptied (session.clear(), Flask's sign-out): gone from Redis, and the cookie with it.
            if not session.destroyed:
                session.destroy()
            if session.had_cookie:
                response.delete_cookie(name, **cookie)
            return
        if not session.loaded:
            return  # never used by this request: neither read, nor touched, nor renewed
        response.vary.add("Cookie")
        if session.new and not session.changed():
            return  # an empty new session: nothing stored, no cookie
        assert session.sid is not None
        stored = session.stored_form(self.store.now_ms(), secure)
        if session.new or session.changed():
            self.store.set(session.sid, stored)
        else:
            self.store.touch(session.sid, stored)
        max_age = session.max_age
        # Max-Age (werkzeug adds the matching Expires), none for a browser-session cookie.
        response.set_cookie(name, cookie_value(session.sid, self.secrets(app)[0]), max_age=max_age, **cookie)
