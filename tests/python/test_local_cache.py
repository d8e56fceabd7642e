"""The in-process cache (local_cache=...): a partition this process loaded is served without Redis while Redis's
invalidations keep it coherent. This process (A) serves what another process (B, Node or Python) wrote or signed out
as soon as B's call returned; an entry never outlives its not_after; it is bounded in entries and bytes; an own write
whose invalidation Redis batched with another server's sign-out is not served."""

from __future__ import annotations

import threading
import time

import pytest

from conftest import REDIRECT_URI, SCOPES
from msal_redis_cache import ConfigurationError
from test_bad_values import make_cache


def wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def l1(tokens):
    return tokens.stats()["local_cache"]


def tracking(tokens):
    """Loads once (the listener starts on first use) and waits until tracking is on."""
    tokens.cache_for(session_id="warm-up")
    wait_for(lambda: l1(tokens)["coherent"])


@pytest.mark.parametrize("language", ["node", "python"])
def test_another_process_writes_and_sign_outs_are_seen_at_once(server, workers, idp, language):
    other = workers(language)
    tokens = server.tokens
    tracking(tokens)
    for i in range(4):
        user = idp.control("addUser", username=f"l1-{language}-{i}@contoso.example")
        selector = {"sessionId": f"coherent-{i}"}
        home = server.sign_in(selector, idp.sign_in_code(user), SCOPES, REDIRECT_URI)["homeAccountId"]
        first = server.silent(selector, home, SCOPES)
        hits = l1(tokens)["hits"]
        assert server.silent(selector, home, SCOPES) == first
        assert l1(tokens)["hits"] > hits  # served from memory
        refreshed = other.call("silent", selector=selector, homeAccountId=home, scopes=SCOPES, forceRefresh=True)
        assert refreshed["accessToken"] != first["accessToken"]
        assert server.silent(selector, home, SCOPES)["accessToken"] == refreshed["accessToken"]
        assert server.silent(selector, home, SCOPES)["accessToken"] == refreshed["accessToken"]
        other.call("remove", selector=selector)
        assert server.app(selector).get_accounts() == []  # a sign-out elsewhere is never served from memory
    assert l1(tokens)["invalidations"] > 0


def test_a_sign_out_racing_reads_is_never_served_after_it_returns(server, workers, idp):
    """B signs out while A's threads keep loading the partition: once B's sign-out has returned, no load of A
    starting after that finds the account."""
    other = workers("python")
    tokens = server.tokens
    tracking(tokens)
    for i in range(5):
        user = idp.control("addUser", username=f"l1-race-{i}@contoso.example")
        selector = {"sessionId": f"race-{i}"}
        server.sign_in(selector, idp.sign_in_code(user), SCOPES, REDIRECT_URI)
        signed_out = threading.Event()
        stale = []

        def reader():
            while True:
                after = signed_out.is_set()
                accounts = server.app(selector).get_accounts()
                if after:
                    if accounts:
                        stale.append(accounts)
                    return

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.02)
        other.call("remove", selector=selector)
        signed_out.set()
        for thread in threads:
            thread.join(10)
        assert stale == []


def test_an_entry_is_never_served_past_its_not_after(make_tokens, redis_client):
    now = [1_900_000_000.0]
    tokens = make_tokens(clock=lambda: now[0], sliding_seconds=3600, absolute_seconds=7200)
    tracking(tokens)
    tokens.import_partition(make_cache("oid.tid", now[0]), session_id="s")
    key = tokens.cache_for(session_id="s").key
    redis_client.expire(key, 10 * 7200)  # Redis would keep it longer than its not_after says
    wait_for(lambda: l1(tokens)["entries"] == 0)  # the invalidation of that
    assert tokens.cache_for(session_id="s").find("Account")
    hits = l1(tokens)["hits"]
    assert tokens.cache_for(session_id="s").find("Account")
    assert l1(tokens)["hits"] == hits + 1
    now[0] += 7200 + 61  # past the value's not_after (and its clock skew); Redis's TTL runs in real time
    assert tokens.cache_for(session_id="s").find("Account") == []
    assert l1(tokens)["hits"] == hits + 1


