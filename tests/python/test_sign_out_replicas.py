"""Sign-outs that wait for a replica (sign_out_replicas, python/msal_redis_cache/replica_wait.py), against a master
and a replica of this file's own (redis-server processes, as tests/support/redis-replicated.js starts them):
  - "auto" (the default) waits for the master's replica: the replica holds the tombstone when the sign-out returns;
    False, and a tombstone over nothing, send no WAIT (the master's own count of WAIT calls says so);
  - a stopped replica (SIGSTOP): remove_partition fails closed within the bound, the tombstone written on the master;
    sign_out_everywhere and the Flask session sign-out go the same way; the circuit breaker stays closed (Redis
    answered); once the replica continues, sign-outs succeed;
  - a killed replica: replicas=1 fails closed; "auto" goes on without waiting once the master has no replica;
  - "auto" on a Redis without replicas (the suite's own) never waits."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any, Dict, Iterator, List

import pytest
import redis

from conftest import ENCRYPTION_KEY, KEY_NAME_SECRET, free_port
from msal_redis_cache import CacheStoreError, ConfigurationError, RedisTokenCache
from support.flask_app import sign_in

BOUND_MS = 100  # timeout_ms where a sign-out must fail
HEALTHY_BOUND_MS = 400  # where it must succeed: a replica on a loaded 2-core machine may ack late
MARGIN_MS = 400  # scheduling on a loaded 2-core machine
HOME = "oid.tid"


def start_server(directory: str, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", directory, *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def connect(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)  # command_timeout_ms' bound


def until(condition: Any, what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except redis.exceptions.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Replicated:
    """A master and one replica on loopback ports (nothing fails over); the test may stop or kill the replica."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="mrc-pytest-replicated-")
        self.master_port, self.replica_port = free_port(), free_port()
        self.master_process = start_server(self._own_directory("master"), self.master_port)
        self.replica_process = start_server(self._own_directory("replica"), self.replica_port,
                                            "--replicaof", "127.0.0.1", str(self.master_port))
        self.master = connect(self.master_port)
        self.replica = connect(self.replica_port)
        until(lambda: self.replica.info("replication")["master_link_status"] == "up"
              and self.master.info("replication")["connected_slaves"] == 1, "the replica to sync")

    def _own_directory(self, name: str) -> str:
        path = os.path.join(self.directory, name)  # each server its own: the replica writes the master's RDB
        os.mkdir(path)
        return path

    def waits(self) -> int:
        """How many WAIT commands the master has run."""
        return int(self.master.info("commandstats").get("cmdstat_wait", {}).get("calls", 0))

    def signal_replica(self, name: signal.Signals) -> None:
        self.replica_process.send_signal(name)

    def kill_replica(self) -> None:
        self.replica_process.send_signal(signal.SIGCONT)
        self.replica_process.kill()
        self.replica_process.wait(10)
        until(lambda: self.master.info("replication")["connected_slaves"] == 0, "the master to drop the replica")

    def close(self) -> None:
        for process in (self.replica_process, self.master_process):
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
                process.wait(10)
        self.master.close()
        self.replica.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def group() -> Iterator[Replicated]:
    replicated = Replicated()
    yield replicated
    replicated.close()


@pytest.fixture
def make(group: Replicated, prefix: str) -> Iterator[Any]:
    made: List[RedisTokenCache] = []

    def make_tokens(**options: Any) -> RedisTokenCache:
        tokens = RedisTokenCache(redis=connect(group.master_port), prefix=prefix,
                                 encryption_keys=[ENCRYPTION_KEY], key_name_secret=KEY_NAME_SECRET, **options)
        made.append(tokens)
        return tokens
    yield make_tokens
    for tokens in made:
        tokens.close()
        tokens.settings.redis.close()


def cache_json(home_account_id: str = HOME) -> str:
    env, client = "login.windows.net", "python-test-client"
    return json.dumps({
        "Account": {f"{home_account_id}-{env}-tid": {"home_account_id": home_account_id, "environment": env,
                                                      "realm": "tid", "local_account_id": "oid", "username": "u",
                                                      "authority_type": "MSSTS"}},
        "RefreshToken": {f"{home_account_id}-{env}-refreshtoken-{client}---": {
            "credential_type": "RefreshToken", "secret": "rt", "home_account_id": home_account_id,
            "environment": env, "client_id": client, "last_modification_time": str(int(time.time()))}},
    })


