"""A sign-out must survive a failover: js/redis/replica-wait.js's rules for redis-py. Redis replicates asynchronously:
a tombstone the master acknowledged but had not yet sent to a replica is lost if that master dies and the replica is
promoted, and the partition it removed comes back. So where the deployment has replicas, a tombstone is acknowledged
only once WAIT says that at least `replicas` of them hold it, within `timeout_ms`; otherwise the sign-out fails
closed (a CacheStoreError: the tombstone is written on the master, but nobody is told they are signed out until a
replica has it too). A tombstone over nothing waits for no replica (partition_writer.py).

  - WAIT counts the replicas that acknowledged every write *of the connection it runs on*. redis-py sends each
    command on any connection of its pool, so the tombstone's compare-and-set and its WAIT run on one connection
    checked out of the pool for both (`held`). Not a pipeline of the two: whether to wait at all depends on the
    script's reply (what the tombstone replaced). WAIT and INFO are sent without redis-py's health check, the one
    thing that could reconnect the connection between the write and them (a reconnect to a new master would answer
    at once for writes it never saw); any error on the way fails the sign-out.
  - WAIT blocks only that connection: the app's other commands use the pool's others, and each sign-out waits at
    most one `timeout_ms` (Node's clients multiplex one connection, so Node shares WAITs; nothing to share here).
  - replicas "auto": wait for one replica when the master says it has one (INFO replication on the write's
    connection, read again every AUTO_REFRESH_SECONDS and after a WAIT fell short), none when it has none (a
    standalone Redis: no cost at all).
"""

from __future__ import annotations

import math
import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, Optional, Union

from .errors import CacheStoreError, ConfigurationError
from .redis_guard import RedisGuard

DEFAULT_SIGN_OUT_REPLICAS = {"replicas": "auto", "timeout_ms": 200}
AUTO_REFRESH_SECONDS = 5.0

Policy = Dict[str, Any]  # {"replicas": "auto" | a positive int, "timeout_ms": a positive int}


def sign_out_replicas_option(value: Union[bool, Dict[str, Any], None], client: Any,
                             command_timeout_ms: int) -> Union[Policy, bool]:
    """The checked option: False (never wait) or the policy, by Node's signOutReplicas rules (js/options.js); and
    below the client's socket_timeout, or WAIT would end as a socket timeout."""
    if value is False:
        return False
    if value is None:  # as an option set to undefined in Node: the default
        value = {}
    if not isinstance(value, dict):
        raise ConfigurationError('sign_out_replicas must be False or {"replicas": "auto" or a number (0: off), '
                                 '"timeout_ms": ...}')
    unknown = sorted(set(value) - set(DEFAULT_SIGN_OUT_REPLICAS))
    if unknown:
        raise ConfigurationError(f"unknown sign_out_replicas option(s): {', '.join(unknown)}")
    socket_timeout = _socket_timeout_ms(client)
    # The default shrinks with a short command_timeout_ms or socket_timeout (a quarter of it), so that it always fits.
    default_timeout = max(1, min(DEFAULT_SIGN_OUT_REPLICAS["timeout_ms"], math.floor(command_timeout_ms / 4),
                                 math.floor((socket_timeout or command_timeout_ms) / 4)))
    policy = {**DEFAULT_SIGN_OUT_REPLICAS, "timeout_ms": default_timeout,
              **{name: given for name, given in value.items() if given is not None}}
    replicas, timeout_ms = policy["replicas"], policy["timeout_ms"]
    if replicas == 0:
        return False
    if replicas != "auto" and not _positive_integer(replicas):
        raise ConfigurationError('sign_out_replicas["replicas"] must be "auto" or a positive integer (0: off)')
    if not _positive_integer(timeout_ms):
        raise ConfigurationError('sign_out_replicas["timeout_ms"] must be a positive integer')
    if timeout_ms * 2 >= command_timeout_ms:
        raise ConfigurationError(f'sign_out_replicas["timeout_ms"] ({timeout_ms}) must be below half of '
                                 f"command_timeout_ms ({command_timeout_ms}), as in Node")
    if socket_timeout is not None and timeout_ms >= socket_timeout:
        raise ConfigurationError(f'sign_out_replicas["timeout_ms"] ({timeout_ms}) must be below the redis client\'s '
                                 f"socket_timeout ({socket_timeout:g} ms): WAIT would end as a socket timeout")
    if not can_wait(client) and replicas != "auto":
        raise ConfigurationError("sign_out_replicas: this redis client has no connection pool to hold the write's "
                                 "connection for WAIT (redis.Redis has); use sign_out_replicas=False")
    return policy  # without a pool, "auto" does not wait: ReplicaWait.for_client says so once


