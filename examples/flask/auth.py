"""Sign-in and sign-out: the authorization code flow with PKCE through msal-python.

  GET  /auth/signin    initiate_auth_code_flow (state, nonce, PKCE verifier) kept in the session, for 10 minutes
  GET  /auth/redirect  the answer: its state must be this session's pending sign-in's (else nothing changes); then a
                       new session id (regenerate), and acquire_token_by_auth_code_flow redeems the code into the new
                       session's token-cache partition
  POST /auth/signout   removes the token-cache partition and the session of a signed-in user (GET shows a button)"""

from __future__ import annotations

import hmac
import time
from typing import Any

import flask

from app import AppError
from msal_redis_cache.flask import destroy, regenerate, session_id

SIGN_IN_TIMEOUT_SECONDS = 600  # as long as the identity provider's authorization code lives

auth_blueprint = flask.Blueprint("auth", __name__, url_prefix="/auth")


def _example() -> Any:
    return flask.current_app.extensions["example"]


def _pending() -> Any:
    """The session's sign-in waiting for its answer, or None (none, or older than a sign-in may take)."""
    pending = flask.session.get("auth_flow")
    if not pending or time.time() - pending.get("started_at", 0) > SIGN_IN_TIMEOUT_SECONDS:
        return None
    return pending


@auth_blueprint.get("/signin")
def sign_in() -> Any:
    example = _example()
    identity = example["identity"]
    flow = identity.msal_app().initiate_auth_code_flow(
        identity.identity.api_scopes, redirect_uri=identity.redirect_uri(flask.request.host_url),
        prompt="select_account")
    # Kept server-side in the session (encrypted in Redis): the browser carries only the session cookie.
    flask.session["auth_flow"] = {"flow": flow, "started_at": time.time()}
    if not flask.session.get("account"):
        # A session made only for this sign-in lives as long as a sign-in may take, not a day; /redirect starts a
        # new session with the full lifetime. A signed-in user who signs in again keeps theirs.
        flask.session.max_age = SIGN_IN_TIMEOUT_SECONDS
    return flask.redirect(identity.browser_url(flow["auth_uri"]))


@auth_blueprint.get("/redirect")
def redirect_back() -> Any:
    example = _example()
    identity, tokens = example["identity"], example["tokens"]
    pending = _pending()
    # Anyone can send a browser here: until the answer is known to belong to this session's own sign-in, nothing
    # in the session changes.
    if pending is None:
        raise AppError(400, "No sign-in in progress", "This browser session has no sign-in waiting for an answer (it "
                                                      "may have expired). Please sign in again.", sign_in=True)
    flow = pending["flow"]
    if not hmac.compare_digest(str(flask.request.args.get("state", "")), str(flow["state"])):
        raise AppError(400, "Sign-in failed", "The answer does not belong to this browser's sign-in (state "
                                              "mismatch). Please sign in again.", sign_in=True)
    del flask.session["auth_flow"]  # from here on the answer is this session's: it ends the pending sign-in
    if flask.request.args.get("error"):
        description = str(flask.request.args.get("error_description", "")).splitlines()[:1]
        raise AppError(401, "Sign-in was not completed", f"The identity provider answered: "
                       f"{flask.request.args['error']}{' (' + description[0] + ')' if description else ''}",
                       sign_in=True)
    # A new session id at sign-in (an id planted before it is worth nothing), before the code is redeemed: the
    # token-cache partition is keyed by the session id.
    regenerate()
    app = identity.msal_app(tokens.cache_for(session_id=session_id()))
    result = app.acquire_token_by_auth_code_flow(flow, flask.request.args.to_dict())
    if "error" in result:
        raise AppError(401, "Sign-in failed", f"{result['error']}: {result.get('error_description', '')}"[:300],
                       sign_in=True)
    claims = result.get("id_token_claims", {})
    [account] = [a for a in app.get_accounts() if a.get("local_account_id") == claims.get("oid")] or app.get_accounts()[:1]
    # The session keeps who signed in (the Express example's fields), never a token: tokens stay in the token cache.
    flask.session["account"] = {
        "homeAccountId": account["home_account_id"],
        "username": account.get("username") or claims.get("preferred_username"),
        "name": claims.get("name"),
        "tenantId": claims.get("tid"),
        "localAccountId": claims.get("oid"),
        "signedInAt": int(time.time() * 1000),
    }
    return flask.redirect("/profile")


@auth_blueprint.get("/signout")
def sign_out_page() -> Any:
    return flask.render_template("signout.html", title="Sign out")


@auth_blueprint.post("/signout")
def sign_out() -> Any:
    example = _example()
    # Signed in: the partition first (if Redis fails the user sees an error and can retry), then the session. Not
    # signed in: nothing is written (no tombstone under a fresh id for every anonymous POST).
    if flask.session.get("account"):
        example["tokens"].remove_partition(session_id=session_id())
        destroy()
    response = flask.redirect(example["identity"].sign_out_url(flask.request.host_url), code=303)
    response.delete_cookie(flask.current_app.session_interface.get_cookie_name(flask.current_app), path="/",
                           httponly=True, samesite="Lax", secure=flask.request.is_secure)
    return response
