"""When Redis fails: a read is a miss with a warning (the user signs in again rather than being stuck), a write is
logged and dropped (write_failure="open") or raises CacheStoreError ("closed"), a sign-out always raises. And the
tools: import, export and describe."""

from __future__ import annotations

import json
import logging

import pytest
import redis

from conftest import ENCRYPTION_KEY, KEY_NAME_SECRET, REDIRECT_URI, SCOPES, free_port
from msal_redis_cache import CacheFormatError, CacheStoreError, RedisTokenCache
from support.python_server import PythonServer
from test_bad_values import make_cache


def unreachable(idp, write_failure, read_failure="open"):
    client = redis.Redis(port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2)
    tokens = RedisTokenCache(redis=client, encryption_keys=[ENCRYPTION_KEY], key_name_secret=KEY_NAME_SECRET,
                             write_failure=write_failure, read_failure=read_failure)
    return PythonServer(tokens, idp.auth, idp.url)


def test_redis_down_fails_user_reads_closed_by_default(idp, caplog):
    server = unreachable(idp, "open", "closed")
    for selector in ({"sessionId": "s"}, {"homeAccountId": "oid.tid"}):
        with pytest.raises(CacheStoreError, match="try again"):
            server.app(selector)  # a signed-in user is told to try again, not to sign in
    tenant = idp.auth["authority"].rsplit("/", 1)[1]
    with caplog.at_level(logging.WARNING):
        assert server.app_token(tenant, ["https://graph.microsoft.com/.default"])["accessToken"]  # app tokens: a miss


def test_redis_down_reads_miss_and_writes_fail_open(idp, caplog):
    server = unreachable(idp, "open")
    user = idp.control("addUser", username="erin@contoso.example")
    with caplog.at_level(logging.WARNING):
        assert server.app({"sessionId": "s"}).get_accounts() == []
        result = server.sign_in({"sessionId": "s"}, idp.sign_in_code(user), SCOPES, REDIRECT_URI)
    assert result["accessToken"]  # the user still gets their token
    assert "treated as a cache miss" in caplog.text and "not stored" in caplog.text
    with pytest.raises(CacheStoreError):
        server.remove({"sessionId": "s"})  # a sign-out fails closed
    with pytest.raises(CacheStoreError):
        server.export({"sessionId": "s"})


def test_redis_down_writes_fail_closed(idp):
    server = unreachable(idp, "closed")
    user = idp.control("addUser", username="fred@contoso.example")
    with pytest.raises(CacheStoreError):
        server.sign_in({"sessionId": "s"}, idp.sign_in_code(user), SCOPES, REDIRECT_URI)


def test_import_export_describe(make_tokens):
    tokens = make_tokens()
    cache = make_cache("oid.tid", __import__("time").time())
    assert tokens.import_partition(cache, session_id="s") == "stored"
    assert json.loads(tokens.export_partition(session_id="s"))["RefreshToken"]
    described = tokens.describe_partition(session_id="s")
    assert [account["home_account_id"] for account in described["accounts"]] == ["oid.tid"]
    assert "rt" not in json.dumps(described["tokens"])  # no secret
    with pytest.raises(CacheFormatError, match="another account"):
        tokens.import_partition(make_cache("other.tid", __import__("time").time()), session_id="s")
    two = json.loads(cache)
    two["Account"].update(json.loads(make_cache("other.tid", 0))["Account"])
    with pytest.raises(CacheFormatError, match="exactly one account"):
        tokens.import_partition(json.dumps(two), session_id="t")
    with pytest.raises(CacheFormatError):
        tokens.import_partition("not json", home_account_id="oid.tid")
    # An account partition keeps only its own account (stored under the cloud's preferred_cache alias).
    assert tokens.import_partition(json.dumps(two), home_account_id="oid.tid") == "stored"
    assert list(json.loads(tokens.export_partition(home_account_id="oid.tid"))["Account"]) == [
        next(iter(json.loads(cache)["Account"])).replace("login.microsoftonline.com", "login.windows.net")]
