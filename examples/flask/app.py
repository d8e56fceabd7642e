"""The Flask example: the Express example's app on msal-python. Sessions (msal_redis_cache.flask) and token caches
(one partition per session) in one Redis, encrypted; the browser holds only a signed, HttpOnly session-id cookie.
create_app() builds it (server.py starts it; tests start it as a process)."""

from __future__ import annotations

import logging
from typing import Any, Tuple

import flask
import redis as redis_py

from config import Settings
from identity import IdentityClient
from msal_redis_cache import CacheStoreError, RedisTokenCache
from msal_redis_cache.flask import RedisSessionInterface, session_unavailable

STATIC = "../express/public"  # one stylesheet and icon for both examples
COOKIE_NAME = "sid"  # the Express example's: with the same SESSION_SECRET, one cookie works on both
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSP = ("default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; object-src 'none'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'{extra}")


class AppError(Exception):
    """A page with a status: what went wrong, in words for the user."""

    def __init__(self, status: int, title: str, message: str, sign_in: bool = False) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.sign_in = status, title, message, sign_in


def create_app(settings: Settings, logger: logging.Logger = logging.getLogger("flask-example")) -> flask.Flask:
    identity = IdentityClient(settings.identity)
    redis = redis_py.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1,
                                    health_check_interval=30)
    tokens = RedisTokenCache(redis=redis, encryption_keys=settings.encryption_keys,
                             key_name_secret=settings.key_name_secret, sliding_seconds=settings.session_seconds,
                             prefix=settings.token_cache_prefix, logger=logger)
    https = bool(settings.identity.redirect_uri and settings.identity.redirect_uri.startswith("https:"))
    app = flask.Flask(__name__, static_folder=STATIC, static_url_path="/static")
    # The one line that replaces Flask-Session's SESSION_TYPE = "redis": sessions beside their token caches.
    app.session_interface = RedisSessionInterface(tokens, max_age=settings.session_seconds,
                                                  prefix=settings.session_prefix,
                                                  cookie_name=f"__Host-{COOKIE_NAME}" if https else COOKIE_NAME,
                                                  secret=settings.session_secret)
    app.config.update(SESSION_COOKIE_SECURE=https, SESSION_COOKIE_SAMESITE="Lax")
    app.extensions["example"] = {"identity": identity, "tokens": tokens, "redis": redis, "settings": settings}
    # Sign-out is a form POST redirected to Entra's logout page: form-action must allow it (dev mode: this origin).
    extra_form_origin = "" if settings.identity.mode == "dev" else " https://login.microsoftonline.com"

    @app.get("/favicon.ico")
    @app.get("/favicon.svg")
    def favicon() -> Any:
        return flask.send_from_directory(app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)

    @app.before_request
    def same_origin_only() -> Any:
        """Cross-site request forgery protection for every state change (as the Express example's same-origin.js):
        Sec-Fetch-Site must say same-origin (or none: typed by the user); else Origin must be this host."""
        if flask.request.method in SAFE_METHODS:
            return None
        site = flask.request.headers.get("Sec-Fetch-Site")
        origin = flask.request.headers.get("Origin")
        allowed = site in ("same-origin", "none") if site is not None else (
            origin is None or origin.split("://", 1)[-1] == flask.request.host)
        if not allowed:
            raise AppError(403, "Request refused", "This request came from another site, so it was refused "
                                                   "(cross-site request forgery protection).")
        return None

    @app.after_request
    def security_headers(response: flask.Response) -> flask.Response:
        response.headers["Content-Security-Policy"] = CSP.format(extra=extra_form_origin)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if not flask.request.path.startswith("/static/") and not flask.request.path.startswith("/favicon"):
            # Made for this request: Back after sign-out must not show a signed-in page from the browser's cache.
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/healthz")
    def healthz() -> Any:
        """Redis reachable (a PING): 200, else 503. Does not use the session."""
        try:
            redis.ping()
            return {"status": "ok", "redis": "reachable"}
        except redis_py.exceptions.RedisError:
            return {"status": "unavailable", "redis": "unreachable"}, 503

    @app.context_processor
    def page_context() -> Any:
        return {"mode": settings.identity.mode, "user": current_user(), "session_unavailable": session_unavailable()}

    @app.errorhandler(CacheStoreError)
    def store_unavailable(error: CacheStoreError) -> Any:
        logger.warning(f"Redis unavailable: {error}")
        return error_page(503, "Service temporarily unavailable",
                          "The session store cannot be reached right now. Please try again in a moment.",
                          {"Retry-After": "5"})

    @app.errorhandler(AppError)
    def app_error(error: AppError) -> Any:
        return error_page(error.status, error.title, error.message, sign_in=error.sign_in)

    @app.errorhandler(404)
    def not_found(error: Any) -> Any:
        return error_page(404, "Not found", f"There is no page at {flask.request.path}.")

    @app.errorhandler(500)
    def server_error(error: Any) -> Any:
        original = getattr(error, "original_exception", None)
        if isinstance(original, CacheStoreError):  # raised while the session was saved, after the view
            return store_unavailable(original)
        return error_page(500, "Something went wrong", "The request failed. Please try again.")

    from auth import auth_blueprint
    from pages import pages_blueprint

    app.register_blueprint(auth_blueprint)
    app.register_blueprint(pages_blueprint)
    return app


def current_user() -> Any:
    """The signed-in account of this session, or None (also when Redis failed: never raises here)."""
    if session_unavailable():
        return None
    try:
        return flask.session.get("account")
    except CacheStoreError:
        return None


def error_page(status: int, title: str, message: str, headers: Any = None, sign_in: bool = False) -> Tuple[Any, ...]:
    html = flask.render_template("error.html", title=title, message=message, sign_in=sign_in)
    return (html, status, headers) if headers else (html, status)
