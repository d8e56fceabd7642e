"""`with tokens.cache_for(...) as cache:`: the request scope of the design documents' _load_cache()/_save_cache().
msal-python 1.21 changes the cache twice per refresh (add, then update_rt); inside the block both are written in one
compare-and-set when it ends (counted by Redis itself: INFO commandstats), also when the block raises, never when
nothing changed; reads in the block see msal's changes, and no reload drops them; a sign-out made meanwhile by
another process still wins; outside a block every change is written at once, as before."""

from __future__ import annotations

import json
import logging
import time

import pytest
import redis

from conftest import ENCRYPTION_KEY, KEY_NAME_SECRET, REDIRECT_URI, SCOPES, RedisServer
from msal_redis_cache import CacheStoreError, ConfigurationError, RedisTokenCache
from msal_redis_cache.token_cache import REUSE_LOAD_SECONDS
from support.python_server import PythonServer


def script_calls(client: redis.Redis) -> int:
    """Lua calls Redis ran so far: every partition write is one (the compare-and-set); reads and the background count
    updates are plain commands."""
    stats = client.info("commandstats")
    return sum(stats.get(name, {}).get("calls", 0) for name in ("cmdstat_evalsha", "cmdstat_eval"))


def signed_in(server, idp, sid):
    user = idp.control("addUser", username=f"{sid}@contoso.example")
    server.sign_in({"sessionId": sid}, idp.sign_in_code(user), SCOPES, REDIRECT_URI)
    return user["homeAccountId"]


def stored_secrets(server, sid, section):
    stored = server.export({"sessionId": sid})
    return set() if stored is None else {entry["secret"] for entry in json.loads(stored)[section].values()}


def refresh(app):
    [account] = app.get_accounts()
    result = app.acquire_token_silent(SCOPES, account, force_refresh=True)
    assert result and "access_token" in result
    return result


def test_a_refresh_inside_with_is_one_write(server, idp, redis_client):
    signed_in(server, idp, "one-write")
    grants = idp.control("grantCount", grantType="refresh_token")
    server.tokens.close()  # the sign-in's count update is settled
    before = script_calls(redis_client)
    with server.tokens.cache_for(session_id="one-write") as cache:
        result = refresh(server.msal_app(cache))
        assert script_calls(redis_client) == before  # nothing written yet: msal's two changes wait
    assert script_calls(redis_client) == before + 1
    assert idp.control("grantCount", grantType="refresh_token") == grants + 1
    assert result["access_token"] in stored_secrets(server, "one-write", "AccessToken")
    assert result["refresh_token"] in stored_secrets(server, "one-write", "RefreshToken")  # update_rt's change too


def test_outside_with_each_change_is_written_at_once(server, idp, redis_client):
    signed_in(server, idp, "unscoped")
    before = script_calls(redis_client)
    result = refresh(server.app({"sessionId": "unscoped"}))
    assert script_calls(redis_client) == before + 2  # msal-python 1.21: add, then update_rt
    assert result["refresh_token"] in stored_secrets(server, "unscoped", "RefreshToken")


def test_nothing_changed_nothing_written(server, idp, redis_client):
    home = signed_in(server, idp, "unchanged")
    before = script_calls(redis_client)
    with server.tokens.cache_for(session_id="unchanged") as cache:
        app = server.msal_app(cache)
        [account] = app.get_accounts()
        assert app.acquire_token_silent(SCOPES, account)["access_token"]  # from the cache
        assert account["home_account_id"] == home
    assert script_calls(redis_client) == before


def test_reads_in_the_block_see_its_changes_and_no_reload_drops_them(make_tokens, idp):
    now = [time.time()]
    server = PythonServer(make_tokens(clock=lambda: now[0]), idp.auth, idp.url)
    other = PythonServer(make_tokens(), idp.auth, idp.url)  # another server of the app, the same partitions
    home = signed_in(server, idp, "reuse")
    with server.tokens.cache_for(session_id="reuse") as cache:
        app = server.msal_app(cache)
        refreshed = refresh(app)
        assert refreshed["access_token"] not in stored_secrets(server, "reuse", "AccessToken")  # not written yet
        # Meanwhile another server stores a token for another API in the partition.
        other_token = other.silent({"sessionId": "reuse"}, home, ["api://other/read"])["accessToken"]
        now[0] += REUSE_LOAD_SECONDS + 1  # the block's load is old: a cache outside a block would read again
        [account] = app.get_accounts()
        again = app.acquire_token_silent(SCOPES, account)
        assert again["access_token"] == refreshed["access_token"]  # memory kept the change, from the cache
        app.acquire_token_silent(["api://third/read"], account)  # a change made after that, in the same block
    stored = stored_secrets(server, "reuse", "AccessToken")
    # The write stayed based on the block's load: it merged with the other server's token instead of replacing it.
    assert {refreshed["access_token"], other_token} <= stored
    assert len(stored) == 3  # the refresh's (it replaced the sign-in's: same scopes), the other API's, the third's
    targets = {entry["target"].lower()
               for entry in json.loads(server.export({"sessionId": "reuse"}))["AccessToken"].values()}
    assert any("api://third/read" in target for target in targets)