def signed_in(tokens: RedisTokenCache, session_id: str) -> str:
    """Stores a session partition (as a sign-in would); returns its key."""
    assert tokens.import_partition(cache_json(), session_id=session_id) == "stored"
    return tokens.cache_for(session_id=session_id).key


def timed(operation: Any) -> Dict[str, Any]:
    started = time.perf_counter()
    try:
        return {"value": operation(), "ms": (time.perf_counter() - started) * 1000}
    except Exception as error:  # the test decides
        return {"error": error, "ms": (time.perf_counter() - started) * 1000}


def sign_out_confirmed(tokens: RedisTokenCache, **selector: str) -> bool:
    """A sign-out that must succeed: a loaded machine may delay the replica's ack past one bound, not three. (A retry
    replaces the first attempt's tombstone: it returns False.)"""
    for attempt in range(3):
        try:
            return tokens.remove_partition(**selector)
        except CacheStoreError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def test_auto_waits_for_the_replica_which_holds_the_tombstone(group, make):
    tokens = make(sign_out_replicas={"timeout_ms": HEALTHY_BOUND_MS})
    key = signed_in(tokens, "waited")
    waits = group.waits()
    sign_out_confirmed(tokens, session_id="waited")
    assert group.waits() >= waits + 1
    assert group.replica.get(key)[:7] == b"mrc2 t "  # on the replica as soon as the sign-out returned
    # A tombstone over nothing (a session that never signed in) waits for no replica; False never waits.
    waits = group.waits()
    assert tokens.remove_partition(session_id="never-signed-in") is False
    off = make(sign_out_replicas=False)
    signed_in(off, "off")
    assert off.remove_partition(session_id="off") is True
    assert group.waits() == waits


def test_a_stopped_replica_fails_sign_outs_closed_within_the_bound(group, make, flask_app, idp):
    events: List[Dict[str, Any]] = []
    tokens = make(sign_out_replicas={"replicas": "auto", "timeout_ms": BOUND_MS}, metrics={"on_event": events.append})
    signed_in(tokens, "warm-up")
    sign_out_confirmed(tokens, session_id="warm-up")  # the replica count is read (a sign-out over a partition)
    key = signed_in(tokens, "one")
    tokens.import_partition(cache_json(), home_account_id=HOME)
    app = flask_app(tokens)
    browser = app.test_client()
    flask_sid = sign_in(browser, idp, "replica-wait@contoso.example")["sid"]
    group.signal_replica(signal.SIGSTOP)
    try:
        one = timed(lambda: tokens.remove_partition(session_id="one"))
        assert isinstance(one.get("error"), CacheStoreError), one
        assert re.search(r"not confirmed: 0 of 1 replica\(s\) acknowledged it within 100 ms\. The tombstone is "
                         r"written on the Redis master", str(one["error"]))
        assert BOUND_MS - 5 <= one["ms"] < BOUND_MS + MARGIN_MS
        assert group.master.get(key)[:7] == b"mrc2 t "  # written all the same (a retry writes it again: harmless)
        # sign_out_everywhere goes the same way: it removed what it could and says the sign-out is not done.
        everywhere = timed(lambda: tokens.sign_out_everywhere(HOME))
        assert isinstance(everywhere.get("error"), CacheStoreError) and "not confirmed" in str(everywhere["error"])
        # The Flask session's sign-out (destroy) too: the app's CacheStoreError handler answers 503.
        assert browser.post("/signout").status_code == 503
        partition_key = app.session_interface.store.partition_key(flask_sid)
        assert group.master.get(partition_key)[:7] == b"mrc2 t "
        # Three refused sign-outs, and Redis answered every call: the circuit breaker stayed closed.
        assert [event for event in events if event["name"].endswith("redis.breaker.transitions")] == []
        assert tokens.export_partition(session_id="warm-up") is None  # Redis calls still go through
    finally:
        group.signal_replica(signal.SIGCONT)
    # The replica catches up; the next sign-out is confirmed.
    signed_in(tokens, "after")
    after = make(sign_out_replicas={"timeout_ms": HEALTHY_BOUND_MS})
    sign_out_confirmed(after, session_id="after")
    assert group.replica.get(after.cache_for(session_id="after").key)[:7] == b"mrc2 t "


