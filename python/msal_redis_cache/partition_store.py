"""Redis access for token-cache partitions, as js/storage/partition-store.js: a read (GETRANGE and PTTL, pipelined: one
round trip, no script, which would cost Redis some 40 µs more per read) and a compare-and-set write (one Lua script
on one key: EVALSHA, and the script itself after NOSCRIPT). The version a compare-and-set checks is the etag in the
value's header: "" for a missing key, "!foreign" for anything this package did not write. A read transfers at most
max_value_bytes + 1 bytes; a key of another type is reported (GETRANGE refuses it: WRONGTYPE)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Union

import redis as redis_py

from .redis_guard import RedisGuard
from .scripts import COMPARE_AND_SET, Script

ABSENT = ""
FOREIGN = "!foreign"
_ETAG = re.compile(rb"^mrc2 [cst] ([A-Za-z0-9_-]{16}) ")


def etag_of(value: Optional[bytes]) -> str:
    """The etag of a raw value exactly as the scripts compute it."""
    if value is None:
        return ABSENT
    match = _ETAG.match(value[:32])
    return match.group(1).decode("ascii") if match else FOREIGN


def _text(value: Union[bytes, str, int]) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


@dataclass
class StoredState:
    """What a key holds, from a read or a compare-and-set's conflict reply."""

    etag: str  # the version a compare-and-set of this state must name
    value: Optional[bytes] = None  # None when there is no usable value (see problem)
    problem: Optional[str] = None  # why the value was not transferred ("holds a Redis hash", ...)
    ttl_ms: int = 0


def state_of(reply: List[Any]) -> StoredState:
    status, etag = _text(reply[0]), _text(reply[1])
    state = StoredState(etag)
    if status == "value":
        state.value, state.ttl_ms = bytes(reply[2]), int(reply[3])
    elif status == "type":
        state.problem = f"holds a Redis {_text(reply[2])}, not a string"
    elif status == "size":
        state.problem = f"value is {reply[2]} bytes, over max_value_bytes"
    return state


@dataclass
class WriteReply:
    written: bool
    replaced: str = ""  # the type of the value a write replaced ("c", "s", "t", or "")
    current: Optional[StoredState] = None  # on a conflict: what is stored now


def run_script(guard: RedisGuard, client: "redis_py.Redis", command: str, script: Script, key: str,
               args: Sequence[Any], connection: Any = None) -> Any:
    """EVALSHA, then the script itself when Redis does not have it (after a restart or a failover), as one call of
    the guard (`command`: what it does, for messages; metrics name the script). With `connection` (one held out of the
    client's pool: replica_wait.py), on it."""
    def send(name: str, *arguments: Any) -> Any:
        if connection is None:
            return getattr(client, name.lower())(*arguments)
        connection.send_command(name, *arguments)
        return connection.read_response()

    def call() -> Any:
        try:
            return send("EVALSHA", script.sha, 1, key, *args)
        except redis_py.exceptions.NoScriptError:
            return send("EVAL", script.lua, 1, key, *args)
    return guard.run(command, key, call, script.name)


class PartitionStore:
    def __init__(self, client: "redis_py.Redis", max_value_bytes: int, guard: RedisGuard) -> None:
        self.redis = client
        self.max_value_bytes = max_value_bytes
        self.guard = guard

    def read(self, key: str) -> StoredState:
        return self.guard.run("GET", key, lambda: self._read(key), "read")

    def _read(self, key: str) -> StoredState:
        pipe = self.redis.pipeline(transaction=False)
        pipe.getrange(key, 0, self.max_value_bytes)
        pipe.pttl(key)
        value, pttl = pipe.execute(raise_on_error=False)
        if isinstance(value, redis_py.exceptions.ResponseError) and str(value).startswith("WRONGTYPE"):
            return StoredState(FOREIGN, problem=f"holds a Redis {_text(self.redis.type(key))}, not a string")
        for reply in (value, pttl):
            if isinstance(reply, Exception):
                raise reply
        # PTTL -2: no key (also when it went between the two commands; -1: it has no TTL).
        if pttl == -2:
            return StoredState(ABSENT)
        value = bytes(value)
        if len(value) > self.max_value_bytes:
            return StoredState(etag_of(value), problem=f"value is {self.redis.strlen(key)} bytes, over max_value_bytes")
        return StoredState(etag_of(value), value, None, int(pttl))

    def etag(self, key: str) -> str:
        """The version `key` holds (its header's first 32 bytes): how the in-process cache confirms a copy."""
        return self.guard.run("GETRANGE", key, lambda: self._etag(key), "confirm")

    def _etag(self, key: str) -> str:
        pipe = self.redis.pipeline(transaction=False)
        pipe.getrange(key, 0, 31)
        pipe.exists(key)
        head, exists = pipe.execute()
        return etag_of(bytes(head) if exists else None)

    def compare_and_set(self, key: str, expected_etag: str, value: Optional[bytes], ttl_seconds: int,
                        connection: Any = None) -> WriteReply:
        """Stores `value` (or deletes the key when it is None) if the key still holds the version `expected_etag`
        ("*": whatever it holds); on `connection` when given (a sign-out that waits for replicas)."""
        args = [expected_etag, value or b"", ttl_seconds if value else 0, self.max_value_bytes]
        reply = run_script(self.guard, self.redis, "SET", COMPARE_AND_SET, key, args, connection)
        if _text(reply[0]) == "written":
            return WriteReply(True, replaced=_text(reply[1]))
        return WriteReply(False, current=state_of(reply))
