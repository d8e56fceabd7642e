"""Every Redis call of the package goes through one guard, as js/redis/guard.js, so that a dead or hung Redis costs a
request at most command_timeout_ms and then nothing:
  - the bound itself is the redis-py client's socket_timeout (a synchronous call cannot be abandoned half-way without
    leaving its connection mid-reply), which options.py checks against command_timeout_ms at construction;
  - a circuit breaker: after BREAKER_FAILURES failures in a row it opens, and calls fail at once instead of waiting
    their timeout; every BREAKER_PROBE_SECONDS one call goes through as a probe, and its success closes the breaker;
  - every failure is a CacheStoreError naming the command and the key (never a token or an id in clear);
  - one warning when calls start failing, one when Redis answers again: an outage is two log lines, not one per
    request;
  - each call is timed on redis.duration, each refusal counted (metrics.py).
Requests run on many threads: the breaker's state changes under a lock, the calls themselves run outside it."""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, TypeVar

import redis as redis_py

from .errors import CacheStoreError
from .metrics import NO_METRICS, Metrics

# The Node package's thresholds (js/redis/guard.js).
BREAKER_FAILURES = 3
BREAKER_PROBE_SECONDS = 1.0

T = TypeVar("T")


def error_type(error: BaseException) -> str:
    """A failed call's error.type for metrics: a few words, never the message (it may name a key)."""
    if isinstance(error, redis_py.exceptions.TimeoutError):
        return "timeout"
    return "reply" if isinstance(error, redis_py.exceptions.ResponseError) else "connection"


class RedisGuard:
    def __init__(self, logger, metrics: Metrics = NO_METRICS, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
        self.failures = 0
        self.open_until = 0.0  # while open: calls fail at once until then, when one probe goes through
        self.probing = False
        self.in_outage = False
        self.reported_state = "closed"
        self.on_answer: Optional[Callable[[], None]] = None  # Redis answered a call (LocalCache.answered)
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """"closed" (calls go through), "open" (they fail at once) or "half-open" (a probe is under way)."""
        if self.failures < BREAKER_FAILURES:
            return "closed"
        return "half-open" if self.probing else "open"

    def run(self, command: str, key: str, operation: Callable[[], T], name: str = "") -> T:
        """Runs `operation` (redis-py calls) under the breaker; `name`: what metrics call it (by default the
        command). Raises CacheStoreError."""
        name = name or command
        with self._lock:
            probe = self.failures >= BREAKER_FAILURES
            if probe and (self.probing or self.clock() < self.open_until):
                self.metrics.rejected(name)
                raise CacheStoreError(f'Redis {command} not sent for "{key}": Redis is unavailable (circuit breaker '
                                      "open)")
            if probe:
                self.probing = True
                self._report_state()  # half-open
        started = time.perf_counter()
        try:
            result = operation()
        except redis_py.exceptions.RedisError as error:
            self.metrics.redis_call(name, time.perf_counter() - started, error_type(error))
            self._failed(command, key, error, probe)
            raise CacheStoreError(f'Redis {command} failed for "{key}": {error}') from error
        except BaseException:
            self._end_probe(probe)
            raise
        self.metrics.redis_call(name, time.perf_counter() - started, None)
        self._answered(probe)
        return result

    def reachable(self, probe: bool = False) -> None:
        """Redis answered: close the breaker."""
        with self._lock:
            if probe:
                self.probing = False
            self.failures = 0
            self._report_state()
            recovered, self.in_outage = self.in_outage, False
        if recovered:
            self.logger.warning("msal-redis-cache: Redis answers again.")

    def _answered(self, probe: bool) -> None:
        """A call of this client had an answer (unlike reachable(), which the tracking connection also calls)."""
        self.reachable(probe)
        if self.on_answer is not None:
            self.on_answer()

    def _failed(self, command: str, key: str, error: redis_py.exceptions.RedisError, probe: bool) -> None:
        if isinstance(error, redis_py.exceptions.ResponseError):
            # Redis answered (WRONGTYPE, NOPERM, ...): it is alive; the caller decides what the answer means.
            self._answered(probe)
            return
        with self._lock:
            if probe:
                self.probing = False
            self.failures += 1
            if self.failures >= BREAKER_FAILURES:
                self.open_until = self.clock() + BREAKER_PROBE_SECONDS
            self._report_state()
            first, self.in_outage = not self.in_outage, True
        if first:
            self.logger.warning(f'msal-redis-cache: Redis {command} failed for "{key}" ({error}). Until Redis answers '
                                "again, reads miss (or fail, read_failure) and writes follow write_failure.")

    def _end_probe(self, probe: bool) -> None:
        if probe:
            with self._lock:
                self.probing = False
                self._report_state()

    def _report_state(self) -> None:
        """Tells the metrics when the breaker's state changed since they last heard (under the lock)."""
        state = self.state
        if state != self.reported_state:
            self.reported_state = state
            self.metrics.breaker(state)