def test_options_are_checked(group, make):
    for bad in ({"replicas": -1}, {"replicas": "all"}, {"timeout_ms": 0}, {"timeoutMs": 200}, "auto", True):
        with pytest.raises(ConfigurationError):
            make(sign_out_replicas=bad)
    with pytest.raises(ConfigurationError, match="below half of command_timeout_ms"):
        make(sign_out_replicas={"timeout_ms": 500})  # command_timeout_ms 1000, as in Node
    with pytest.raises(ConfigurationError, match="socket_timeout"):
        RedisTokenCache(redis=redis.Redis(port=group.master_port, socket_timeout=0.1), encryption_keys=[ENCRYPTION_KEY],
                        key_name_secret=KEY_NAME_SECRET, sign_out_replicas={"timeout_ms": 200})
    # The default shrinks to fit: a quarter of a short socket_timeout.
    short = RedisTokenCache(redis=redis.Redis(port=group.master_port, socket_timeout=0.1),
                            encryption_keys=[ENCRYPTION_KEY], key_name_secret=KEY_NAME_SECRET)
    assert short.settings.sign_out_replicas == {"replicas": "auto", "timeout_ms": 25}
    assert make(sign_out_replicas={"replicas": 0}).settings.sign_out_replicas is False


def test_auto_without_replicas_does_not_wait(make_tokens, redis_client):
    """The suite's own redis-server has no replica: no WAIT at all."""
    def waits() -> int:
        return int(redis_client.info("commandstats").get("cmdstat_wait", {}).get("calls", 0))
    tokens = make_tokens()  # the default: {"replicas": "auto", "timeout_ms": 200}
    before = waits()
    signed_in(tokens, "standalone")
    assert tokens.remove_partition(session_id="standalone") is True
    assert waits() == before


def test_a_killed_replica(group, make):
    """Last: the replica stays dead. replicas=1 fails closed; "auto" goes on without waiting once the master has no
    replica (the first one after the kill may fail: the count is read again after a shortfall)."""
    strict = make(sign_out_replicas={"replicas": 1, "timeout_ms": BOUND_MS})
    auto = make(sign_out_replicas={"replicas": "auto", "timeout_ms": BOUND_MS})
    signed_in(strict, "warm-up")
    sign_out_confirmed(strict, session_id="warm-up")
    signed_in(auto, "warm-up-auto")
    sign_out_confirmed(auto, session_id="warm-up-auto")
    group.kill_replica()
    signed_in(strict, "x")
    refused = timed(lambda: strict.remove_partition(session_id="x"))
    assert isinstance(refused.get("error"), CacheStoreError) and refused["ms"] < BOUND_MS + MARGIN_MS
    signed_in(auto, "y")
    first = timed(lambda: auto.remove_partition(session_id="y"))
    assert first.get("value") is True or isinstance(first.get("error"), CacheStoreError)
    waits = group.waits()
    signed_in(auto, "z")
    assert auto.remove_partition(session_id="z") is True
    assert group.waits() == waits  # the master has no replica: no WAIT


def test_a_client_without_a_connection_pool(caplog):
    """Nowhere to hold the write's connection (a RedisCluster has no single pool): "auto" says once that sign-outs do
    not wait, a number is refused."""
    class NoPool:  # enough of a redis-py client for the options check
        def evalsha(self, *args: Any) -> Any: ...
        def eval(self, *args: Any) -> Any: ...
        def get_connection_kwargs(self) -> Dict[str, Any]:
            return {"socket_timeout": 1, "socket_connect_timeout": 1}
    secrets = {"encryption_keys": [ENCRYPTION_KEY], "key_name_secret": KEY_NAME_SECRET}
    with pytest.raises(ConfigurationError, match="connection pool"):
        RedisTokenCache(redis=NoPool(), sign_out_replicas={"replicas": 1}, **secrets)
    RedisTokenCache(redis=NoPool(), **secrets)
    assert [r.getMessage() for r in caplog.records] == [
        "msal-redis-cache: NoPool has no connection pool to hold a sign-out's connection for WAIT: sign-outs do not "
        "wait for a replica (sign_out_replicas)"]
