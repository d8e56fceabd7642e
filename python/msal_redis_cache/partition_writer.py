"""The one path that changes a stored partition (the token cache after msal changed it, import_partition,
remove_partition), with js/storage/partition-writer.js's rules:
  - a write is a compare-and-set against the version the request loaded: no lock, one round trip;
  - on a conflict the core merges three ways (base = what this request loaded, mine = what it now holds, theirs =
    what is stored now), applies the partition rules again, and the write is retried a bounded number of times;
  - a partition removed meanwhile (a tombstone, or gone) is never brought back by a write based on an older load;
  - a removal is a tombstone, written whatever the stored version: a sign-out always wins; where Redis has replicas,
    it counts only once a replica holds it too (sign_out_replicas, replica_wait.py);
  - when Redis fails, a write fails open (write_failure "open": not stored, logged) or closed (CacheStoreError); a
    sign-out always fails closed."""

from __future__ import annotations

import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import count
from typing import Any, Dict, List, Optional, Tuple, Union

from . import core
from .errors import CacheFormatError, CacheStoreError
from .partition_index import PartitionIndex
from .partition_reader import Context, LoadedPartition, interpret, written
from .partitions import Partition
from .replica_wait import ReplicaWait
from .stored_value import PARTITION, seal, tombstone

# n servers writing one partition at once need at most n attempts; past this many the write is dropped with a warning.
MAX_WRITE_ATTEMPTS = 16
# After a few conflicts in a row, writers wait a random moment (up to this many ms, growing with the attempt).
BACKOFF_AFTER_ATTEMPT = 2
BACKOFF_MS_PER_ATTEMPT = 2
EMPTY_CACHE = b"{}"


@dataclass
class WriteResult:
    # "stored", "deleted", "removed" (tombstoned), "dropped" (removed meanwhile, another account's, or conflicting
    # too long), "failed" (Redis failed, write_failure "open"), "unchanged"
    outcome: str
    plan: Dict[str, Any]  # the core's decision on the cache itself (what was restricted away)
    stored: Optional[LoadedPartition] = None  # what Redis holds after a "stored" write
    merged: bool = False  # the stored cache is a merge with another writer's: reload it


