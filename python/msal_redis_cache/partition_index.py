"""The indexes the admin operations read (Node's signOutEverywhere, clearAppTokens, countPartitions), written exactly
as js/admin/partition-index.js writes them, so that they find the partitions Python servers create:
    <prefix>index:user:<h>      the session, account and on-behalf-of partitions of one home account id
    <prefix>index:app:<h>       the app (client-credential) partitions of one client id
    <prefix>index:obo:<h>       the on-behalf-of partitions of one client id
    <prefix>index:count:<kind>  every partition of one kind, for countPartitions
<h> is the keyring's HMAC of the id; members are partition keys without the prefix; scores the epoch second until which
that partition may exist. A partition joins its membership indexes BEFORE the compare-and-set that creates it (when
that fails, the write is not sent). The counts follow every write in the background, coalesced (count_updates.py: a
gauge, never awaited).
Left to Node: the pruning of large indexes and the per-user cap (js/admin/partition-index.js #maintain); ADD itself drops
members whose score is past, so an index Python alone writes still stays bounded by the partitions' lifetime."""

from __future__ import annotations

import math
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from .count_updates import CountUpdates, Update
from .errors import CacheStoreError
from .keyring import Keyring
from .options import Settings
from .partition_reader import LoadedPartition
from .partition_store import run_script
from .partitions import PARTITION_KEY_KINDS, Partition
from .redis_guard import RedisGuard
from .scripts import INDEX_ADD, INDEX_PRUNE

# Scores of the membership indexes are this much later than the partition's expiry (see js/admin/partition-index.js).
MARGIN_SECONDS = 3600
# Members per Redis call when an index is read or pruned (js/admin/partition-index.js's PAGE).
PAGE = 500

# (member, score, key): key is the member with the prefix.
Member = Tuple[str, float, str]


