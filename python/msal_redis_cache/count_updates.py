"""The count index updates that follow every write (<prefix>index:count:<kind>, partition_index.py), sent by one
background thread and coalesced: a write only notes its member's new state (its score, or removed); the thread sends
what was noted over FLUSH_SECONDS as one pipeline per count key. A count is a gauge: what a write costs its request
matters more than a count that is 50 ms late. Handing every update to a thread of its own cost a refresh ~180 µs of
process CPU (bench/README.md, "Request scope and the write path"); noting one is a dict assignment under a lock.

settle() sends what is noted at once and waits for it (RedisTokenCache.close(), and at interpreter exit); a forked
child starts with nothing noted and a thread of its own."""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from typing import Callable, Dict, Optional, Tuple

# How long the thread gathers updates before it sends them, and how many go in one pipeline at most (notes past that
# many end the gathering early).
FLUSH_SECONDS = 0.05
MAX_NOTED = 1000

# A member's state after the last write noted: (score, ttl_seconds) while stored, None once removed. Only the last
# one matters: a ZADD replaces the score, a ZREM ends the membership, whatever came before.
Update = Optional[Tuple[int, int]]
Send = Callable[[str, Dict[str, Update]], None]


class CountUpdates:
    def __init__(self, send: Send, warn: Callable[[str], None]) -> None:
        """`send(count_key, {member: update})` sends one key's updates (raising when Redis fails); `warn` logs."""
        self._send = send
        self._warn = warn
        self._reset()
        me = weakref.ref(self)
        atexit.register(_settle_at_exit, me)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=lambda: _reset_in_child(me))

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # work noted, a flush asked for, or a flush done
        self._noted: Dict[str, Dict[str, Update]] = {}
        self._size = 0  # notes since the last batch was taken
        self._generation = 0  # how many updates were noted
        self._sent = 0  # how many of them were sent (or failed: counts are never retried)
        self._flush_now = False
        self._waiting_for_work = False
        self._closing = False
        self._thread: Optional[threading.Thread] = None

    def note(self, count_key: str, member: str, update: Update) -> None:
        with self._lock:
            self._noted.setdefault(count_key, {})[member] = update
            self._generation += 1
            self._size += 1
            if self._size >= MAX_NOTED:
                self._flush_now = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="msal-redis-cache-counts", daemon=True)
                self._thread.start()
            elif self._waiting_for_work or self._flush_now:
                self._changed.notify_all()

    def settle(self, timeout: Optional[float] = None) -> None:
        """Sends what is noted now, and waits until it has been sent (at most `timeout` seconds)."""
        with self._lock:
            target = self._generation
            if self._sent >= target or self._thread is None:
                return
            self._flush_now = True
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._sent >= target, timeout)

    def close(self) -> None:
        """Sends what is noted and stops the thread; a later note starts another."""
        self.settle()
        with self._lock:
            thread, self._thread = self._thread, None
            self._closing = True
            self._changed.notify_all()
        if thread is not None:
            thread.join()
        with self._lock:
            self._closing = False

    def _run(self) -> None:
        while True:
            with self._lock:
                self._waiting_for_work = True
                self._changed.wait_for(lambda: bool(self._noted) or self._closing)
                self._waiting_for_work = False
                if not self._noted:
                    return
                if not self._flush_now:
                    self._changed.wait_for(lambda: self._flush_now, FLUSH_SECONDS)
                batch, self._noted, self._size = self._noted, {}, 0
                generation, self._flush_now = self._generation, False
            for count_key, members in batch.items():
                items = list(members.items())
                for start in range(0, len(items), MAX_NOTED):
                    try:
                        self._send(count_key, dict(items[start:start + MAX_NOTED]))
                    except Exception as error:  # a gauge: logged, not retried
                        self._warn(f"msal-redis-cache: a partition count was not updated: {error}")
            with self._lock:
                self._sent = generation
                self._changed.notify_all()


def _settle_at_exit(ref: "weakref.ref[CountUpdates]") -> None:
    updates = ref()
    if updates is not None:
        updates.settle(timeout=2.0)


def _reset_in_child(ref: "weakref.ref[CountUpdates]") -> None:
    """The parent's thread is not in the child, and its lock may have been held at the fork; what the parent noted
    is the parent's to send."""
    updates = ref()
    if updates is not None:
        updates._reset()
