"""The count updates after writes (msal_redis_cache/count_updates.py): noted by the request, sent by one background
thread, coalesced; settle() and close() send what is noted. Unit tests with a recording `send`, then the counts a
real Redis holds after real writes."""

from __future__ import annotations

import os
import threading
import time

import pytest

from msal_redis_cache.count_updates import MAX_NOTED, CountUpdates
from msal_redis_cache.partitions import resolve_partition
from test_bad_values import make_cache


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.sent = []
        self.threads = set()
        self.fail = fail
        self.warnings = []

    def send(self, count_key, members):
        self.threads.add(threading.current_thread().name)
        self.sent.append((count_key, dict(members)))
        if self.fail:
            raise RuntimeError("Redis is down")


def test_updates_noted_together_go_in_one_send_per_count_key_and_the_last_state_of_a_member_wins():
    recorder = Recorder()
    updates = CountUpdates(recorder.send, recorder.warnings.append)
    updates.note("c:session", "session:a", (100, 10))
    updates.note("c:session", "session:b", (101, 10))
    updates.note("c:session", "session:a", None)  # signed out after its write
    updates.note("c:app", "app:x", (102, 20))
    updates.note("c:session", "session:b", (105, 10))
    updates.settle()
    assert sorted(recorder.sent) == [("c:app", {"app:x": (102, 20)}),
                                     ("c:session", {"session:a": None, "session:b": (105, 10)})]
    assert recorder.threads == {"msal-redis-cache-counts"}  # never the writer's thread
    updates.close()


def test_notes_are_sent_within_the_flush_window_without_settle():
    recorder = Recorder()
    updates = CountUpdates(recorder.send, recorder.warnings.append)
    updates.note("c:session", "session:a", (100, 10))
    deadline = time.monotonic() + 5
    while not recorder.sent and time.monotonic() < deadline:
        time.sleep(0.005)
    assert recorder.sent == [("c:session", {"session:a": (100, 10)})]
    # A burst of notes while the thread gathers: far fewer sends than notes.
    for i in range(200):
        updates.note("c:session", f"session:{i}", (100, 10))
    updates.settle()
    assert 2 <= len(recorder.sent) <= 3
    assert sum(len(members) for _, members in recorder.sent[1:]) == 200
    updates.close()


def test_a_failed_send_is_logged_not_retried_and_settle_still_returns():
    recorder = Recorder(fail=True)
    updates = CountUpdates(recorder.send, recorder.warnings.append)
    updates.note("c:session", "session:a", (100, 10))
    updates.settle(timeout=5)
    assert len(recorder.sent) == 1
    assert recorder.warnings and "a partition count was not updated: Redis is down" in recorder.warnings[0]
    updates.settle(timeout=5)
    assert len(recorder.sent) == 1


def test_close_sends_what_is_noted_and_stops_the_thread_and_a_later_note_starts_another():
    recorder = Recorder()
    updates = CountUpdates(recorder.send, recorder.warnings.append)
    updates.note("c:session", "session:a", (100, 10))
    updates.close()
    assert recorder.sent == [("c:session", {"session:a": (100, 10)})]
    assert not [t for t in threading.enumerate() if t.name == "msal-redis-cache-counts" and t.is_alive()
                and getattr(t, "_target", None) is not None and t._target.__self__ is updates]  # noqa: SLF001
    updates.note("c:session", "session:b", (101, 10))
    updates.settle(timeout=5)
    assert recorder.sent[-1] == ("c:session", {"session:b": (101, 10)})
    updates.close()


def test_a_burst_over_the_cap_is_sent_in_pieces_of_at_most_the_cap():
    recorder = Recorder()
    updates = CountUpdates(recorder.send, recorder.warnings.append)
    for i in range(2500):
        updates.note("c:session", f"session:{i}", (100, 10))
    updates.settle(timeout=5)
    sizes = [len(members) for _, members in recorder.sent]
    assert sum(sizes) == 2500 and max(sizes) == MAX_NOTED
    updates.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_sends_its_own_notes_with_a_thread_of_its_own():
    """The parent's thread is not in the child (a ThreadPoolExecutor's would be, as a dead entry that is never
    replaced, so the child's updates would never be sent and settle() would hang)."""
    read_end, write_end = os.pipe()
    updates = CountUpdates(lambda key, members: os.write(write_end, f"{key}={sorted(members)}\n".encode()),
                           lambda message: None)
    updates.note("c:session", "session:parent", (100, 10))
    updates.settle(timeout=5)
    pid = os.fork()
    if pid == 0:  # the child
        try:
            updates.note("c:session", "session:child", (100, 10))
            updates.settle(timeout=5)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    os.close(write_end)
    lines = os.read(read_end, 4096).decode().splitlines()
    os.close(read_end)
    assert lines == ["c:session=['session:parent']", "c:session=['session:child']"]
    updates.close()


def test_a_real_redis_holds_the_counts_of_real_writes(make_tokens, redis_client):
    """Writes through cache_for, then close(): the count keys hold each partition once, with its expiry as score,
    and a removed one is gone; the key lives as long as its latest member."""
    tokens = make_tokens()
    for session in ("a", "b", "c"):
        tokens.import_partition(make_cache(f"oid-{session}.tid", time.time()), session_id=f"count-{session}")
    tokens.remove_partition(session_id="count-b")
    tokens.close()
    count_key = tokens._shared.index.count_key("session")  # noqa: SLF001
    members = {m.decode() for m in redis_client.zrange(count_key, 0, -1)}
    keyring = tokens._shared.settings.keyring  # noqa: SLF001
    names = {s: resolve_partition(keyring, None, session_id=f"count-{s}").partition_key for s in "abc"}
    assert {names["a"], names["c"]} <= members
    assert names["b"] not in members
    assert redis_client.ttl(count_key) > 0
