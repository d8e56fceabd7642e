"""The in-process cache (L1) of loaded partitions, kept coherent by Redis's invalidation messages
(invalidation_listener.py): js/local-cache/local-cache.js's rules. Bounded in bytes and entries (least recently used
goes first); no entry outlives the Redis TTL it was read with, nor the not_after in its value. What keeps it from ever
serving what Redis no longer holds:
  - a read whose key was invalidated while it was in flight is not cached (the invalidation may have overtaken the
    reply, which then carries the old value);
  - what this process wrote is cached as what Redis now holds, and served until the invalidation its own write causes
    arrives. That one is not simply ignored (nor in Node any more): in BCAST mode Redis batches invalidations per event-loop
    cycle, one message per key, so it may also stand for another server's write (a sign-out) run in the same cycle.
    After it, the entry is "unconfirmed": its next lookup first checks the stored etag (32 bytes, no decryption);
  - while the invalidation connection is down, nothing is served as a hit (an invalidation may be missed); entries
    stay only as the last known copies a read falls back to when Redis itself fails (stale_if_error_seconds), and an
    invalidation still removes them. A read or write that succeeds meanwhile replaces its key's copy (what Redis held
    then is no older). Once tracking is back they are dropped: they may have missed an invalidation meanwhile (a
    sign-out elsewhere), and must not come back in a later outage; unless this process's Redis client is failing as
    tracking comes back (after a restart the tracking connection is often back first): then they stay outage copies
    until that client has an answer (Node's rule). A read begun before tracking came back and failing after it may
    also fall back to the copy there was when it began.
Thread-safe: requests run on many threads, invalidations arrive on the listener's."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from .metrics import NO_METRICS, Metrics
from .msal_python_format import copy_memory, is_flat
from .partition_reader import LoadedPartition

ENTRY_OVERHEAD_BYTES = 256  # the entry object, its key and the dict slot, roughly
# The body as JSON text once, and the msal-python memory parsed from it on the first hit: about twice as many bytes
# again (measured with sys.getsizeof over 8 KB and 100 KB partitions: 2.1-2.2x).
BODY_COPIES = 3


class Entry:
    """A partition as Redis held it, and msal-python's memory of it, parsed once and copied for every hit (msal-python
    changes its memory in place)."""

    __slots__ = ("loaded", "bytes", "expires_at", "verified_at", "epoch", "awaiting_own", "unconfirmed", "_memory",
                 "_flat")

    def __init__(self, loaded: LoadedPartition, size: int, expires_at: float, verified_at: float, epoch: int,
                 awaiting_own: bool, unconfirmed: bool) -> None:
        self.loaded = loaded
        self.bytes = size
        self.expires_at = expires_at
        self.verified_at = verified_at
        self.epoch = epoch
        self.awaiting_own = awaiting_own  # this process's write of it: its own invalidation is still to come
        self.unconfirmed = unconfirmed  # an invalidation arrived that may be its own write's: check the etag first
        self._memory: Optional[Dict[str, Any]] = None  # never given out: copies are
        self._flat = False

    def memory(self, parse: Callable[[str], Dict[str, Any]]) -> Dict[str, Any]:
        """A fresh msal-python memory of the body (`parse` makes one from the JSON: on the first call only)."""
        if self.loaded.body is None:
            return {}
        memory = self._memory
        if memory is None:
            memory = parse(self.loaded.body)  # two threads may both parse: the same result, no harm
            self._flat = is_flat(memory)
            self._memory = memory
        return copy_memory(memory, self._flat)


@dataclass
class Read:
    """A read (or write) of a key in flight: see begin_read."""

    key: str
    flight: Dict[str, float]  # {"readers": n, "invalidations": n}
    epoch: int
    started_at: float
    seen: float
    copy: Optional[Entry]  # the key's entry when it began: a failing read's fallback if tracking came back meanwhile


class LocalCache:
    def __init__(self, *, max_bytes: int, max_entries: int, stale_if_error_seconds: int,
                 clock: Callable[[], float], metrics: Metrics = NO_METRICS) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.stale_if_error_seconds = stale_if_error_seconds
        self.clock = clock
        self.metrics = metrics
        self.entries: "OrderedDict[str, Entry]" = OrderedDict()  # LRU order: most recently used last
        self.bytes = 0
        self.inflight: Dict[str, Dict[str, float]] = {}  # key -> reads and writes in flight, and what reached them
        self.coherent = False  # the invalidation connection is up and tracking
        self.tracked = False  # it has been, once: outage copies are kept from then on
        # The outage copies from before tracking came back while this process's client was failing, until it has an
        # answer from Redis again (answered); only get_stale reads them. Not counted in bytes: they go at the first
        # answer.
        self.from_before: Dict[str, Entry] = {}
        self.client_failing: Callable[[], bool] = lambda: False  # set by RedisTokenCache: the guard's in_outage
        self.epoch = 0  # bumped whenever coherence is lost: entries and reads of an older epoch are not trusted
        self.stats = {"hits": 0, "misses": 0, "stale_served": 0, "invalidations": 0, "evictions": 0, "flushes": 0,
                      "confirmations": 0}
        self._lock = threading.Lock()

    def get(self, key: str) -> Optional[Entry]:
        """The entry for `key` if it can be served without reading the partition from Redis, else None. An entry
        that is `unconfirmed` must first pass confirm()."""
        with self._lock:
            entry = self.entries.get(key)
            if (entry is None or not self.coherent or entry.epoch != self.epoch
                    or entry.expires_at <= self.clock()):
                self.stats["misses"] += 1
                return None
            self.entries.move_to_end(key)
            self.stats["hits"] += 1
            return entry

    def get_stale(self, key: str, read: Optional[Read] = None) -> Optional[Entry]:
        """The last known copy of `key`, for when Redis cannot be reached; None when there is none fresh enough.
        `read` (from begin_read, still in flight): the read that failed; if its key's copy is gone since it began
        (tracking came back: resume) and nothing reached it in flight, the copy there was then is still its fallback."""
        with self._lock:
            now = self.clock()

            def usable(entry: Optional[Entry]) -> bool:
                return (entry is not None and entry.expires_at > now
                        and now - entry.verified_at <= self.stale_if_error_seconds)

            entry = self.entries.get(key)
            if not usable(entry) and read is not None and read.flight["invalidations"] == read.seen:
                entry = read.copy
            if not usable(entry):
                entry = self.from_before.get(key)
            if not usable(entry):
                return None
            self.stats["stale_served"] += 1
            return entry

    def begin_read(self, key: str) -> Read:
        """Call before reading `key` from Redis (or writing it, or checking its etag); then end_read, end_write or
        end_confirm."""
        with self._lock:
            flight = self.inflight.get(key)
            if flight is None:
                flight = self.inflight[key] = {"readers": 0, "invalidations": 0}
            flight["readers"] += 1
            # The TTL counts from when the read was sent: the reply may be handled late in a busy process.
            return Read(key, flight, self.epoch, self.clock(), flight["invalidations"], self.entries.get(key))

    def end_read(self, read: Read, loaded: Optional[LoadedPartition], ttl_ms: int) -> None:
        """`loaded`: what was read (None: a failed read, nothing to cache); `ttl_ms`: the key's remaining time to live,
        as read with it (<= 0: not cached)."""
        with self._lock:
            arrived = self._land(read)
            if loaded is None:
                return
            if not arrived and self._trusted(read, ttl_ms):
                self._store(read, loaded, ttl_ms, epoch=self.epoch)
            elif not arrived and self._outage_copy(read, ttl_ms):
                self._store(read, loaded, ttl_ms, epoch=-1)
            else:
                self._remove(read.key)  # what is kept for this key is older than what was just read, and no better

    def end_write(self, write: Read, loaded: Optional[LoadedPartition], ttl_ms: int) -> None:
        """Like end_read, for a write of the key sent after begin_read: `loaded` is what Redis holds now (None when
        the write left nothing to keep: then call forget or demote). An invalidation that arrived while it was in
        flight may have been its own or a later write's: the entry is then kept unconfirmed. Not kept after a forget()
        or a flush in flight (inf), as in Node."""
        with self._lock:
            arrived = self._land(write)
            if loaded is None:
                return
            if arrived != math.inf and self._trusted(write, ttl_ms):
                self._store(write, loaded, ttl_ms, epoch=self.epoch, awaiting_own=not arrived, unconfirmed=bool(arrived))
            elif not arrived and self._outage_copy(write, ttl_ms):
                self._store(write, loaded, ttl_ms, epoch=-1)
            else:
                self._remove(write.key)

    def end_confirm(self, check: Read, entry: Entry, etag: Optional[str]) -> bool:
        """The etag check of an unconfirmed entry (begin_read before it; `etag` None: the check failed): True when
        the entry may be served, no invalidation having reached the check."""
        with self._lock:
            arrived = self._land(check)
            current = self.entries.get(check.key) is entry
            if not current or etag != entry.loaded.etag or arrived or check.epoch != self.epoch or not self.coherent:
                if current and etag is not None and etag != entry.loaded.etag:
                    self._remove(check.key)  # Redis holds another version
                self.stats["hits"] -= 1  # get() counted it
                self.stats["misses"] += 1
                return False
            entry.unconfirmed = False
            self.stats["confirmations"] += 1
            return True

    def demote(self, key: str) -> None:
        """A write of `key` failed, and may or may not have reached Redis: the copy is no longer served as a hit, but
        stays as the last known copy for reads while Redis fails."""
        with self._lock:
            flight = self.inflight.get(key)
            if flight is not None:
                flight["invalidations"] += 1
            entry = self.entries.get(key)
            if entry is not None:
                entry.epoch = -1

    def invalidate(self, key: str) -> None:
        """Redis says `key` changed (or expired): forget it, and do not cache reads of it in flight. The first one
        after this process's own write of it leaves the entry, unconfirmed (see the top of this file)."""
        with self._lock:
            self.stats["invalidations"] += 1
            self.from_before.pop(key, None)
            flight = self.inflight.get(key)
            if flight is not None:
                flight["invalidations"] += 1
            entry = self.entries.get(key)
            if entry is not None and entry.awaiting_own:
                entry.awaiting_own = False
                entry.unconfirmed = True
                return
            self._remove(key)

    def forget(self, key: str) -> None:
        """This process knows `key` changed, or must not be served again (a sign-out): forget it whatever comes."""
        with self._lock:
            flight = self.inflight.get(key)
            if flight is not None:
                flight["invalidations"] = math.inf
            self._remove(key)
            self.from_before.pop(key, None)

    def flush(self) -> None:
        """Everything may have changed (FLUSHALL, FLUSHDB): forget everything."""
        with self._lock:
            self.stats["flushes"] += 1
            for flight in self.inflight.values():
                flight["invalidations"] = math.inf
            self.entries.clear()
            self.from_before.clear()
            self.bytes = 0

    def suspend(self) -> None:
        """The invalidation connection is down: no hits until it is back (entries stay as stale copies)."""
        with self._lock:
            self.coherent = False
            self.epoch += 1

    def resume(self) -> None:
        """Tracking is on again: new reads may be cached and served; entries from before (they may have missed an
        invalidation while it was off) are dropped, or kept as outage copies until answered() while this process's
        client is failing."""
        with self._lock:
            self.coherent = True
            self.tracked = True
            self.epoch += 1
            if self.client_failing():
                self.from_before.update(self.entries)
            else:
                self.from_before.clear()
            self.entries.clear()
            self.bytes = 0

    def answered(self) -> None:
        """This process's Redis client had an answer: the outage copies from before tracking came back are dropped."""
        if self.from_before:
            with self._lock:
                self.from_before.clear()

    def after_fork(self) -> None:
        """In a forked child: a lock the parent's threads held stays held there, and no listener runs yet."""
        self._lock = threading.Lock()
        self.inflight = {}
        self.suspend()
        self.flush()

    def _land(self, read: Read) -> float:
        """Ends a flight; returns how many invalidations reached it."""
        read.flight["readers"] -= 1
        if read.flight["readers"] == 0 and self.inflight.get(read.key) is read.flight:
            del self.inflight[read.key]
        return read.flight["invalidations"] - read.seen

    def _trusted(self, read: Read, ttl_ms: int) -> bool:
        return ttl_ms > 0 and self.coherent and read.epoch == self.epoch

    def _outage_copy(self, read: Read, ttl_ms: int) -> bool:
        """Whether what a read or write just found may be kept as the key's last known copy (never a hit) while
        tracking is down (after it was up once): it is no older than the copy kept. Not once tracking is back, nor
        when it came back and went down again while the read was in flight (what it found may have changed before
        tracking was on again, unheard)."""
        return ttl_ms > 0 and self.tracked and not self.coherent and self.epoch - read.epoch <= 1

    def _store(self, read: Read, loaded: LoadedPartition, ttl_ms: int, *, epoch: int, awaiting_own: bool = False,
               unconfirmed: bool = False) -> None:
        """epoch -1: an outage copy only (get_stale), never a hit."""
        key = read.key
        # Never past the value's own not_after either (its TTL in Redis may have been lifted: PERSIST).
        expires_at = read.started_at + ttl_ms / 1000
        if loaded.not_after is not None:
            expires_at = min(expires_at, loaded.not_after)
        size = ENTRY_OVERHEAD_BYTES + len(key) + (BODY_COPIES * len(loaded.body) if loaded.body else 0)
        self._remove(key)  # older than what is stored now, even when that is too large to keep
        self.from_before.pop(key, None)
        if size > self.max_bytes:
            return
        self.entries[key] = Entry(loaded, size, expires_at, self.clock(), epoch, awaiting_own, unconfirmed)
        self.bytes += size
        while self.bytes > self.max_bytes or len(self.entries) > self.max_entries:
            oldest = next(iter(self.entries))
            self._remove(oldest)
            self.stats["evictions"] += 1
            self.metrics.evicted()

    def _remove(self, key: str) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry.bytes
