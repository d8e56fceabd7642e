"""Metrics: metrics={"on_event": callable} sees Node's instruments (js/metrics.js: the same names and attributes) for
every path a real msal app takes through a real Redis: loads (hits, misses), reads and writes (durations, bytes),
conflicts and merges, writes dropped after a sign-out, unreadable values; a callback that raises is logged once."""

from __future__ import annotations

import time

import json
import logging
import re
import subprocess
from typing import Any, Dict, List

import pytest

from conftest import REDIRECT_URI, ROOT, SCOPES
from msal_redis_cache import ConfigurationError
from msal_redis_cache.metrics import NAMES, NS
from msal_redis_cache.session_store import RedisSessionStore
from support.python_server import PythonServer
from test_bad_values import make_cache


Events = List[Dict[str, Any]]


@pytest.fixture
def events() -> Events:
    return []


@pytest.fixture
def metered(make_tokens: Any, idp: Any, events: Events) -> PythonServer:
    # Every load asks Redis (the in-process cache's own events: test_the_in_process_cache_counts_its_hits).
    return PythonServer(make_tokens(metrics={"on_event": events.append}, local_cache=False), idp.auth, idp.url)


def of(events: Events, name: str, **attributes: str) -> List[Dict[str, Any]]:
    return [e for e in events if e["name"] == NS + name and all(e["attributes"].get(k) == v
                                                                for k, v in attributes.items())]


def total(events: Events, name: str, **attributes: str) -> float:
    return sum(e["value"] for e in of(events, name, **attributes))


def sign_in(server: PythonServer, idp: Any, sid: str, username: str) -> str:
    user = idp.control("addUser", username=username)
    return server.sign_in({"sessionId": sid}, idp.sign_in_code(user), SCOPES, REDIRECT_URI)["homeAccountId"]


def test_the_names_are_nodes() -> None:
    """Python's instrument names are js/metrics.js's, key for key (camelCase there, snake_case here)."""
    script = "const m = require('./js/metrics.js'); console.log(JSON.stringify(m.INSTRUMENTS), m.NS)"
    output = subprocess.run(["node", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    instruments, namespace = output.rsplit(" ", 1)
    node = {re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), key): spec[1]
            for key, spec in json.loads(instruments).items()}
    assert node == NAMES and namespace.strip() == NS


def test_a_sign_in_and_a_silent_call(metered: PythonServer, idp: Any, events: Events) -> None:
    sign_in(metered, idp, "s1", "mia@contoso.example")
    assert total(events, "cache.misses", CacheLevel="L2Cache") >= 1  # nothing stored yet
    assert total(events, "writes", outcome="stored") == 1
    assert total(events, "redis.io", **{"network.io.direction": "transmit"}) > 0  # the sealed value's bytes
    operations = {e["attributes"]["db.operation.name"] for e in of(events, "redis.duration")}
    assert {"read", "compare_and_set", "index_add"} <= operations
    assert all(0 < e["value"] < 1 and "error.type" not in e["attributes"] for e in of(events, "redis.duration"))
    events.clear()
    app = metered.app({"sessionId": "s1"})
    assert app.acquire_token_silent(SCOPES, app.get_accounts()[0])["access_token"]
    assert of(events, "cache.hits", CacheLevel="L2Cache") and not of(events, "cache.misses")
    assert total(events, "redis.io", **{"network.io.direction": "receive"}) > 100
    assert not of(events, "writes")  # a token served from the cache changes nothing


