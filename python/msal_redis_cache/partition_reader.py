"""Loads one partition, as js/storage/partition-reader.js: reads it (partition_store.py), verifies and decrypts it
(stored_value.py), and says what was loaded: the base its next write is checked and merged against. Anything unusable
is a cache miss with a warning, never an exception: a stuck user is worse than a sign-in. When Redis fails, a user's
partition (session, account) is a CacheStoreError with read_failure "closed" (the default: a miss would ask a
signed-in user to sign in again; an error lets the app answer "try again"); otherwise the read is a miss whose base
is unknown (its write then merges with whatever is stored). With the in-process cache (local_cache.py), a coherent
copy is served without Redis, and when Redis fails the last copy this process saw is served before any of that."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Optional

from .errors import CacheStoreError
from .metrics import Metrics
from .options import Settings
from .partition_store import PartitionStore, StoredState
from .stored_value import CLOCK_SKEW_SECONDS, PARTITION, TOMBSTONE, UnreadableValue, open_value

if TYPE_CHECKING:  # pragma: no cover
    from .invalidation_listener import InvalidationListener
    from .local_cache import Entry, LocalCache, Read

# The etag of a base that could not be read: it matches nothing, so the write merges with what is stored.
UNKNOWN_ETAG = "!unknown"


@dataclass(frozen=True)
class LoadedPartition:
    etag: str  # the version read ("" when the key was missing)
    body: Optional[str] = None  # the cache JSON; None when there is none (missing, removed or unreadable)
    created_at: Optional[int] = None  # the partition's first write (epoch seconds)
    not_after: Optional[int] = None  # when the stored value stops being usable
    owner: Optional[str] = None  # the account a session partition belongs to
    removed: bool = False  # a tombstone: signed out, must not come back from older loads
    stored_bytes: int = 0
    problem: Optional[str] = None  # why a stored value was ignored, else None
    offline: bool = False  # Redis could not be asked: a miss, or the last copy this process saw
    # The in-process cache's entry it was served from: entry.memory(...) gives msal-python's memory without parsing.
    entry: Optional["Entry"] = field(default=None, compare=False, repr=False)


@dataclass
class Context:
    settings: Settings
    store: PartitionStore
    local_cache: Optional["LocalCache"] = None  # None: off (local_cache=False, or a Cluster)
    listener: Optional["InvalidationListener"] = None
    counters: Any = field(default_factory=lambda: {"stale_reads": 0, "failed_reads": 0, "missed_reads": 0})

    @property
    def metrics(self) -> Metrics:
        return self.settings.metrics

    def now(self) -> int:
        return int(self.settings.clock())


def interpret(context: Context, key: str, state: StoredState) -> LoadedPartition:
    """What a stored state means for a writer or reader of `key`."""
    settings = context.settings

    def unreadable(reason: str, kind: str = "corrupt") -> LoadedPartition:
        context.metrics.unreadable(kind)
        settings.logger.warning(
            f'msal-redis-cache: ignoring unreadable cache partition "{key}" (treated as a cache miss): {reason}'
        )
        return LoadedPartition(state.etag, problem=reason)

    if state.value is None:
        if not state.problem:
            return LoadedPartition(state.etag)
        return unreadable(state.problem, "too_large" if "max_value_bytes" in state.problem else "foreign")
    now = context.now()
    try:
        opened = open_value(settings.keyring, key, state.value, now)
    except UnreadableValue as error:
        return unreadable(str(error), "expired" if error.expired else "corrupt")
    if opened.type == TOMBSTONE:
        return LoadedPartition(state.etag, not_after=opened.not_after, removed=True)
    if opened.type != PARTITION:
        return unreadable("holds a session, not a token cache", "foreign")
    # App partitions live as long as their tokens; every other kind has an absolute lifetime, which also holds when
    # absolute_seconds was lowered since the value was written.
    if not key.startswith(f"{settings.prefix}app:") and now > (
        opened.created_at + settings.absolute_seconds + CLOCK_SKEW_SECONDS
    ):
        return unreadable(f"older than absolute_seconds ({settings.absolute_seconds} s)", "expired")
    assert opened.body is not None
    return LoadedPartition(state.etag, body=opened.body.decode("utf-8"), created_at=opened.created_at,
                           not_after=opened.not_after, owner=opened.meta, stored_bytes=len(state.value))


def load_partition(context: Context, key: str, offline: bool = False) -> LoadedPartition:
    """The partition at `key` now. When Redis fails, or a call of this request already failed (offline): see the
    top of this file."""
    local_cache = context.local_cache
    if local_cache is not None:
        assert context.listener is not None
        context.listener.start()
        context.listener.catch_up()
        hit = _cached(context, key)
        context.metrics.lookup("L1Cache", hit is not None)
        if hit is not None:
            return hit
    read = local_cache.begin_read(key) if local_cache is not None else None
    loaded: Optional[LoadedPartition] = None
    ttl_ms = 0
    try:
        if offline:
            raise CacheStoreError(f'Redis GET not sent for "{key}": Redis failed earlier in this request')
        state = context.store.read(key)
        if state.value is not None:
            context.metrics.received(len(state.value))
        loaded, ttl_ms = interpret(context, key, state), state.ttl_ms
        context.metrics.lookup("L2Cache", loaded.body is not None)
        return loaded
    except CacheStoreError as error:
        return _without_redis(context, key, error, read)
    finally:
        if read is not None:
            assert local_cache is not None
            local_cache.end_read(read, loaded, ttl_ms)


def _cached(context: Context, key: str) -> Optional[LoadedPartition]:
    """A coherent copy from the in-process cache; one kept from this process's own write is confirmed first after
    an invalidation (local_cache.py: one etag read, no decryption)."""
    local_cache = context.local_cache
    assert local_cache is not None
    entry = local_cache.get(key)
    if entry is None:
        return None
    if entry.unconfirmed:
        check = local_cache.begin_read(key)
        try:
            etag: Optional[str] = context.store.etag(key)
        except CacheStoreError:
            etag = None
        if not local_cache.end_confirm(check, entry, etag):
            return None
    return replace(entry.loaded, entry=entry)


def _without_redis(context: Context, key: str, error: CacheStoreError, read: Optional[Read]) -> LoadedPartition:
    """Redis cannot answer (`read`: the failed read's begin_read): the last copy this process saw (Node's readFailure
    path), else a CacheStoreError for a user's partition (read_failure "closed"), else a miss."""
    settings = context.settings
    stale = context.local_cache.get_stale(key, read) if context.local_cache is not None else None
    if stale is not None:
        context.counters["stale_reads"] += 1
        context.metrics.offline_read("stale")
        settings.logger.warning(f"msal-redis-cache: {error} (served the copy this process read "
                                f"{int(settings.clock() - stale.verified_at)} s ago)")
        return replace(stale.loaded, offline=True, entry=stale)
    kind = key[len(settings.prefix):].split(":", 1)[0]
    if settings.read_failure == "closed" and kind in ("session", "account"):
        context.counters["failed_reads"] += 1
        context.metrics.offline_read("failed")
        raise CacheStoreError(
            f'Redis is unavailable: partition "{key}" could not be read, and this process has no recent copy of it '
            '(read_failure "closed": answer "try again", not "sign in")'
        ) from error
    context.counters["missed_reads"] += 1
    context.metrics.offline_read("miss")
    settings.logger.warning(f"msal-redis-cache: {error} (treated as a cache miss)")
    return LoadedPartition(UNKNOWN_ETAG, problem="Redis is unavailable", offline=True)


def written(etag: str, body: bytes, created_at: int, not_after: int, owner: Optional[str], size: int) -> LoadedPartition:
    """What a write this process just made stored: the base of its next write."""
    return LoadedPartition(etag, body=body.decode("utf-8"), created_at=created_at, not_after=not_after, owner=owner,
                           stored_bytes=size)