def test_entries_are_bounded_in_number_and_bytes(make_tokens):
    now = time.time()
    tokens = make_tokens(local_cache={"max_entries": 2})
    tracking(tokens)
    for i in range(3):
        tokens.import_partition(make_cache(f"oid{i}.tid", now), home_account_id=f"oid{i}.tid")
        tokens.cache_for(home_account_id=f"oid{i}.tid")
    stats = l1(tokens)
    assert stats["entries"] == 2 and stats["evictions"] == 1  # the oldest partition
    hits = stats["hits"]
    tokens.cache_for(home_account_id="oid0.tid")  # evicted: read again
    assert l1(tokens)["hits"] == hits
    tokens.cache_for(home_account_id="oid2.tid")
    assert l1(tokens)["hits"] == hits + 1

    body = len(tokens.export_partition(home_account_id="oid2.tid"))
    one_entry = 256 + 80 + 3 * body  # local_cache.py's estimate (ENTRY_OVERHEAD_BYTES, a key, BODY_COPIES)
    small = make_tokens(local_cache={"max_bytes": one_entry + body})
    tracking(small)
    for i in range(3):
        small.cache_for(home_account_id=f"oid{i}.tid")
        assert l1(small)["bytes"] <= one_entry + body
    assert l1(small)["entries"] == 1


def test_an_own_write_batched_with_another_servers_sign_out_is_not_served(make_tokens, redis_client):
    """Redis batches BCAST invalidations per event-loop cycle: an own write and another server's sign-out run in one
    cycle (queued behind CLIENT PAUSE) cause a single invalidation. It must not be taken for the own write's only."""
    a = make_tokens()
    b = make_tokens(local_cache=False)
    tracking(a)
    now = time.time()
    for i in range(3):
        a.import_partition(make_cache("oid.tid", now), home_account_id="oid.tid")
        assert a.cache_for(home_account_id="oid.tid").find("Account")
        redis_client.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
        try:
            writing = threading.Thread(target=lambda: a.import_partition(make_cache("oid.tid", now + 1),
                                                                         home_account_id="oid.tid"))
            writing.start()
            time.sleep(0.2)  # A's compare-and-set is queued first
            removing = threading.Thread(target=lambda: b.remove_partition(home_account_id="oid.tid"))
            removing.start()
            time.sleep(0.2)
        finally:
            redis_client.execute_command("CLIENT", "UNPAUSE")
        writing.join(10)
        removing.join(10)
        time.sleep(0.1)  # every invalidation has arrived
        assert b.export_partition(home_account_id="oid.tid") is None  # signed out, after A's write
        assert a.cache_for(home_account_id="oid.tid").find("Account") == []


def test_a_write_overtaken_by_a_sign_out_or_a_flush_in_flight_is_not_kept():
    """Node's rule (js/local-cache/local-cache.js endWrite): a write in flight when this process forgets the key (a
    sign-out here) or Redis flushes is not kept, not even unconfirmed."""
    from msal_redis_cache.local_cache import LocalCache
    from msal_redis_cache.partition_reader import LoadedPartition

    cache = LocalCache(max_bytes=1 << 20, max_entries=10, stale_if_error_seconds=300, clock=lambda: 1000.0)
    cache.resume()
    for overtake in (lambda: cache.forget("k"), cache.flush):
        flight = cache.begin_read("k")
        overtake()
        cache.end_write(flight, LoadedPartition("e1", body="mine"), 60000)
        assert cache.get("k") is None and cache.get_stale("k") is None


