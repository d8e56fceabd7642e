"""Flask sessions in Redis beside the token cache, in the Node package's format (msal_redis_cache.flask):

    from msal_redis_cache.flask import RedisSessionInterface, regenerate
    app.session_interface = RedisSessionInterface(tokens)    # tokens: the app's RedisTokenCache

`regenerate()` at sign-in (a new session id), `destroy()` at sign-out (the session and its token-cache partition),
`session_unavailable()` in an error page (Redis failed when the session was read: say "try again", not "sign in")."""

from __future__ import annotations

import flask

from .interface import RedisSessionInterface
from .session import RedisSession, SessionUnavailable


def _current() -> RedisSession:
    session = flask.session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(session, RedisSession):
        raise RuntimeError("msal_redis_cache.flask: the app's session_interface is not a RedisSessionInterface")
    return session


def regenerate() -> None:
    """The request's session starts again, empty, under a new id; the old one is destroyed (sign-in: session
    fixation). Raises CacheStoreError when Redis fails."""
    _current().regenerate()


def destroy() -> None:
    """Deletes the request's session and tombstones its token-cache partition (sign-out); the cookie is dropped."""
    _current().destroy()


def session_id() -> str:
    """The request's session id: what `tokens.cache_for(session_id=...)` takes. Reads the session (if not yet)."""
    session = _current()
    len(session)  # reads it: a new session gets its id here
    assert session.sid is not None
    return session.sid


def session_unavailable() -> bool:
    """True when Redis failed as this request's session was read (never raises, never reads)."""
    session = flask.session._get_current_object() if flask.has_request_context() else None  # type: ignore
    return isinstance(session, RedisSession) and session.unavailable is not None


__all__ = ["RedisSessionInterface", "RedisSession", "SessionUnavailable", "regenerate", "destroy", "session_id",
           "session_unavailable"]
