"""A hung Redis (SIGSTOP) costs a request at most the client's socket timeout (checked against command_timeout_ms),
then nothing: after 3 failures in a row the circuit breaker opens and calls fail at once, one probe a second finds
Redis again after SIGCONT. Every path is seen on the metrics (js/redis/guard.js's events). And a client that could
hang a request for longer is refused up front."""

from __future__ import annotations

import logging
import signal
import time
from typing import Any, Dict, Iterator, List

import pytest
import redis

from conftest import ENCRYPTION_KEY, KEY_NAME_SECRET, REDIRECT_URI, SCOPES, RedisServer, free_port
from msal_redis_cache import CacheStoreError, ConfigurationError, RedisTokenCache
from msal_redis_cache.metrics import NS
from support.python_server import PythonServer

TIMEOUT = 0.5  # seconds: the client's socket timeouts, and command_timeout_ms
SCHEDULING = 1.0  # what a loaded 2-core machine may add to a call


@pytest.fixture
def frozen() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.process.send_signal(signal.SIGCONT)
    server.stop()


def timed(call: Any) -> float:
    started = time.monotonic()
    with pytest.raises(CacheStoreError) as raised:
        call()
    assert "msal-redis-cache" in str(raised.value)
    return time.monotonic() - started


def names(events: List[Dict[str, Any]]) -> List[str]:
    return [event["name"][len(NS):] for event in events]


def test_a_hung_redis_fails_within_the_timeout_then_fast_then_recovers(frozen: RedisServer, idp: Any,
                                                                       caplog: Any) -> None:
    events: List[Dict[str, Any]] = []
    client = redis.Redis(port=frozen.port, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    # No in-process cache: it would serve the partition without asking the stopped Redis (test_local_cache_outages).
    tokens = RedisTokenCache(redis=client, encryption_keys=[ENCRYPTION_KEY], key_name_secret=KEY_NAME_SECRET,
                             command_timeout_ms=int(TIMEOUT * 1000), metrics={"on_event": events.append},
                             local_cache=False)
    server = PythonServer(tokens, idp.auth, idp.url)
    user = idp.control("addUser", username="quinn@contoso.example")
    home = server.sign_in({"sessionId": "s"}, idp.sign_in_code(user), SCOPES, REDIRECT_URI)["homeAccountId"]
    tokens.close()  # the background count update is done: only this test's calls reach Redis below
    events.clear()
    frozen.process.send_signal(signal.SIGSTOP)
    with caplog.at_level(logging.WARNING):
        # Three calls wait their timeout (a user's partition: a CacheStoreError, "try again")...
        for _ in range(3):
            assert TIMEOUT * 0.8 < timed(lambda: tokens.cache_for(session_id="s")) < TIMEOUT + SCHEDULING
        durations = [e for e in events if e["name"] == NS + "redis.duration"]
        assert [dict(e["attributes"]) for e in durations] == [
            {"db.operation.name": "read", "error.type": "timeout"}] * 3
        assert names(events).count("cache.offline_reads") == 3
        assert [dict(e["attributes"]) for e in events if e["name"] == NS + "redis.breaker.transitions"] == [
            {"state": "open"}]
        # ...then the breaker is open: nothing is sent, every call fails at once.
        events.clear()
        for _ in range(20):
            assert timed(lambda: tokens.cache_for(session_id="s")) < TIMEOUT / 2
        assert timed(lambda: tokens.remove_partition(session_id="s")) < TIMEOUT / 2  # a sign-out fails closed
        assert names(events).count("redis.rejected") == 21 and "redis.duration" not in names(events)
        frozen.process.send_signal(signal.SIGCONT)
        time.sleep(1.1)  # one probe a second (BREAKER_PROBE_SECONDS)
        events.clear()
        assert tokens.cache_for(session_id="s").find("RefreshToken")  # the probe: the partition is intact
    assert [dict(e["attributes"])["state"] for e in events if e["name"] == NS + "redis.breaker.transitions"] == [
        "half-open", "closed"]
    assert caplog.text.count("Redis GET failed") == 1
    assert caplog.text.count("msal-redis-cache: Redis answers again.") == 1
    assert server.silent({"sessionId": "s"}, home, SCOPES)["fromCache"]  # signed in all along


def test_app_tokens_are_a_miss_while_redis_hangs(frozen: RedisServer, idp: Any) -> None:
    events: List[Dict[str, Any]] = []
    client = redis.Redis(port=frozen.port, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    tokens = RedisTokenCache(redis=client, encryption_keys=[ENCRYPTION_KEY], key_name_secret=KEY_NAME_SECRET,
                             command_timeout_ms=int(TIMEOUT * 1000), metrics={"on_event": events.append})
    server = PythonServer(tokens, idp.auth, idp.url)
    tenant = idp.auth["authority"].rsplit("/", 1)[1]
    frozen.process.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    assert server.app_token(tenant, ["https://graph.microsoft.com/.default"])["accessToken"]  # from the provider
    # One wait: the read failed, so the write of that cache is not sent (write_failure "open": not stored).
    assert time.monotonic() - started < TIMEOUT + SCHEDULING
    assert [dict(e["attributes"]) for e in events if e["name"] == NS + "cache.offline_reads"] == [{"result": "miss"}]
    assert [dict(e["attributes"]) for e in events if e["name"] == NS + "writes"] == [{"outcome": "failed"}]


def test_a_client_that_could_hang_is_refused(redis_url: str) -> None:
    secrets = {"encryption_keys": [ENCRYPTION_KEY], "key_name_secret": KEY_NAME_SECRET}
    for client, message in (
        (redis.Redis.from_url(redis_url), "no socket_timeout"),
        (redis.Redis.from_url(redis_url, socket_timeout=5), r"5 s per call \(socket_timeout\), over"),
        (redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=3), "socket_connect_timeout"),
        (redis.Redis.from_url(redis_url, socket_timeout=0.8, retry_on_timeout=True), r"x 2 attempts"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            RedisTokenCache(redis=client, **secrets)
    RedisTokenCache(redis=redis.Redis.from_url(redis_url, socket_timeout=5), command_timeout_ms=5000, **secrets)
    RedisTokenCache(redis=redis.Redis.from_url(redis_url, socket_timeout=0.4, retry_on_timeout=True), **secrets)


def test_no_redis_at_all_opens_the_breaker_too() -> None:
    events: List[Dict[str, Any]] = []
    client = redis.Redis(port=free_port(), socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)  # refused
    tokens = RedisTokenCache(redis=client, encryption_keys=[ENCRYPTION_KEY], key_name_secret=KEY_NAME_SECRET,
                             command_timeout_ms=int(TIMEOUT * 1000), metrics={"on_event": events.append})
    for _ in range(5):
        assert tokens.cache_for(tenant_id="t", client_id="c").find("AccessToken") == []  # app tokens: a miss
    assert [dict(e["attributes"]) for e in events if e["name"] == NS + "redis.duration"] == [
        {"db.operation.name": "read", "error.type": "connection"}] * 3
    assert names(events).count("redis.rejected") == 2 and names(events).count("cache.offline_reads") == 5
