"""Keeps the in-process cache (local_cache.py) coherent with one Redis server through server-assisted client-side
caching, as js/local-cache/invalidation-listener.js: one dedicated connection turns on `CLIENT TRACKING ON REDIRECT
<itself> BCAST PREFIX <prefix>session: PREFIX <prefix>account: ...` and subscribes to `__redis__:invalidate`, so Redis
tells it about every change (write, delete, expiry) of a partition, whoever made it. RESP2 (redis-py 4.3 has no
RESP3): invalidations arrive as ordinary pub/sub messages.

A daemon thread owns the connection. A lookup first handles the invalidations already received (catch_up), so that a
change this process has heard of (another server's write acknowledged before this request arrived: Redis sends the
invalidation before the writer's reply) is never served from memory while the thread waits for the interpreter. Whenever it is not tracking (connecting, reconnecting, down) the cache is
suspended; after every reconnect (the client id changes) tracking is turned on again, and only then is the cache
resumed. It starts on first use, reconnects with backoff, and never keeps a process alive."""

from __future__ import annotations

import logging
import select
import socket
import threading
from typing import Any, Callable, Optional

from .local_cache import LocalCache
from .partitions import PARTITION_KEY_KINDS

CHANNEL = b"__redis__:invalidate"
RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 2.0
POLL_SECONDS = 0.5  # how often the idle thread looks at close()
SETUP_TIMEOUT_SECONDS = 5.0


class InvalidationListener:
    def __init__(self, client: Any, *, prefix: str, local_cache: LocalCache, logger: logging.Logger,
                 require_master: bool = False, on_tracking: Callable[[], None] = lambda: None) -> None:
        """`client`: the app's redis.Redis (its pool's settings open this connection: host, credentials, TLS, or
        Sentinel's current master). `require_master`: check (INFO replication) that the server is a master before
        tracking on it: a replica reports writes only as it replicates them, and none while its link is down.
        `on_tracking`: called each time tracking is on (Redis answers: the circuit breaker need not wait for a probe)."""
        self.pool = client.connection_pool
        self.prefix = prefix
        self.cache = local_cache
        self.logger = logger
        self.require_master = require_master
        self.on_tracking = on_tracking
        self.tracking = False
        self._thread: Optional[threading.Thread] = None
        self._connection: Any = None
        self._closed = threading.Event()
        self._start_lock = threading.Lock()
        self._read_lock = threading.Lock()  # one reader of the connection at a time: the thread or a catch_up
        self._warned = False

    def start(self) -> None:
        """Connects on first use: a token cache that is never read opens nothing."""
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None and not self._closed.is_set():
                thread = threading.Thread(target=self._run, name="msal-redis-cache-invalidations", daemon=True)
                thread.start()
                self._thread = thread

    def restart_after_fork(self) -> None:
        """In a forked child the parent's thread and socket are not its own: start over (the cache was suspended)."""
        self._thread, self._connection, self.tracking = None, None, False
        self._start_lock, self._read_lock = threading.Lock(), threading.Lock()

    def catch_up(self) -> None:
        """Handles the invalidations that have reached this process (cheap when there are none: one poll)."""
        connection = self._connection
        if connection is None:
            return
        with self._read_lock:
            if connection is not self._connection:
                return
            try:
                self._drain(connection)
            except Exception:  # the thread sees it too, and reconnects: meanwhile nothing is served
                self.tracking = False
                self.cache.suspend()

    def close(self) -> None:
        self._closed.set()
        connection = self._connection
        self._down()
        sock = getattr(connection, "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread's select now; the thread closes it
            except OSError:
                pass
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(POLL_SECONDS * 4)

    def _run(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while not self._closed.is_set():
            connection = None
            try:
                connection = self._open()
                self._track(connection)
                delay = RECONNECT_MIN_SECONDS
                self._listen(connection)
            except Exception as error:  # any failure: down, and try again later
                self._warn(error)
            finally:
                self._down()
                if connection is not None:
                    connection.disconnect()
            self._closed.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def _open(self) -> Any:
        kwargs = dict(self.pool.connection_kwargs)
        # Its own connection, outside the app's pool; replies during setup must not hang it.
        kwargs["socket_timeout"] = SETUP_TIMEOUT_SECONDS
        connection = self.pool.connection_class(**kwargs)
        connection.connect()
        return connection

    def _command(self, connection: Any, *args: Any) -> Any:
        connection.send_command(*args)
        return connection.read_response()

    def _track(self, connection: Any) -> None:
        if self.require_master:
            info = self._command(connection, "INFO", "replication")
            text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
            if "role:master" not in text.split():
                raise ConnectionError("the server is not a master (any more)")
        client_id = self._command(connection, "CLIENT", "ID")
        # Partition keys only: the index keys beside them change on writes too, and nobody caches them.
        prefixes = [arg for kind in PARTITION_KEY_KINDS for arg in ("PREFIX", f"{self.prefix}{kind}:")]
        self._command(connection, "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", *prefixes)
        reply = self._command(connection, "SUBSCRIBE", CHANNEL)
        if not (isinstance(reply, list) and reply[0] == b"subscribe"):
            raise ConnectionError(f"unexpected reply to SUBSCRIBE: {reply!r}")
        if self._closed.is_set():
            return
        self._connection = connection
        self._warned = False
        self.tracking = True
        self.cache.resume()
        self.on_tracking()

    def _listen(self, connection: Any) -> None:
        while not self._closed.is_set():
            # Waits on the socket itself (a read timeout would drop the connection: an idle partition set can be
            # silent for hours), then reads under the lock that catch_up takes.
            sock = connection._sock
            if sock is None:
                raise ConnectionError("the invalidation connection closed")
            select.select([sock], [], [], POLL_SECONDS)
            with self._read_lock:
                if not self.tracking:
                    raise ConnectionError("the invalidation connection failed")
                self._drain(connection)

    def _drain(self, connection: Any) -> None:
        while connection.can_read(timeout=0):
            self._on_message(connection.read_response())

    def _on_message(self, message: Any) -> None:
        # [b"message", channel, [keys...]] or, after FLUSHALL / FLUSHDB, [b"message", channel, None]
        if not isinstance(message, list) or len(message) != 3 or message[0] != b"message" or message[1] != CHANNEL:
            return
        keys = message[2]
        if keys is None:
            self.cache.flush()
            return
        for key in keys if isinstance(keys, list) else [keys]:
            self.cache.invalidate(key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else str(key))

    def _down(self) -> None:
        self.tracking = False
        self._connection = None
        self.cache.suspend()

    def _warn(self, error: Exception) -> None:
        if self._warned or self._closed.is_set():
            return
        self._warned = True
        self.logger.warning(f"msal-redis-cache: the invalidation connection failed ({error}); the in-process cache "
                            "is off until it tracks again; reads go to Redis meanwhile.")