def test_the_in_process_cache_counts_its_hits(make_tokens: Any, idp: Any, events: Events) -> None:
    server = PythonServer(make_tokens(metrics={"on_event": events.append}, local_cache={"max_entries": 1}),
                          idp.auth, idp.url)
    server.tokens.cache_for(session_id="warm-up")
    deadline = time.monotonic() + 10
    while not server.tokens.stats()["local_cache"]["coherent"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    sign_in(server, idp, "l1", "lina@contoso.example")
    events.clear()
    app = server.app({"sessionId": "l1"})
    assert app.acquire_token_silent(SCOPES, app.get_accounts()[0])["access_token"]
    # No read (after this process's own write, the first hit checks the etag: "confirm")
    assert total(events, "cache.hits", CacheLevel="L1Cache") == 1
    assert not of(events, "redis.duration", **{"db.operation.name": "read"})
    events.clear()
    server.tokens.cache_for(session_id="other")  # a miss at both levels
    assert total(events, "cache.misses", CacheLevel="L1Cache") == 1
    assert total(events, "cache.misses", CacheLevel="L2Cache") == 1
    from test_bad_values import make_cache
    server.tokens.import_partition(make_cache("oid.tid", time.time()), home_account_id="oid.tid")
    assert total(events, "local_cache.evictions") == 1  # what this process wrote is kept: max_entries 1


def test_a_conflict_merges_and_retries(metered: PythonServer, idp: Any, events: Events) -> None:
    sign_in(metered, idp, "s2", "noor@contoso.example")
    first, second = metered.app({"sessionId": "s2"}), metered.app({"sessionId": "s2"})  # both load one version
    for app in (first, second):
        result = app.acquire_token_silent_with_error(SCOPES, app.get_accounts()[0], force_refresh=True)
        assert result and result["access_token"]
    assert total(events, "write.conflicts") == 1 and total(events, "write.merges") == 1
    assert total(events, "write.retries") == 1 and not of(events, "write.dropped")
    assert {e["attributes"]["outcome"] for e in of(events, "writes")} == {"stored"}


def test_a_write_after_a_sign_out_is_dropped(metered: PythonServer, idp: Any, events: Events) -> None:
    sign_in(metered, idp, "s3", "omar@contoso.example")
    app = metered.app({"sessionId": "s3"})
    account = app.get_accounts()[0]
    assert metered.remove({"sessionId": "s3"}) is True
    events.clear()
    assert app.acquire_token_silent_with_error(SCOPES, account, force_refresh=True)["access_token"]
    dropped = total(events, "write.dropped", reason="removed")  # each write msal makes of the refresh
    assert dropped >= 1 and of(events, "writes") == of(events, "writes", outcome="dropped")
    assert total(events, "writes") == dropped and total(events, "write.conflicts") == dropped
    events.clear()
    assert metered.app({"sessionId": "s3"}).get_accounts() == []
    assert of(events, "cache.misses", CacheLevel="L2Cache")  # a tombstone is nothing usable


def test_unreadable_values(metered: PythonServer, redis_client: Any, events: Events, caplog: Any) -> None:
    keys = metered.tokens.settings.prefix
    session_key = keys + metered.tokens._partition(None, "x.y", None, None, None).partition_key
    redis_client.set(session_key, b"garbage")
    other = keys + metered.tokens._partition(None, "z.y", None, None, None).partition_key
    redis_client.hset(other, "field", "value")
    with caplog.at_level(logging.WARNING):
        assert metered.app({"homeAccountId": "x.y"}).get_accounts() == []
        assert metered.app({"homeAccountId": "z.y"}).get_accounts() == []
    assert total(events, "cache.unreadable", reason="corrupt") == 1
    assert total(events, "cache.unreadable", reason="foreign") == 1
    assert total(events, "cache.misses", CacheLevel="L2Cache") == 2


def test_a_failing_callback_is_logged_once(make_tokens: Any, idp: Any, caplog: Any) -> None:
    calls = []

    def broken(event: Dict[str, Any]) -> None:
        calls.append(event)
        raise ValueError("exporter down")
    server = PythonServer(make_tokens(metrics={"on_event": broken}), idp.auth, idp.url)
    with caplog.at_level(logging.WARNING):
        sign_in(server, idp, "s4", "pia@contoso.example")  # the request succeeds
        assert server.app({"sessionId": "s4"}).get_accounts()
    assert len(calls) > 3
    assert caplog.text.count("metrics on_event raised (ValueError: exporter down)") == 1


def test_off_and_misuse(make_tokens: Any, idp: Any) -> None:
    tokens = make_tokens(metrics=False)
    assert tokens.settings.metrics.active is False and make_tokens().settings.metrics.active is False
    for option, message in (({"meter_provider": object()}, "no OpenTelemetry"), ({"onEvent": print}, "unknown option"),
                            ({"on_event": 1}, "must be a function"), ("yes", "must be False")):
        with pytest.raises(ConfigurationError, match=message):
            make_tokens(metrics=option)


def test_values_too_large_or_past_their_lifetime(make_tokens: Any, events: Events, caplog: Any) -> None:
    now = [1_900_000_000.0]
    writer = make_tokens(clock=lambda: now[0])
    assert writer.import_partition(make_cache("a.b", now[0]), home_account_id="a.b") == "stored"
    small = make_tokens(max_value_bytes=100, metrics={"on_event": events.append})
    later = make_tokens(clock=lambda: now[0] + 15 * 86400, metrics={"on_event": events.append})
    with caplog.at_level(logging.WARNING):
        assert small.export_partition(home_account_id="a.b") is None
        assert later.export_partition(home_account_id="a.b") is None
    assert [dict(e["attributes"]) for e in of(events, "cache.unreadable")] == [{"reason": "too_large"},
                                                                              {"reason": "expired"}]


def test_the_session_store_is_timed_on_the_same_instruments(metered: PythonServer, redis_client: Any,
                                                            events: Events, caplog: Any) -> None:
    store = RedisSessionStore(metered.tokens, prefix=metered.tokens.settings.prefix.rstrip(":") + "-sess:")
    store.set("sid-1", {"cookie": {"originalMaxAge": None}, "n": 1})
    assert store.get("sid-1")["n"] == 1
    operations = [e["attributes"]["db.operation.name"] for e in of(events, "redis.duration")]
    assert "SET" in operations and "read" in operations
    events.clear()
    redis_client.hset(store.partition_key("sid-2"), "field", "value")  # not a partition: Redis refuses GETRANGE
    for _ in range(4):
        store.set("sid-2", {"cookie": {"originalMaxAge": None}})  # the session is stored all the same
    assert [dict(e["attributes"]) for e in of(events, "redis.duration") if "error.type" in e["attributes"]] == [
        {"db.operation.name": "GETRANGE", "error.type": "reply"}] * 4
    assert not of(events, "redis.breaker.transitions")  # Redis answered: not an outage