class PartitionIndex:
    def __init__(self, settings: Settings, guard: RedisGuard) -> None:
        self.settings = settings
        self.redis = settings.redis
        self.guard = guard
        self.prefix = settings.prefix
        self.keyring: Keyring = settings.keyring
        self._counts = CountUpdates(self._send_counts, settings.logger.warning)

    def now(self) -> int:
        return int(self.settings.clock())

    def user_key(self, home_account_id: str) -> str:
        return f"{self.prefix}index:user:{self.keyring.name('user', home_account_id)}"

    def client_key(self, kind: str, client_id: str) -> str:
        """kind: "app" or "obo"."""
        return f"{self.prefix}index:{kind}:{self.keyring.name('client', client_id)}"

    def count_key(self, kind: str) -> str:
        return f"{self.prefix}index:count:{kind}"

    def before_store(self, partition: Partition, allowed: List[str], base: LoadedPartition, ttl_seconds: int,
                     home_account_ids: List[str], created_at: int) -> None:
        """Adds a partition to the indexes before the write that may create it. Only a write that creates a user
        partition adds it; each write of an app partition moves its score. Raises CacheStoreError when an index
        cannot be written: the partition must then not be written either."""
        now = self.now()
        creating = base.body is None or base.etag == ""
        user_bound = max(created_at, now) + self.settings.absolute_seconds + MARGIN_SECONDS
        indexes: List[Tuple[str, int]] = []
        if partition.mode == "app":
            assert partition.client_id is not None
            indexes = [(self.client_key("app", partition.client_id), now + ttl_seconds + MARGIN_SECONDS)]
        elif creating and partition.mode == "obo":
            assert partition.client_id is not None
            users = [(self.user_key(id), user_bound) for id in home_account_ids if id]
            indexes = [(self.client_key("obo", partition.client_id), user_bound), *users]
        elif creating:
            indexes = [(self.user_key(id[len("account:"):]), user_bound) for id in allowed]
        for key, score in indexes:
            try:
                self._add(key, partition.partition_key, score, now, "max")
            except CacheStoreError as error:
                raise CacheStoreError(
                    f'partition "{self.prefix}{partition.partition_key}" not stored: it could not be added to its '
                    f"index ({error})"
                ) from error

    def after_write(self, key: str, ttl_seconds: Optional[int]) -> None:
        """Keeps the count of a partition's kind after a write: `ttl_seconds` for a stored partition, None for one
        removed or deleted. Noted for the background thread (count_updates.py): it never delays or fails the write."""
        member = key[len(self.prefix):]
        kind = member[: member.find(":")]
        if not key.startswith(self.prefix) or kind not in PARTITION_KEY_KINDS:
            return
        update: Update = None  # removed
        if ttl_seconds is not None:
            ttl = max(1, ttl_seconds)
            update = (self.now() + ttl, ttl)
        self._counts.note(self.count_key(kind), member, update)

    def settle(self) -> None:
        """Sends the count updates noted and waits for them."""
        self._counts.settle()

    def close(self) -> None:
        """settle(), and the count updates' thread stops (a later write starts it again)."""
        self._counts.close()

    def pages(self, index_key: str) -> Iterator[List[Member]]:
        """The members of an index that may still exist, oldest first, PAGE at a time; walked by score and the number
        already seen at the last score, as js/admin/partition-index.js's pages(), so that members pruned between pages
        never make it skip one."""
        low, seen_at_low = self.now(), 0
        while True:
            reply = self.guard.run("ZRANGE", index_key, lambda: self.redis.execute_command(
                "ZRANGE", index_key, low, "+inf", "BYSCORE", "LIMIT", seen_at_low, PAGE, "WITHSCORES"))
            page = [(self._text(reply[i]), float(reply[i + 1]), self.prefix + self._text(reply[i]))
                    for i in range(0, len(reply), 2)]
            if page:
                yield page
            if len(page) < PAGE:
                return
            last = page[-1][1]
            seen_at_low = (seen_at_low if last == low else 0) + sum(1 for member in page if member[1] == last)
            low = last

    def prune(self, index_key: str, removed: Sequence[Member], checked: Sequence[Member]) -> None:
        """Drops members whose partition can no longer be live: `removed` were tombstoned; `checked` were found
        missing, and only those that joined over MARGIN_SECONDS ago go; each only while its score is the one read."""
        settled = self.now() + self.settings.absolute_seconds
        members = [*removed, *(member for member in checked if member[1] <= settled)]
        for start in range(0, len(members), PAGE):
            args: List[str] = []
            for member, score, _ in members[start:start + PAGE]:
                args += [member, _score_text(score)]
            run_script(self.guard, self.redis, "ZREM", INDEX_PRUNE, index_key, args)

    @staticmethod
    def _text(value: object) -> str:
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    def _send_counts(self, count_key: str, members: Dict[str, Update]) -> None:
        """One count index's updates, as js/admin/count-updates.js countCommands sends them: plain commands in one
        round trip (a Lua call would cost Redis far more on every write): the members stored (score: their expiry) and
        removed; members past their score go; the key lives as long as its latest member (EXPIRE NX gives a new key a
        TTL, GT only lengthens it)."""
        stored = {member: update for member, update in members.items() if update is not None}
        removed = [member for member, update in members.items() if update is None]
        pipe = self.redis.pipeline(transaction=False)
        if stored:
            pipe.zadd(count_key, {member: score for member, (score, _) in stored.items()})
        if removed:
            pipe.zrem(count_key, *removed)
        pipe.zremrangebyscore(count_key, "-inf", f"({self.now()}")
        if stored:
            ttl = max(ttl for _, ttl in stored.values())
            pipe.expire(count_key, ttl, nx=True)
            pipe.expire(count_key, ttl, gt=True)
        self.guard.run("ZADD" if stored else "ZREM", count_key, pipe.execute, "index_count")

    def _add(self, key: str, member: str, score: float, now: int, mode: str) -> int:
        return int(run_script(self.guard, self.redis, "ZADD", INDEX_ADD, key, [member, math.ceil(score), now, mode]))


def _score_text(score: float) -> str:
    """A score as Redis writes it (ZSCORE's reply), for INDEX_PRUNE's comparison: scores are whole seconds."""
    return str(int(score)) if float(score).is_integer() else repr(score)