def test_a_sign_out_by_another_process_during_the_block_wins(server, idp, workers):
    signed_in(server, idp, "signed-out")
    node = workers("node")  # another server, its own process
    with server.tokens.cache_for(session_id="signed-out") as cache:
        app = server.msal_app(cache)
        assert node.call("remove", selector={"sessionId": "signed-out"}) is True
        assert refresh(app)["access_token"]  # the request still gets its token
    assert server.export({"sessionId": "signed-out"}) is None  # the block's write was dropped: the tombstone stays
    assert node.call("export", selector={"sessionId": "signed-out"}) is None
    assert server.app({"sessionId": "signed-out"}).get_accounts() == []


def test_a_block_that_raises_still_writes_its_tokens(server, idp, redis_client):
    signed_in(server, idp, "raises")
    before = script_calls(redis_client)
    with pytest.raises(ValueError, match="the view failed"):
        with server.tokens.cache_for(session_id="raises") as cache:
            result = refresh(server.msal_app(cache))
            raise ValueError("the view failed after the refresh")
    assert script_calls(redis_client) == before + 1
    assert result["refresh_token"] in stored_secrets(server, "raises", "RefreshToken")  # the rotated one is kept


def test_nested_use_is_refused_and_a_cache_can_be_scoped_again(server, idp, redis_client):
    signed_in(server, idp, "nested")
    cache = server.tokens.cache_for(session_id="nested")
    with cache:
        with pytest.raises(ConfigurationError, match="already inside"):
            with cache:
                pass  # pragma: no cover
        first = refresh(server.msal_app(cache))
    assert first["access_token"] in stored_secrets(server, "nested", "AccessToken")
    before = script_calls(redis_client)
    with cache:  # once the block ended, the cache can be used in another one (it reads again when its load is old)
        second = refresh(server.msal_app(cache))
    assert script_calls(redis_client) == before + 1
    assert second["access_token"] in stored_secrets(server, "nested", "AccessToken")
    third = refresh(server.msal_app(cache))  # and outside a block it writes at once again
    assert third["access_token"] in stored_secrets(server, "nested", "AccessToken")


@pytest.fixture
def stoppable():
    """A redis-server of this test alone, stopped in the middle of a request."""
    server = RedisServer()
    yield server
    server.stop()


def failing_server(stoppable, idp, write_failure):
    client = redis.Redis(port=stoppable.port, socket_timeout=1, socket_connect_timeout=1)
    tokens = RedisTokenCache(redis=client, encryption_keys=[ENCRYPTION_KEY], key_name_secret=KEY_NAME_SECRET,
                             write_failure=write_failure)
    server = PythonServer(tokens, idp.auth, idp.url)
    signed_in(server, idp, "failing")
    tokens.close()
    return server


def test_write_failure_closed_raises_when_the_block_ends(stoppable, idp):
    server = failing_server(stoppable, idp, "closed")
    with pytest.raises(CacheStoreError):
        with server.tokens.cache_for(session_id="failing") as cache:
            assert refresh(server.msal_app(cache))["access_token"]  # msal's changes wait: no error here
            stoppable.stop()
            done = True
    assert done


def test_write_failure_closed_at_the_end_of_a_block_that_raised(stoppable, idp):
    server = failing_server(stoppable, idp, "closed")
    with pytest.raises(CacheStoreError) as raised:
        with server.tokens.cache_for(session_id="failing") as cache:
            refresh(server.msal_app(cache))
            stoppable.stop()
            raise ValueError("the view failed")
    chain, error = [], raised.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(error, ValueError) for error in chain)  # the block's own error is in the traceback too


def test_write_failure_open_logs_when_the_block_ends(stoppable, idp, caplog):
    server = failing_server(stoppable, idp, "open")
    with caplog.at_level(logging.WARNING):
        with server.tokens.cache_for(session_id="failing") as cache:
            assert refresh(server.msal_app(cache))["access_token"]
            stoppable.stop()
    assert "not stored" in caplog.text
