"""The msal-python side: a SerializableTokenCache that is one Redis partition. It reads its partition when it is
created (the request's start: the version every write of it is based on, so a sign-out in between wins), serves
msal's reads (find) from memory, and hands every change msal makes (add, and modify: update, remove) to the partition
writer (compare-and-set against what was loaded, three-way merge on conflict, tombstones respected), as the Node
plugin (js/msal/redis-cache-plugin.js) does around msal-node's cache accesses. Create one per request, with
RedisTokenCache.cache_for(...).

Used as a context manager (`with tokens.cache_for(...) as cache:`), it writes once, when the block ends: the request
scope of the design documents' _load_cache()/_save_cache(). msal-python 1.21 changes the cache twice per refresh
(add(), then update_rt() through modify()), and each write is a compare-and-set of the whole partition; the block
stores both changes (and any others msal made in it) in one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set

import msal

from .errors import ConfigurationError
from .msal_python_format import to_msal_python, to_stored, use_environment, use_stored_keys
from .partition_reader import LoadedPartition, load_partition
from .partitions import Partition

if TYPE_CHECKING:  # pragma: no cover
    from .redis_token_cache import Shared

# A load this recent is the base of the next write, and what reads are served from; an older one (a cache object kept
# longer than a request) is read again first. The Node plugin's REUSE_LOAD_MS.
REUSE_LOAD_SECONDS = 10.0


def home_account_ids(cache: Dict[str, Any]) -> Set[str]:
    """Home account ids of everything in an msal-python in-memory cache ("" for app tokens is left out)."""
    ids: Set[str] = set()
    for section in cache.values():
        if isinstance(section, dict):
            for entry in section.values():
                if isinstance(entry, dict) and isinstance(entry.get("home_account_id"), str) and entry["home_account_id"]:
                    ids.add(entry["home_account_id"])
    return ids


class PartitionTokenCache(msal.SerializableTokenCache):
    """msal-python's SerializableTokenCache whose contents are one partition in Redis. Pass it as
    ``ConfidentialClientApplication(..., token_cache=...)``; it loads and stores itself."""

    def __init__(self, shared: "Shared", partition: Partition) -> None:
        super().__init__()
        use_stored_keys(self)  # msal-python updates and removes entries under the keys they are stored with
        self._shared = shared
        self._partition = partition
        self.key = shared.settings.prefix + partition.partition_key
        # A session partition belongs to one account: the one loaded, else the first signed in through it.
        self._owner: Optional[str] = None
        self._redis_failed = False  # a Redis call of this cache failed: later ones do not wait on Redis again
        self._in_add = False  # add() writes once, after the modify() calls it makes
        self._scoped = False  # inside a `with` block: changes are written when it ends
        # A change msal made inside the block, not yet written. Memory then holds it: no reload may replace memory
        # until it is written (the write stays based on the load it was made on, and merges with what Redis holds).
        self._unwritten = False
        self._loaded = LoadedPartition("")
        self._loaded_at = 0.0
        # The host msal-python's app uses (its authority's), which it looks entries up and writes them under; learnt
        # from its first call that names one (_learn_environment). None until then: memory is as stored.
        self._environment: Optional[str] = None
        self._load()

    @property
    def partition(self) -> Partition:
        return self._partition

    def __enter__(self) -> "PartitionTokenCache":
        with self._lock:
            if self._scoped:
                raise ConfigurationError(
                    f'the token cache of partition "{self.key}" is already inside a "with" block: enter it once per '
                    "request (create one cache per request with RedisTokenCache.cache_for)"
                )
            self._scoped = True
        return self

    def __exit__(self, *exc: object) -> None:
        """Writes what msal changed in the block, in one compare-and-set; also when the block raised (the tokens were
        obtained: the identity provider may have rotated the refresh token already). With write_failure "closed", a
        failed write raises CacheStoreError here (chained to the block's exception, if any)."""
        with self._lock:
            self._scoped = False
            if self._unwritten:
                self._unwritten = False
                self._write()

    def _clock(self) -> float:
        return self._shared.settings.clock()

    def _load(self) -> None:
        """Reads the partition and makes it exactly msal's memory."""
        started = self._clock()
        loaded = load_partition(self._shared.context, self.key, offline=self._redis_failed)
        self._use(loaded, started)

    def _use(self, loaded: LoadedPartition, loaded_at: float) -> None:
        if loaded.offline:
            self._redis_failed = True
        if self._partition.mode == "session" and loaded.owner is not None:
            if self._owner is not None and loaded.owner != self._owner:
                self._shared.settings.logger.warning(
                    f'msal-redis-cache: ignoring cache partition "{self.key}" (a cache miss): it belongs to another '
                    "account"
                )
                loaded = LoadedPartition(loaded.etag, created_at=loaded.created_at)
            else:
                self._owner = loaded.owner
        self._loaded, self._loaded_at = loaded, loaded_at
        self._cache = self._memory_of(loaded)
        self.has_state_changed = False

    def _memory_of(self, loaded: LoadedPartition) -> Dict[str, Any]:
        """msal-python's memory of a loaded partition: from the in-process cache a copy of the one parsed at its first
        hit (msal-python changes it in place), else parsed from the JSON."""
        app_tokens = self._partition.mode == "app"
        if loaded.entry is None:
            return to_msal_python(loaded.body, app_tokens, self._environment) if loaded.body else {}
        memory = loaded.entry.memory(lambda body: to_msal_python(body, app_tokens))
        if self._environment:
            use_environment(memory, self._environment)
        return memory

    def _fresh(self) -> bool:
        return self._clock() - self._loaded_at < REUSE_LOAD_SECONDS

    def _learn_environment(self, environment: Any) -> None:
        """msal-python names its authority's host in the first lookup or add of every flow (get_accounts, the access
        token and app token lookups, a token response); the lookups under the cloud's other aliases that
        acquire_token_silent makes after a failed refresh come later. From then on memory holds the entries of that
        cloud under this host, so msal-python finds what msal-node stored under login.windows.net, and those alias
        lookups find nothing (as with a cache msal-python alone wrote) instead of refreshing once per alias."""
        if self._environment is None and isinstance(environment, str) and environment:
            self._environment = environment
            use_environment(self._cache, environment)

    def find(self, credential_type: str, target: Optional[List[str]] = None, query: Optional[Dict[str, Any]] = None
             ) -> List[Dict[str, Any]]:
        with self._lock:
            if query:
                self._learn_environment(query.get("environment"))
            if not self._in_add and not self._unwritten and not self._fresh():
                self._load()
            return super().find(credential_type, target=target, query=query)

    def add(self, event: Dict[str, Any], **kwargs: Any) -> None:
        with self._lock:
            self._learn_environment(event.get("environment"))
            self._before_write()
            self._in_add = True
            try:
                super().add(event, **kwargs)
            finally:
                self._in_add = False
            self._after_write()

    def modify(self, credential_type: str, old_entry: Dict[str, Any],
               new_key_value_pairs: Optional[Dict[str, Any]] = None) -> None:
        with self._lock:
            if self._in_add:
                super().modify(credential_type, old_entry, new_key_value_pairs)
                return
            self._before_write()
            super().modify(credential_type, old_entry, new_key_value_pairs)
            self._after_write()

    def _before_write(self) -> None:
        """A write of a cache kept past REUSE_LOAD_SECONDS reads first; a sign-out since the last load still wins:
        the write stays based on that load, so its compare-and-set finds the tombstone and drops it. Not while a
        change waits for the end of a `with` block: memory holds it, and the write merges with what Redis holds."""
        if not self._unwritten and not self._fresh():
            previous = self._loaded
            started = self._clock()
            loaded = load_partition(self._shared.context, self.key, offline=self._redis_failed)
            if loaded.removed and loaded.etag != previous.etag:
                loaded = previous
            self._use(loaded, started)

    def _after_write(self) -> None:
        if self._scoped:
            self._allowed()  # a new session partition still belongs to the first account signed in through it
            self._unwritten = True
            return
        self._write()

    def _write(self) -> None:
        allowed = self._allowed()
        if not allowed:
            self._warn_foreign(sorted(home_account_ids(self._cache)))
            return
        result = self._shared.writer.write(
            key=self.key, partition=self._partition, allowed=allowed,
            owner=self._owner if self._partition.mode == "session" else None, loaded=self._loaded,
            cache=to_stored(self._cache, self._partition.assertion_hash), offline=self._redis_failed)
        self.has_state_changed = False
        if result.outcome == "failed":
            self._redis_failed = True
        if result.stored is not None:
            # The base of the next write is what was just stored; after a merge, memory takes the other writer's
            # tokens too.
            if result.merged:
                self._use(result.stored, self._clock())
            else:
                self._loaded, self._loaded_at = result.stored, self._clock()
        else:
            self._loaded_at = 0.0  # removed, dropped or deleted: the next access reads what Redis holds
        plan = result.plan
        self._warn_foreign([id for id in plan["dropped_home_account_ids"] if id not in plan["home_account_ids"]])

    def _allowed(self) -> List[str]:
        if self._partition.allowed is not None:
            return self._partition.allowed
        if self._owner is None:
            # Claim the session for the account signed in through it; with several candidates nobody can tell
            # which one is this session's user, so none is stored.
            candidates = home_account_ids(self._cache)
            if len(candidates) == 1:
                [self._owner] = candidates
        return [] if self._owner is None else [f"account:{self._owner}"]

    def _warn_foreign(self, ids: List[str]) -> None:
        if ids:
            self._shared.settings.logger.warning(
                f'msal-redis-cache: refused to store {len(ids)} account(s) that do not belong to partition '
                f'"{self.key}". Create one cache per request and partition (RedisTokenCache.cache_for).'
            )