def can_wait(client: Any) -> bool:
    """Whether the client lets a connection be held for the write and its WAIT (redis.Redis and Sentinel's
    master_for clients do; a RedisCluster does not)."""
    pool = getattr(client, "connection_pool", None)
    return callable(getattr(pool, "get_connection", None)) and callable(getattr(pool, "release", None))


def _positive_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _socket_timeout_ms(client: Any) -> Optional[float]:
    get_kwargs = getattr(client, "get_connection_kwargs", None)  # as options.py reads it
    seconds = (get_kwargs() if callable(get_kwargs) else {}).get("socket_timeout")
    return seconds * 1000 if isinstance(seconds, (int, float)) and seconds > 0 else None


def connected_replicas(info: bytes) -> int:
    """The replicas a master counts (INFO replication), as js/redis/driver.js's connectedReplicas; 0 on a replica."""
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    if not re.search(r"^role:master\r?$", text, re.M):
        return 0
    found = re.search(r"^connected_slaves:(\d+)\r?$", text, re.M)
    return int(found.group(1)) if found else 0


class SignOutNotConfirmed(CacheStoreError):
    """Redis answered, with fewer replicas than asked: the tombstone is on the master only."""


class ReplicaWait:
    def __init__(self, client: Any, policy: Policy, guard: RedisGuard,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.policy = policy
        self.guard = guard  # Redis calls behind the breaker; fewer replicas than asked is an answer, not a failure
        self.clock = clock
        self._lock = threading.Lock()
        self._replicas = 0
        self._replicas_at: Optional[float] = None  # when INFO was read; None: read it at the next sign-out

    @classmethod
    def for_client(cls, client: Any, policy: Union[Policy, bool], guard: RedisGuard,
                   logger: Any) -> Optional["ReplicaWait"]:
        """The ReplicaWait of a RedisTokenCache, or None when its sign-outs do not wait."""
        if not policy:
            return None
        if not can_wait(client):
            logger.warning(f"msal-redis-cache: {type(client).__name__} has no connection pool to hold a sign-out's "
                           "connection for WAIT: sign-outs do not wait for a replica (sign_out_replicas)")
            return None
        assert isinstance(policy, dict)
        return cls(client, policy, guard)

    @contextmanager
    def held(self, key: str) -> Iterator[Any]:
        """A connection of the client's pool, held for a tombstone's write and its WAIT. One that saw anything but a
        complete answer is closed before it goes back (a reply may still be on its way)."""
        pool = self.client.connection_pool
        connection = self.guard.run("connection", key, lambda: pool.get_connection("EVALSHA"))
        clean = False
        try:
            yield connection
            clean = True
        except SignOutNotConfirmed:
            clean = True
            raise
        finally:
            if not clean:
                connection.disconnect()
            pool.release(connection)

    def confirm(self, connection: Any, key: str) -> None:
        """After the tombstone's write on `connection`: returns once enough replicas hold it; otherwise raises
        SignOutNotConfirmed (a CacheStoreError) saying that the tombstone is on the master only."""
        wanted = self._wanted(connection, key)
        if wanted == 0:
            return
        timeout_ms = self.policy["timeout_ms"]
        acked = int(self.guard.run("WAIT", key, lambda: _send(connection, "WAIT", wanted, timeout_ms)))
        if acked < wanted:
            with self._lock:
                self._replicas_at = None  # "auto": ask the master again next time (a replica may have gone)
            raise SignOutNotConfirmed(
                f'sign-out of "{key}" not confirmed: {acked} of {wanted} replica(s) acknowledged it within '
                f"{timeout_ms} ms. The tombstone is written on the Redis master, but a failover now could lose it "
                "and bring the partition back, so the sign-out is not reported done; try it again (sign_out_replicas)")

    def _wanted(self, connection: Any, key: str) -> int:
        """How many replicas this tombstone waits for: the policy's number, or for "auto" 1 when the master has any."""
        replicas = self.policy["replicas"]
        if replicas != "auto":
            return int(replicas)
        now = self.clock()
        with self._lock:
            fresh = self._replicas_at is not None and now - self._replicas_at < AUTO_REFRESH_SECONDS
            count = self._replicas
        if not fresh:
            count = connected_replicas(self.guard.run("INFO", key, lambda: _send(connection, "INFO", "replication")))
            with self._lock:
                self._replicas, self._replicas_at = count, now
        return 1 if count > 0 else 0


def _send(connection: Any, *command: Any) -> Any:
    """One command on the held connection, without the health check that could reconnect it first."""
    connection.send_command(*command, check_health=False)
    return connection.read_response()
