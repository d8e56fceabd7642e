"""A small Flask app on RedisSessionInterface for the session tests: it counts visits, signs in with msal-python
through the session's partition (a code from the dev identity provider), signs out, and answers 503 when Redis fails,
as the example does."""

from __future__ import annotations

from typing import Any, Dict

import flask
import msal

from msal_redis_cache import CacheStoreError, RedisTokenCache
from msal_redis_cache.flask import RedisSessionInterface, destroy, regenerate, session_id, session_unavailable
from msal_redis_cache.flask.cookie_signature import session_id_of

from .msal_http import ForwardingHttpClient

SECRET = "flask-test-session-secret"
SCOPES = ["https://graph.microsoft.com/User.Read"]  # conftest's
REDIRECT_URI = "http://localhost:3000/auth/redirect"


def cookie_of(response: Any) -> str:
    """The Set-Cookie header of the session cookie."""
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("sid=")]
    return header


def sid_of(response: Any) -> str:
    """The session id in the session cookie a response set (its signature checked)."""
    value = cookie_of(response).split(";", 1)[0][len("sid="):]
    sid = session_id_of(value, [SECRET])
    assert sid is not None
    return sid


def sign_in(client: Any, idp: Any, username: str) -> Dict[str, Any]:
    """Signs `username` in through the app's /signin (a code from the dev identity provider)."""
    user = idp.control("addUser", username=username)
    reply = client.get("/signin", query_string={"code": idp.sign_in_code(user), "scope": " ".join(SCOPES),
                                                "redirect": REDIRECT_URI})
    assert reply.status_code == 200, reply.data
    return {"user": user, "sid": reply.json["sid"], "response": reply}


def make_app(tokens: RedisTokenCache, auth: Dict[str, Any], idp_url: str, **options: Any) -> flask.Flask:
    app = flask.Flask("flask_sessions_test")
    app.secret_key = SECRET
    app.session_interface = RedisSessionInterface(tokens, **{"cookie_name": "sid", **options})
    http = ForwardingHttpClient(idp_url)

    def msal_app() -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            auth["clientId"], client_credential=auth["clientSecret"], authority=auth["authority"], http_client=http,
            token_cache=tokens.cache_for(session_id=session_id()))

    @app.get("/visit")
    def visit() -> Any:
        flask.session["visits"] = flask.session.get("visits", 0) + 1
        return {"visits": flask.session["visits"], "sid": session_id()}

    @app.get("/visit-then")
    def visit_then() -> Any:
        """As /visit, then the test's app.config["THEN"]() (a Redis that fails before the session is saved)."""
        flask.session["visits"] = flask.session.get("visits", 0) + 1
        app.config["THEN"]()
        return {"visits": flask.session["visits"]}

    @app.get("/peek")
    def peek() -> Any:
        return {"visits": flask.session.get("visits"), "account": flask.session.get("account")}

    @app.get("/nothing")
    def nothing() -> Any:
        return "no session used"

    @app.get("/big")
    def big() -> Any:
        flask.session["big"] = "x" * int(flask.request.args["bytes"])
        return "stored?"

    @app.get("/signin")
    def sign_in() -> Any:
        regenerate()
        result = msal_app().acquire_token_by_authorization_code(
            flask.request.args["code"], flask.request.args["scope"].split(), redirect_uri=flask.request.args["redirect"])
        if "access_token" not in result:
            return result, 400
        claims = result["id_token_claims"]
        flask.session["account"] = {"homeAccountId": f"{claims['oid']}.{claims['tid']}",
                                    "username": claims.get("preferred_username")}
        return {"sid": session_id()}

    @app.get("/silent")
    def silent() -> Any:
        app_ = msal_app()
        accounts = app_.get_accounts()
        result = app_.acquire_token_silent(flask.request.args["scope"].split(), account=accounts[0]) if accounts else None
        return {"token": bool(result and "access_token" in result)}

    @app.post("/signout")
    def sign_out() -> Any:
        destroy()
        return "signed out"

    @app.errorhandler(CacheStoreError)
    def unavailable(error: CacheStoreError) -> Any:
        return {"unavailable": session_unavailable()}, 503

    return app
