"""The pages: home, profile, an API call with a token from the cache (acquire_token_silent, refreshing when needed),
the token-cache page (what Redis holds for this session, never a secret) and its "Refresh now"."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

import flask
import requests

from app import AppError
from msal_redis_cache import CacheFormatError
from msal_redis_cache.flask import session_id

pages_blueprint = flask.Blueprint("pages", __name__)


def _example() -> Any:
    return flask.current_app.extensions["example"]


def _signed_in() -> Dict[str, Any]:
    account = flask.session.get("account")
    if not account:
        raise AppError(401, "Please sign in", "This page shows your own data: sign in first.", sign_in=True)
    return account


@contextmanager
def _msal_for_session() -> Iterator[Any]:
    """msal for this request, on the session's token-cache partition. What msal changes in the block is stored once,
    when it ends (a refresh is two changes in msal-python 1.21: the new tokens, then the rotated refresh token)."""
    example = _example()
    with example["tokens"].cache_for(session_id=session_id()) as cache:
        yield example["identity"].msal_app(cache)


def _cached_account(app: Any, account: Dict[str, Any]) -> Dict[str, Any]:
    found = [a for a in app.get_accounts() if a["home_account_id"] == account["homeAccountId"]]
    if not found:
        raise AppError(401, "Please sign in again", "Your token cache no longer holds your sign-in (it expired or "
                                                    "was removed).", sign_in=True)
    return found[0]


@pages_blueprint.get("/")
def home() -> Any:
    return flask.render_template("home.html", title="Welcome", signed_out=flask.request.args.get("signedout"))


@pages_blueprint.get("/profile")
def profile() -> Any:
    account = _signed_in()
    return flask.render_template("profile.html", title="Profile", account=account,
                                 signed_in_at=time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                            time.gmtime(account["signedInAt"] / 1000)))


@pages_blueprint.get("/api/call")
def call_api() -> Any:
    account = _signed_in()
    identity = _example()["identity"]
    with _msal_for_session() as app:
        result = app.acquire_token_silent(identity.identity.api_scopes, account=_cached_account(app, account))
    if not result or "access_token" not in result:
        raise AppError(401, "Please sign in again", "No token could be obtained silently.", sign_in=True)
    reply = requests.get(identity.identity.api_url, headers={"Authorization": f"Bearer {result['access_token']}"},
                         timeout=10)
    try:
        answer = reply.json()
    except ValueError:
        answer = {"status": reply.status_code}
    return flask.render_template("api.html", title="API call", status=reply.status_code, answer=answer,
                                 from_cache="id_token_claims" not in result)


def _describe() -> Optional[Dict[str, Any]]:
    return _example()["tokens"].describe_partition(session_id=session_id())


def _access_token(description: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """When the access token for the API's scopes was cached and expires (epoch seconds)."""
    tokens: List[Dict[str, Any]] = (description or {}).get("tokens", [])
    found = [t for t in tokens if t.get("kind") in ("AccessToken", "access_token", "accesstoken")] or tokens
    latest = max(found, key=lambda t: t.get("cached_at") or 0, default={})
    return {"cached_at": latest.get("cached_at"), "expires_on": latest.get("expires_on")}


@pages_blueprint.get("/cache")
def cache_page() -> Any:
    example = _example()
    unreadable, description = None, None
    try:
        description = _describe()
    except CacheFormatError as error:
        unreadable = str(error).split(": ", 1)[-1]
    store = flask.current_app.session_interface.store
    sid = session_id()
    session_ttl = example["redis"].ttl(store.session_key(sid))
    partition_ttl = example["redis"].ttl(store.partition_key(sid)) if description else None
    refreshed = flask.session.pop("last_refresh", None)  # what POST /cache/refresh did, shown once
    return flask.render_template("cache.html", title="Token cache of this session", description=description,
                                 unreadable=unreadable, session_ttl=session_ttl, partition_ttl=partition_ttl,
                                 partition_key=store.partition_key(sid).replace(sid, "…"),
                                 absolute_seconds=example["tokens"].settings.absolute_seconds, refreshed=refreshed,
                                 now=int(time.time()), fmt=_fmt)


@pages_blueprint.post("/cache/refresh")
def refresh_now() -> Any:
    account = _signed_in()
    identity = _example()["identity"]
    before, grants_before = _access_token(_describe()), identity.refresh_grants()
    # force_refresh: msal redeems the refresh token now, as it does by itself when the access token is about to
    # expire; the token cache stores the new tokens (and the rotated refresh token) when the block ends, before the
    # partition is described again below.
    with _msal_for_session() as app:
        result = app.acquire_token_silent(identity.identity.api_scopes, account=_cached_account(app, account),
                                          force_refresh=True)
    if not result or "access_token" not in result:
        raise AppError(401, "Please sign in again", "The refresh token could not be redeemed.", sign_in=True)
    grants_after = identity.refresh_grants()
    # Post/redirect/get: the outcome rides in the session to the cache page, so reloading it does not refresh again.
    flask.session["last_refresh"] = {"at": int(time.time()), "before": before, "after": _access_token(_describe()),
                                     "grants": None if grants_before is None else [grants_before, grants_after]}
    return flask.redirect("/cache", code=303)


def _fmt(epoch: Optional[float]) -> str:
    return "—" if not epoch else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(epoch)))
