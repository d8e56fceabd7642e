"""msal-python with cache_for(...) as its token cache, against a real redis-server and the dev identity provider:
sign in, silent from the cache, refresh, sign-out stays signed out, app tokens."""

from __future__ import annotations

import json

from conftest import REDIRECT_URI, SCOPES


def sign_in(server, idp, selector):
    user = idp.control("addUser", username="alice@contoso.example")
    result = server.sign_in(selector, idp.sign_in_code(user), SCOPES, REDIRECT_URI)
    assert result["homeAccountId"] == user["homeAccountId"]
    return user, result


def test_sign_in_then_silent_from_cache(server, idp):
    user, signed_in = sign_in(server, idp, {"sessionId": "s1"})
    before = idp.control("tokenRequestCount")
    silent = server.silent({"sessionId": "s1"}, user["homeAccountId"], SCOPES)
    assert silent["accessToken"] == signed_in["accessToken"]
    assert idp.control("tokenRequestCount") == before  # served from Redis, no token request
    stored = json.loads(server.export({"sessionId": "s1"}))
    assert {entry["home_account_id"] for entry in stored["RefreshToken"].values()} == {user["homeAccountId"]}


def test_refresh_stores_the_new_tokens(server, idp):
    user, signed_in = sign_in(server, idp, {"sessionId": "s2"})
    refreshed = server.silent({"sessionId": "s2"}, user["homeAccountId"], SCOPES, force_refresh=True)
    assert refreshed["accessToken"] != signed_in["accessToken"]
    assert idp.control("grantCount", grantType="refresh_token") >= 1
    again = server.silent({"sessionId": "s2"}, user["homeAccountId"], SCOPES)
    assert again["accessToken"] == refreshed["accessToken"]


def test_sign_out_stays_signed_out(server, idp):
    user, _ = sign_in(server, idp, {"sessionId": "s3"})
    # A request that started before the sign-out: its cache was loaded, then the user signed out.
    app = server.app({"sessionId": "s3"})
    [account] = app.get_accounts()
    assert server.remove({"sessionId": "s3"}) is True
    result = app.acquire_token_silent(SCOPES, account, force_refresh=True)  # a refresh that lands after it
    assert result and "access_token" in result
    assert server.export({"sessionId": "s3"}) is None  # its write was dropped: the tombstone stays
    assert server.app({"sessionId": "s3"}).get_accounts() == []
    assert server.remove({"sessionId": "s3"}) is False


def test_account_partition_and_app_tokens(server, idp):
    user = idp.control("addUser", username="bob@contoso.example")
    selector = {"homeAccountId": user["homeAccountId"]}
    server.sign_in(selector, idp.sign_in_code(user), SCOPES, REDIRECT_URI)
    assert server.silent(selector, user["homeAccountId"], SCOPES)["accessToken"]
    tenant = idp.auth["authority"].rsplit("/", 1)[1]
    first = server.app_token(tenant, ["https://graph.microsoft.com/.default"])
    second = server.app_token(tenant, ["https://graph.microsoft.com/.default"])
    assert second["accessToken"] == first["accessToken"]
    assert server.export({"tenantId": tenant}) is not None


def test_a_session_keeps_its_first_account(server, idp, caplog):
    alice, _ = sign_in(server, idp, {"sessionId": "s4"})
    bob = idp.control("addUser", username="bob@contoso.example")
    server.sign_in({"sessionId": "s4"}, idp.sign_in_code(bob), SCOPES, REDIRECT_URI)
    stored = json.loads(server.export({"sessionId": "s4"}))
    assert {entry["home_account_id"] for entry in stored["Account"].values()} == {alice["homeAccountId"]}
    assert "do not belong to partition" in caplog.text