class PartitionWriter:
    def __init__(self, context: Context, index: PartitionIndex) -> None:
        self.context = context
        self.index = index
        settings = context.settings
        self.replica_wait = ReplicaWait.for_client(settings.redis, settings.sign_out_replicas, context.store.guard,
                                                   settings.logger)

    def write(self, **request: Any) -> WriteResult:
        """Stores `cache` (msal's serialized cache, or an imported one) as the partition `key`, based on `loaded`;
        counts its outcome."""
        try:
            result = self._write(**request)
        except CacheStoreError:
            self.context.metrics.write("failed")  # write_failure "closed"
            raise
        self.context.metrics.write(result.outcome)
        return result

    def _write(self, *, key: str, partition: Partition, allowed: List[str], owner: Optional[str],
               loaded: LoadedPartition, cache: Union[str, bytes], offline: bool = False) -> WriteResult:
        settings = self.context.settings
        base = loaded
        created_at = loaded.created_at if loaded.created_at is not None else self.context.now()
        first = core.plan_write(cache, self._request(partition, allowed, created_at))
        plan, merged = first, False
        # Nothing swept and nothing left: msal removed the account, or the partition is past its lifetime: a
        # tombstone. Tokens that merely expired are a conditional delete instead, so another server's fresh ones win.
        removal = not first["has_tokens"] and not any(first["expired"].values())
        for attempt in count(1):
            if not plan["has_tokens"] and base.body is None:
                return WriteResult("unchanged", first)
            if removal:
                return WriteResult("removed" if self.remove(key) else "unchanged", first)
            not_after = self.context.now() + plan["ttl_seconds"]
            sealed = (seal(settings.keyring, key, type=PARTITION, created_at=created_at, not_after=not_after,
                           meta=owner, body=plan["cache"]) if plan["has_tokens"] else None)
            if sealed is not None and len(sealed.value) > settings.max_value_bytes:
                raise CacheFormatError(f'partition "{key}" would be {len(sealed.value)} bytes, over max_value_bytes '
                                       f"({settings.max_value_bytes}); not stored")
            local_cache = self.context.local_cache
            flight = local_cache.begin_read(key) if local_cache is not None else None
            try:
                if offline:
                    raise CacheStoreError(f'Redis SET not sent for "{key}": Redis failed earlier in this request')
                if sealed is not None:
                    self.index.before_store(partition, allowed, base, plan["ttl_seconds"], plan["home_account_ids"],
                                            created_at)
                result = self.context.store.compare_and_set(key, base.etag, sealed and sealed.value,
                                                            plan["ttl_seconds"])
            except CacheStoreError as error:
                if flight is not None:
                    assert local_cache is not None
                    local_cache.end_write(flight, None, 0)
                    # It may or may not have reached Redis: this process's copy is no longer a hit, but stays the
                    # last known copy for reads while Redis fails.
                    local_cache.demote(key)
                if settings.write_failure == "closed":
                    raise
                settings.logger.warning(f"msal-redis-cache: partition \"{key}\" not stored: {error}")
                return WriteResult("failed", first)
            self.context.metrics.compare_and_set(len(sealed.value) if sealed else 0, result.written,
                                                 result.current and result.current.value)
            stored = (written(sealed.etag, plan["cache"], created_at, not_after, owner, len(sealed.value))
                      if result.written and sealed is not None else None)
            if flight is not None:
                assert local_cache is not None
                # What Redis holds now: what this write stored, or (a conflict, a delete) nothing this process knows.
                local_cache.end_write(flight, stored, plan["ttl_seconds"] * 1000)
                if stored is None:
                    local_cache.forget(key)
            if result.written:
                self.index.after_write(key, plan["ttl_seconds"] if sealed else None)
                if stored is None:
                    return WriteResult("deleted", first)
                return WriteResult("stored", first, stored, merged)
            assert result.current is not None
            theirs = interpret(self.context, key, result.current)
            drop = self._reason_to_drop(partition, base, theirs, owner, attempt)
            if drop is not None:
                reason, message = drop
                self.context.metrics.dropped(reason)
                if message:
                    settings.logger.warning(f'msal-redis-cache: partition "{key}" not stored: {message}')
                return WriteResult("dropped", first)
            # Nothing readable stored (a tombstone that expired, a foreign or corrupt value): replace it.
            if theirs.body is not None:
                mine = plan["cache"] if plan["has_tokens"] else EMPTY_CACHE
                assert theirs.created_at is not None
                self.context.metrics.merge()
                created_at = theirs.created_at
                plan = core.plan_merge_write(base.body, mine, theirs.body,
                                             self._request(partition, allowed, created_at))
                merged = True
                owner = owner if owner is not None else theirs.owner
            base = theirs
            self.context.metrics.retry()
            if attempt >= BACKOFF_AFTER_ATTEMPT:
                time.sleep(random.random() * BACKOFF_MS_PER_ATTEMPT * attempt / 1000)
        raise AssertionError("unreachable")

    def remove(self, key: str) -> bool:
        """Tombstones a partition (sign-out) whatever it holds. True when it held a partition. Fails closed; where
        the master has replicas, also when none confirms the tombstone in time (sign_out_replicas, replica_wait.py)."""
        settings = self.context.settings
        try:
            now = self.context.now()
            sealed = tombstone(settings.keyring, key, now, now + settings.tombstone_seconds)
            wait = self.replica_wait
            # WAIT counts the writes of its own connection: the tombstone's goes through the one WAIT is sent on.
            with wait.held(key) if wait is not None else nullcontext() as connection:
                result = self.context.store.compare_and_set(key, "*", sealed.value, settings.tombstone_seconds,
                                                            connection)
                self.index.after_write(key, None)
                # Over nothing (no partition, no earlier tombstone: a session that never signed in, as regenerate()
                # at sign-in destroys), a failover that lost this tombstone would bring nothing back: no wait, so
                # that a slow replica cannot fail a sign-in.
                if wait is not None and result.replaced != "":
                    wait.confirm(connection, key)
            return result.replaced == PARTITION
        finally:
            if self.context.local_cache is not None:
                self.context.local_cache.forget(key)  # signed out here, whatever Redis said: never serve it again

    @staticmethod
    def _reason_to_drop(partition: Partition, base: LoadedPartition, theirs: LoadedPartition,
                        owner: Optional[str], attempt: int) -> Optional[Tuple[str, str]]:
        """Why a write that lost its compare-and-set must not be retried: (reason for metrics, warning; "" when it
        needs none); None to merge and retry."""
        if theirs.removed or (theirs.etag == "" and base.body is not None):
            return "removed", ""  # removed meanwhile: signed out, or deleted or expired after this request loaded it
        if partition.mode == "session" and owner and theirs.owner and theirs.owner != owner:
            return "other_account", "the session now belongs to another account"
        if attempt >= MAX_WRITE_ATTEMPTS:
            return "conflicts", f"still conflicting after {attempt} attempts (other servers keep writing it)"
        return None

    def _request(self, partition: Partition, allowed: List[str], created_at: int) -> Dict[str, Any]:
        settings = self.context.settings
        return {"allowed": allowed, "kind": partition.kind, "now": self.context.now(),
                "skew_seconds": settings.skew_seconds, "sliding_seconds": settings.sliding_seconds,
                "absolute_seconds": settings.absolute_seconds, "created_at": created_at,
                "max_bytes": settings.max_value_bytes}
