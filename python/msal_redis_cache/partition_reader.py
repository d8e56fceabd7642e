"""Loads one partition, as js/storage/partition-reader.js: reads it (partition_store.py), verifies and decrypts it
(stored_value.py), and says what was loaded: the base its next write is checked and merged against. Anything unusable
is a cache miss with a warning, never an exception: a stuck user is worse than a sign-in. When Redis fails, a user's
partition (session, account) is a CacheStoreError with read_failure "closed" (the default: a miss would ask a
signed-in user to sign in again; an error lets the app answer "try again"); otherwise the read is a miss whose base
is unknown (its write then merges with whatever is stored)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .errors import CacheStoreError
from .metrics import Metrics
from .options import Settings
from .partition_store import PartitionStore, StoredState
from .stored_value import CLOCK_SKEW_SECONDS, PARTITION, TOMBSTONE, UnreadableValue, open_value

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
    offline: bool = False  # Redis could not be asked: a miss


@dataclass
class Context:
    settings: Settings
    store: PartitionStore

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
    try:
        if offline:
            raise CacheStoreError(f'Redis GET not sent for "{key}": Redis failed earlier in this request')
        state = context.store.read(key)
    except CacheStoreError as error:
        settings = context.settings
        kind = key[len(settings.prefix):].split(":", 1)[0]
        if settings.read_failure == "closed" and kind in ("session", "account"):
            context.metrics.offline_read("failed")
            raise CacheStoreError(
                f'Redis is unavailable: partition "{key}" could not be read (read_failure "closed": answer "try '
                'again", not "sign in")'
            ) from error
        context.metrics.offline_read("miss")
        settings.logger.warning(f"msal-redis-cache: {error} (treated as a cache miss)")
        return LoadedPartition(UNKNOWN_ETAG, problem="Redis is unavailable", offline=True)
    if state.value is not None:
        context.metrics.received(len(state.value))
    loaded = interpret(context, key, state)
    context.metrics.lookup("L2Cache", loaded.body is not None)
    return loaded


def written(etag: str, body: bytes, created_at: int, not_after: int, owner: Optional[str], size: int) -> LoadedPartition:
    """What a write this process just made stored: the base of its next write."""
    return LoadedPartition(etag, body=body.decode("utf-8"), created_at=created_at, not_after=not_after, owner=owner,
                           stored_bytes=size)