def test_while_tracking_is_down_reads_and_writes_replace_the_outage_copy_and_a_read_across_resume_keeps_its_own():
    """Node's rules (js/local-cache/local-cache.js, tests/js/local-cache/local-cache.test.js): what a read or write
    finds while tracking is down replaces the key's outage copy (never a hit); a read begun before tracking came back
    and failing after it falls back to the copy there was when it began, unless something reached it in flight; a
    read across a whole down-up-down cycle is not kept; nothing before tracking ever started."""
    from msal_redis_cache.local_cache import LocalCache
    from msal_redis_cache.partition_reader import LoadedPartition

    def new_cache(start=True):
        cache = LocalCache(max_bytes=1 << 20, max_entries=10, stale_if_error_seconds=300, clock=lambda: 1000.0)
        if start:
            cache.resume()
        return cache

    def read(cache, key, loaded):
        cache.end_read(cache.begin_read(key), loaded, 60000)

    v1, v2 = LoadedPartition("e1", body="V1"), LoadedPartition("e2", body="V2")
    cache = new_cache()
    cache.client_failing = lambda: True  # as after a restart: tracking is back before the client answers
    read(cache, "k", v1)
    cache.suspend()
    read(cache, "k", v2)
    assert cache.get("k") is None and cache.get_stale("k").loaded is v2
    written = LoadedPartition("e3", body="V3")
    cache.end_write(cache.begin_read("k"), written, 60000)
    assert cache.get("k") is None and cache.get_stale("k").loaded is written
    failing = cache.begin_read("k")
    cache.resume()
    assert cache.get("k") is None and cache.get_stale("k").loaded is written  # until this process's client answers
    cache.answered()
    assert cache.get_stale("k") is None and cache.get_stale("k", failing).loaded is written
    cache.client_failing = lambda: False  # a healthy client: tracking back drops them at once
    cache.end_read(failing, None, 0)
    for reach in (lambda: cache.invalidate("k"), lambda: cache.forget("k"), cache.flush):
        read(cache, "k", v1)
        flight = cache.begin_read("k")
        reach()
        cache.suspend()
        cache.resume()
        cache.answered()
        assert cache.get_stale("k", flight) is None
        cache.end_read(flight, None, 0)

    cache = new_cache()
    cache.suspend()
    flight = cache.begin_read("k")
    cache.resume()
    cache.suspend()
    cache.end_read(flight, v1, 60000)
    assert cache.get_stale("k") is None

    cache = new_cache(start=False)
    read(cache, "k", v1)
    cache.suspend()
    read(cache, "k", v1)
    assert not cache.entries


def test_options(make_tokens):
    assert make_tokens(local_cache=False).stats()["local_cache"] is None
    stats = make_tokens().stats()["local_cache"]
    assert stats["entries"] == 0 and stats["coherent"] is False  # nothing opened before the first load
    for bad, message in ((True, "must be False or"), ({"max_bytes": 0}, "local_cache.max_bytes"),
                         ({"maxEntries": 5}, "unknown option local_cache.maxEntries"),
                         ({"stale_if_error_seconds": 1.5}, "local_cache.stale_if_error_seconds")):
        with pytest.raises(ConfigurationError, match=message):
            make_tokens(local_cache=bad)


def test_a_forked_child_starts_suspended_and_tracks_on_its_own(make_tokens):
    import os
    tokens = make_tokens()
    tracking(tokens)
    tokens.import_partition(make_cache("oid.tid", time.time()), home_account_id="oid.tid")
    tokens.cache_for(home_account_id="oid.tid")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no parent thread, nothing served from the parent's entries
        try:
            stats = l1(tokens)
            ok = stats["entries"] == 0 and not stats["coherent"]
            tokens.cache_for(home_account_id="oid.tid")
            deadline = time.monotonic() + 10
            while not l1(tokens)["coherent"] and time.monotonic() < deadline:
                time.sleep(0.01)
            ok = ok and l1(tokens)["coherent"]
            os.write(write, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 2) == b"ok"
    assert l1(tokens)["coherent"]


def test_a_redis_cluster_client_has_no_local_cache(make_tokens, redis_client):
    """RedisCluster would need one tracking connection per master, following the slots: not done in Python."""
    class RedisCluster:  # what _topology looks at: the client's class name, and no single connection pool
        connection_pool = None

        def __init__(self, client):
            self.evalsha, self.eval = client.evalsha, client.eval

        def get_connection_kwargs(self):
            return {"socket_timeout": 1, "socket_connect_timeout": 1}

    assert make_tokens(redis=RedisCluster(redis_client)).stats()["local_cache"] is None

