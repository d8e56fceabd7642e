"""The package's entry point, as js/redis-token-cache.js: one RedisTokenCache per app (it holds the Redis client, the
keys and the policy), and from it one token cache per request, bound to that request's partition."""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

from . import core
from .admin_operations import sign_out_everywhere
from .errors import CacheFormatError, CacheStoreError
from .invalidation_listener import InvalidationListener
from .local_cache import LocalCache
from .options import Settings, normalize_options
from .partition_index import PartitionIndex
from .partition_reader import Context, LoadedPartition, load_partition
from .partition_store import PartitionStore
from .partition_writer import PartitionWriter
from .partitions import Partition, resolve_partition
from .redis_guard import RedisGuard
from .token_cache import PartitionTokenCache


@dataclass
class Shared:
    """What every token cache of one RedisTokenCache uses."""

    settings: Settings
    context: Context
    index: PartitionIndex
    writer: PartitionWriter


class RedisTokenCache:
    """A shared MSAL token cache in Redis, partitioned per session, account, tenant (app tokens) or incoming token
    (on-behalf-of), encrypted, expiring, safe with many writers; the same stored format, key names and rules as the
    Node package, so Node and Python servers with the same secrets share partitions.

    Options (the Node package's, in snake_case, same defaults): redis (a redis-py client returning bytes),
    encryption_keys ([current, *previous], 32 bytes each, base64 or bytes), key_name_secret, prefix="msal:",
    sliding_seconds=86400, absolute_seconds=1209600, skew_seconds=300, tombstone_seconds=600,
    max_value_bytes=16 MiB, insecure_plaintext_storage=False, write_failure="open", read_failure="closed", logger (a
    logging.Logger), clock (epoch seconds, time.time), command_timeout_ms=1000 (checked against the client's
    socket timeouts), metrics ({"on_event": callable} or False), local_cache ({max_bytes: 64 MiB, max_entries: 10000,
    stale_if_error_seconds: 300} or False: the in-process cache of partitions, kept coherent by Redis's
    invalidations; off on a Redis Cluster), sign_out_replicas={"replicas": "auto", "timeout_ms": 200} (or False;
    replica_wait.py)."""

    def __init__(self, **options: Any) -> None:
        settings = normalize_options(**options)
        guard = RedisGuard(settings.logger, settings.metrics)
        context = Context(settings, PartitionStore(settings.redis, settings.max_value_bytes, guard))
        topology = _topology(settings.redis)
        # The in-process cache needs a tracking connection of its own, opened from the client's pool; a RedisCluster
        # (one per master, following the slots) is not done in Python: there every read goes to Redis.
        if settings.local_cache is not None and topology != "cluster":
            context.local_cache = LocalCache(**settings.local_cache, clock=settings.clock, metrics=settings.metrics)
            guard.on_answer = context.local_cache.answered
            context.local_cache.client_failing = lambda: guard.in_outage
            context.listener = InvalidationListener(settings.redis, prefix=settings.prefix,
                                                    local_cache=context.local_cache, logger=settings.logger,
                                                    require_master=topology == "sentinel",
                                                    on_tracking=guard.reachable)
            _restart_after_fork(context)
        index = PartitionIndex(settings, guard)
        self.settings = settings
        self._shared = Shared(settings, context, index, PartitionWriter(context, index))

    def cache_for(self, *, session_id: Optional[str] = None, home_account_id: Optional[str] = None,
                  tenant_id: Optional[str] = None, user_assertion: Optional[str] = None,
                  client_id: Optional[str] = None) -> PartitionTokenCache:
        """A new msal.SerializableTokenCache that is the selected partition: pass it as
        ConfidentialClientApplication(..., token_cache=...). Create one per request: it reads the partition now.
        client_id is required for tenant_id (app tokens) and user_assertion (on-behalf-of) partitions. Raises
        CacheStoreError when Redis fails on a session or account partition (read_failure "closed")."""
        return PartitionTokenCache(self._shared, self._partition(session_id, home_account_id, tenant_id,
                                                                 user_assertion, client_id))

    def remove_partition(self, *, session_id: Optional[str] = None, home_account_id: Optional[str] = None,
                         tenant_id: Optional[str] = None, user_assertion: Optional[str] = None,
                         client_id: Optional[str] = None) -> bool:
        """Sign-out: the partition becomes a tombstone for tombstone_seconds, so that no request that loaded it
        earlier can write it back. True when a partition was there. Raises CacheStoreError when Redis fails, or
        when no replica confirms the tombstone within sign_out_replicas' bound."""
        partition = self._partition(session_id, home_account_id, tenant_id, user_assertion, client_id)
        return self._shared.writer.remove(self.settings.prefix + partition.partition_key)

    def sign_out_everywhere(self, home_account_id: str, *, session_store: Any = None) -> int:
        """Signs a user out of every session, their account partition and their on-behalf-of partitions, created by
        Node or Python servers (js/admin/admin-operations.js's signOutEverywhere). With `session_store` (a Flask
        RedisSessionInterface or a RedisSessionStore made with this cache), the sessions of the removed session
        partitions are deleted too. Returns how many partitions held tokens; raises CacheStoreError when Redis
        fails (call again: removing twice is harmless)."""
        store = getattr(session_store, "store", session_store)
        return sign_out_everywhere(self._shared, home_account_id, store)

    def export_partition(self, **selector: Optional[str]) -> Optional[str]:
        """The partition's MSAL cache JSON, decrypted (for tooling, migration, other MSAL libraries), or None."""
        return self._load(**selector)[1].body

    def describe_partition(self, **selector: Optional[str]) -> Optional[Dict[str, Any]]:
        """A secret-free summary of a stored partition (accounts, token kinds, scopes, expiry times), or None."""
        key, loaded = self._load(**selector)
        if loaded.problem:
            raise CacheFormatError(f'partition "{key}" is unreadable: {loaded.problem}')
        if loaded.body is None:
            return None
        return {"key": key, "created_at": loaded.created_at, "stored_bytes": loaded.stored_bytes,
                **core.describe(loaded.body)}

    def import_partition(self, cache_json: Union[str, bytes], *, session_id: Optional[str] = None,
                         home_account_id: Optional[str] = None, tenant_id: Optional[str] = None,
                         user_assertion: Optional[str] = None, client_id: Optional[str] = None) -> str:
        """Stores an MSAL cache JSON as the partition, through the same checks and compare-and-set as every write:
        only what belongs to the partition is kept, expired tokens are swept. A session partition takes the one
        account the cache holds. Returns "stored", "removed" (nothing usable in it), "dropped" or "unchanged"."""
        size = len(cache_json.encode("utf-8") if isinstance(cache_json, str) else cache_json)
        if size > self.settings.max_value_bytes:
            raise CacheFormatError(f"the cache JSON is {size} bytes, over max_value_bytes "
                                   f"({self.settings.max_value_bytes}); not imported")
        partition = self._partition(session_id, home_account_id, tenant_id, user_assertion, client_id)
        key, loaded = self._load_partition(partition)
        allowed, owner = partition.allowed, None
        if partition.mode == "session":
            ids = core.plan_read(cache_json, [])["home_account_ids"]
            if len(ids) != 1:
                raise CacheFormatError(f"a session partition holds exactly one account; this cache holds {len(ids)}")
            [owner] = ids
            if loaded.owner is not None and loaded.owner != owner:
                raise CacheFormatError("the stored session partition belongs to another account")
            allowed = [f"account:{owner}"]
        assert allowed is not None
        return self._shared.writer.write(key=key, partition=partition, allowed=allowed, owner=owner, loaded=loaded,
                                         cache=cache_json).outcome

    def stats(self) -> Dict[str, Any]:
        """Counters and state, for health checks and tests: the in-process cache (hits, misses, stale copies served,
        invalidations, evictions, entries, bytes, coherent: tracking is on) or None when it is off, and the reads
        that Redis failed (stale_reads, failed_reads, missed_reads)."""
        context = self._shared.context
        cache = context.local_cache
        return {
            "local_cache": cache and {**cache.stats, "entries": len(cache.entries), "bytes": cache.bytes,
                                      "coherent": cache.coherent},
            **context.counters,
        }

    def close(self) -> None:
        """Waits for the background count updates and stops the in-process cache's invalidation connection (the
        cache stays usable, reading Redis every time). The app's own Redis client is left open."""
        self._shared.index.close()
        if self._shared.context.listener is not None:
            self._shared.context.listener.close()

    def __enter__(self) -> "RedisTokenCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _partition(self, session_id: Optional[str], home_account_id: Optional[str], tenant_id: Optional[str],
                   user_assertion: Optional[str], client_id: Optional[str]) -> Partition:
        return resolve_partition(self.settings.keyring, client_id, session_id, home_account_id, tenant_id,
                                 user_assertion)

    def _load(self, *, session_id: Optional[str] = None, home_account_id: Optional[str] = None,
              tenant_id: Optional[str] = None, user_assertion: Optional[str] = None,
              client_id: Optional[str] = None) -> "tuple[str, LoadedPartition]":
        return self._load_partition(self._partition(session_id, home_account_id, tenant_id, user_assertion, client_id))

    def _load_partition(self, partition: Partition) -> "tuple[str, LoadedPartition]":
        """A partition as Redis holds it now: tools get an error, not a request's fallback, when Redis fails."""
        key = self.settings.prefix + partition.partition_key
        loaded = load_partition(self._shared.context, key)
        if loaded.offline:
            raise CacheStoreError(f'Redis is unavailable: partition "{key}" could not be read')
        return key, loaded


def _topology(client: Any) -> str:
    """"cluster", "sentinel" (a Sentinel master_for client) or "standalone"."""
    if getattr(client, "connection_pool", None) is None or type(client).__name__ == "RedisCluster":
        return "cluster"
    return "sentinel" if type(client.connection_pool).__name__ == "SentinelConnectionPool" else "standalone"


def _restart_after_fork(context: Context) -> None:
    """A forked worker (gunicorn --preload, multiprocessing) has neither the parent's listener thread nor its
    invalidations: its cache starts suspended and empty, and its own listener starts on first use."""
    if not hasattr(os, "register_at_fork"):
        return
    ref = weakref.ref(context)

    def after_in_child() -> None:
        forked = ref()
        if forked is not None and forked.local_cache is not None and forked.listener is not None:
            forked.local_cache.after_fork()
            forked.listener.restart_after_fork()

    os.register_at_fork(after_in_child=after_in_child)
