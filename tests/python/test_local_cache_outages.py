"""The in-process cache when its invalidations may be missed or Redis fails: nothing is served from memory while the
tracking connection is down (killed, refused) until it tracks again; a restarted Redis brings nothing back; when
Redis fails, a user's partition is served from the last copy this process saw (stale_if_error_seconds), as Node's
readFailure path does. Each test has a redis-server of its own, to kill, stop and restart."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest
import redis

from conftest import ENCRYPTION_KEY, KEY_NAME_SECRET, REDIRECT_URI, SCOPES, free_port
from msal_redis_cache import CacheStoreError, RedisTokenCache
from support.python_server import PythonServer
from test_local_cache import l1, tracking, wait_for


class RedisProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="mrc-pytest-l1-redis-")
        self.process = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = redis.Redis(port=self.port)
        wait_for(lambda: self._answers(probe))
        probe.close()

    @staticmethod
    def _answers(client) -> bool:
        try:
            return client.ping()
        except redis.exceptions.ConnectionError:
            return False

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def close(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def own_redis():
    server = RedisProcess()
    yield server
    server.close()


@pytest.fixture
def make_server(own_redis, idp):
    made = []

    def make(client=None, **options):
        client = client or redis.Redis(port=own_redis.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        tokens = RedisTokenCache(redis=client, encryption_keys=[ENCRYPTION_KEY], key_name_secret=KEY_NAME_SECRET,
                                 prefix="l1:", **options)
        made.append(tokens)
        return PythonServer(tokens, idp.auth, idp.url)

    yield make
    for tokens in made:
        tokens.close()


def signed_in(server, idp, session_id):
    user = idp.control("addUser", username=f"{session_id}@contoso.example")
    selector = {"sessionId": session_id}
    home = server.sign_in(selector, idp.sign_in_code(user), SCOPES, REDIRECT_URI)["homeAccountId"]
    return selector, home


def test_nothing_is_served_from_memory_until_tracking_again(own_redis, make_server, idp):
    """The tracking connection is killed and cannot track again (its user loses CLIENT): a write made meanwhile is
    heard of by nobody, so every load reads Redis; once tracking is back, loads are served from memory again."""
    admin = redis.Redis(port=own_redis.port)
    user = f"app-{uuid.uuid4().hex[:8]}"
    admin.execute_command("ACL", "SETUSER", user, "on", ">secret", "~*", "&*", "+@all")
    a = make_server(redis.Redis(port=own_redis.port, username=user, password="secret", socket_timeout=0.5,
                                socket_connect_timeout=0.5))
    b = make_server(local_cache=False)
    tracking(a.tokens)
    selector, home = signed_in(a, idp, "killed")
    first = a.silent(selector, home, SCOPES)

    admin.execute_command("ACL", "SETUSER", user, "-client")
    [listener] = [c for c in admin.client_list() if c["user"] == user and "P" in c["flags"]]
    admin.execute_command("CLIENT", "KILL", "ID", listener["id"])
    wait_for(lambda: not l1(a.tokens)["coherent"])
    refreshed = b.silent(selector, home, SCOPES, force_refresh=True)  # no invalidation reaches A
    assert refreshed["accessToken"] != first["accessToken"]
    hits = l1(a.tokens)["hits"]
    for _ in range(3):
        assert a.silent(selector, home, SCOPES)["accessToken"] == refreshed["accessToken"]
    assert l1(a.tokens)["hits"] == hits and not l1(a.tokens)["coherent"]

    admin.execute_command("ACL", "SETUSER", user, "+client")
    wait_for(lambda: l1(a.tokens)["coherent"])
    a.silent(selector, home, SCOPES)
    assert a.silent(selector, home, SCOPES)["accessToken"] == refreshed["accessToken"]
    assert l1(a.tokens)["hits"] > hits


def test_a_read_while_tracking_is_down_keeps_its_copy_for_when_redis_then_fails(own_redis, make_server, idp):
    """Redis answers before the tracking connection tracks again: a load reads Redis (no hit). It used to drop the
    key's last copy, so when Redis then failed, a signed-in user's next request found none: a CacheStoreError."""
    admin = redis.Redis(port=own_redis.port)
    user = f"app-{uuid.uuid4().hex[:8]}"
    admin.execute_command("ACL", "SETUSER", user, "on", ">secret", "~*", "&*", "+@all")
    a = make_server(redis.Redis(port=own_redis.port, username=user, password="secret", socket_timeout=0.5,
                                socket_connect_timeout=0.5))
    tracking(a.tokens)
    selector, home = signed_in(a, idp, "down-read")
    token = a.silent(selector, home, SCOPES)["accessToken"]

    admin.execute_command("ACL", "SETUSER", user, "-client")  # it cannot track again
    [listener] = [c for c in admin.client_list() if c["user"] == user and "P" in c["flags"]]
    admin.execute_command("CLIENT", "KILL", "ID", listener["id"])
    wait_for(lambda: not l1(a.tokens)["coherent"])
    assert a.silent(selector, home, SCOPES)["accessToken"] == token  # read from Redis
    own_redis.signal(signal.SIGSTOP)
    try:
        stale = a.tokens.stats()["stale_reads"]
        assert a.silent(selector, home, SCOPES)["accessToken"] == token  # the last copy, not "try again"
        assert a.tokens.stats()["stale_reads"] == stale + 1
    finally:
        own_redis.signal(signal.SIGCONT)


def test_tracking_back_before_the_client_answers_keeps_the_copies_from_before_until_an_answer(own_redis, make_server,
                                                                                            idp, monkeypatch):
    """After a Redis restart the tracking connection is often back before the app's client answers again (its breaker
    waits for a probe): the copies from before tracking came back still serve the reads failing meanwhile (Node's
    rule), until the client has an answer."""
    a = make_server()
    tracking(a.tokens)
    selector, home = signed_in(a, idp, "back-first")
    token = a.silent(selector, home, SCOPES)["accessToken"]
    context = a.tokens._shared.context  # noqa: SLF001
    store_read = context.store.read

    def failing(key, *args, **kwargs):  # the app's client, not yet answering, as its guard sees it
        def lost() -> None:
            raise redis.exceptions.ConnectionError("Connection refused")
        return context.store.guard.run("GET", key, lost)

    a.tokens._shared.index.settle()  # noqa: SLF001  (the sign-in's count update: an answer from Redis)
    monkeypatch.setattr(context.store, "read", failing)
    with pytest.raises(CacheStoreError):
        context.store.read("l1:any")
    admin = redis.Redis(port=own_redis.port)
    [listener] = [c for c in admin.client_list() if "P" in c["flags"]]
    admin.execute_command("CLIENT", "KILL", "ID", listener["id"])
    wait_for(lambda: not l1(a.tokens)["coherent"])
    wait_for(lambda: l1(a.tokens)["coherent"])  # it reconnects by itself
    stale = a.tokens.stats()["stale_reads"]
    assert a.silent(selector, home, SCOPES)["accessToken"] == token  # the copy from before, not "try again"
    assert a.tokens.stats()["stale_reads"] == stale + 1
    monkeypatch.setattr(context.store, "read", store_read)
    a.app({"sessionId": "another"})  # an answer
    monkeypatch.setattr(context.store, "read", failing)
    with pytest.raises(CacheStoreError, match="try again"):
        a.app(selector)


def test_a_restarted_redis_brings_nothing_back(own_redis, make_server, idp):
    a = make_server()
    tracking(a.tokens)
    selector, home = signed_in(a, idp, "restarted")
    a.silent(selector, home, SCOPES)
    assert l1(a.tokens)["entries"] >= 1
    own_redis.kill()
    own_redis.start()  # empty: no persistence
    assert a.app(selector).get_accounts() == []
    wait_for(lambda: l1(a.tokens)["coherent"])
    assert l1(a.tokens)["entries"] == 0
    selector, home = signed_in(a, idp, "after-restart")
    hits = l1(a.tokens)["hits"]
    a.silent(selector, home, SCOPES)
    assert l1(a.tokens)["hits"] > hits  # served from memory again


def test_the_last_copy_is_served_when_redis_is_killed(own_redis, make_server, idp, caplog):
    offset = [0.0]
    a = make_server(clock=lambda: time.time() + offset[0], local_cache={"stale_if_error_seconds": 60})
    tracking(a.tokens)
    selector, home = signed_in(a, idp, "stale")
    token = a.silent(selector, home, SCOPES)["accessToken"]
    own_redis.kill()
    assert a.silent(selector, home, SCOPES)["accessToken"] == token  # the last copy, not "try again"
    assert a.tokens.stats()["stale_reads"] >= 1
    assert "served the copy this process read" in caplog.text
    with pytest.raises(CacheStoreError, match="try again"):
        a.app({"sessionId": "never-seen"})
    offset[0] += 61  # older than stale_if_error_seconds
    with pytest.raises(CacheStoreError, match="try again"):
        a.app(selector)


def test_a_stopped_redis_serves_the_last_copy_after_a_failed_write(own_redis, make_server, idp):
    """SIGSTOP: the tracking connection stays up, so hits go on; a write times out (it may have reached Redis): the
    copy is then no longer a hit, reads time out, and the last copy is served."""
    a = make_server()
    tracking(a.tokens)
    selector, home = signed_in(a, idp, "stopped")
    token = a.silent(selector, home, SCOPES)["accessToken"]
    own_redis.signal(signal.SIGSTOP)
    try:
        assert a.silent(selector, home, SCOPES)["accessToken"] == token  # a hit: Redis is not asked
        app = a.app(selector)
        [account] = app.get_accounts()
        app.acquire_token_silent(SCOPES, account, force_refresh=True)  # its write times out (write_failure "open")
        stale = a.tokens.stats()["stale_reads"]
        assert a.silent(selector, home, SCOPES)["accessToken"]
        assert a.tokens.stats()["stale_reads"] == stale + 1
    finally:
        own_redis.signal(signal.SIGCONT)


def test_no_local_cache_reads_fail_closed_as_before(own_redis, make_server, idp):
    a = make_server(local_cache=False)
    selector, home = signed_in(a, idp, "closed")
    own_redis.kill()
    with pytest.raises(CacheStoreError, match="try again"):
        a.app(selector)
