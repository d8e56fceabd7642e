"""Operations for operators, not requests, as js/admin/admin-operations.js: signs a user out of every session (and their
account and on-behalf-of partitions) found through the admin indexes (partition_index.py), never by scanning the
keyspace. Node and Python write those indexes alike, so either language's sign_out_everywhere removes what both
created. Removals are the sign-out's tombstones: a write loaded before cannot bring a partition back. Fails closed:
when Redis fails it raises CacheStoreError after removing what it could, and calling again finishes the job."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Set

from .errors import CacheStoreError, ConfigurationError
from .partition_index import Member
from .partition_reader import interpret
from .partitions import resolve_partition

if TYPE_CHECKING:
    from .redis_token_cache import Shared
    from .session_store import RedisSessionStore


def sign_out_everywhere(shared: "Shared", home_account_id: str,
                        session_store: Optional["RedisSessionStore"] = None) -> int:
    """Removes the user's account partition and every session and on-behalf-of partition their index lists; a
    session partition only while it still belongs to them (a session id may have been signed in by another account
    since). With `session_store`, the sessions of the removed session partitions are deleted too. Returns how many
    partitions held tokens."""
    if not isinstance(home_account_id, str) or home_account_id == "":
        raise ConfigurationError("sign_out_everywhere needs the user's home account id")
    if session_store is not None and session_store.tokens._shared is not shared:
        raise ConfigurationError("sign_out_everywhere: session_store must be made with this token cache")
    settings, index, writer = shared.settings, shared.index, shared.writer
    session_prefix = f"{settings.prefix}session:"
    done: Set[str] = set()
    failures: List[CacheStoreError] = []
    held = 0

    def remove(key: str) -> Optional[bool]:
        """True/False: tombstoned (held tokens or not); None: left alone (missing, or another account's)."""
        if not key.startswith(session_prefix):
            return writer.remove(key)
        stored = interpret(shared.context, key, shared.context.store.read(key))
        if stored.body is None and stored.problem is None:
            return False if stored.removed else None
        if stored.owner is not None and stored.owner != home_account_id:
            return None
        removed = writer.remove(key)
        if stored.owner == home_account_id and session_store is not None:
            session_store.delete_session_of_tag(key[len(session_prefix):])
        return removed

    def run(key: str) -> str:
        """"tombstoned", "untouched" or "failed"."""
        nonlocal held
        done.add(key)
        try:
            outcome = remove(key)
        except CacheStoreError as error:
            failures.append(error)
            return "failed"
        held += 1 if outcome else 0
        return "untouched" if outcome is None else "tombstoned"

    account = resolve_partition(settings.keyring, None, home_account_id=home_account_id)
    run(settings.prefix + account.partition_key)  # known without the index: always removed
    user_key = index.user_key(home_account_id)
    removed: List[Member] = []
    checked: List[Member] = []
    for page in index.pages(user_key):
        for member in page:
            if member[2] in done:
                continue
            outcome = run(member[2])
            if outcome == "tombstoned":
                removed.append(member)
            elif outcome == "untouched":
                checked.append(member)
    index.prune(user_key, removed, checked)
    if failures:
        why = str(failures[0]).replace("msal-redis-cache: ", "", 1)
        raise CacheStoreError(f"{len(failures)} of {len(done)} partitions could not be removed (the others were): "
                              f"{why}. Call again once Redis answers: removing twice is harmless.") from failures[0]
    return held
