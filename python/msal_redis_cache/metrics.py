"""What the cache does, in numbers, as js/metrics.js: one Metrics object per RedisTokenCache, which the rest of the code
calls (metrics.lookup("L2Cache", hit), metrics.redis_call(...), ...). Each measurement goes to
metrics={"on_event": callable}, called synchronously with {"name", "value", "attributes"}: the names and attributes of
the Node package's OpenTelemetry instruments (README.md, "Metrics"), so one dashboard or alert covers both languages.
There is no OpenTelemetry outlet: opentelemetry-api is not packaged by Debian, which this package is built and tested
with (python/README.md, "Metrics"). Without a callback every method returns at its first line.
Attributes are a few fixed words (never a key, an id or a message): their number stays bounded whatever the traffic,
and nothing personal reaches a metrics backend."""

from __future__ import annotations

import logging
from types import MappingProxyType
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from .errors import ConfigurationError

NS = "msal_redis_cache."

# key: the instrument's name after NS, as js/metrics.js's INSTRUMENTS (tests/python/test_metrics.py compares them).
NAMES = {
    "hits": "cache.hits",
    "misses": "cache.misses",
    "offline_reads": "cache.offline_reads",
    "unreadable": "cache.unreadable",
    "redis_duration": "redis.duration",
    "redis_rejected": "redis.rejected",
    "breaker_transitions": "redis.breaker.transitions",
    "io": "redis.io",
    "writes": "writes",
    "conflicts": "write.conflicts",
    "merges": "write.merges",
    "retries": "write.retries",
    "dropped": "write.dropped",
    "evictions": "local_cache.evictions",
}

Event = Dict[str, Any]
_interned: Dict[Tuple[str, ...], Mapping[str, str]] = {}


def attributes(*pairs: str) -> Mapping[str, str]:
    """A read-only attributes mapping per distinct set: none allocated per measurement, and none a callback can
    change."""
    found = _interned.get(pairs)
    if found is None:
        found = MappingProxyType(dict(zip(pairs[::2], pairs[1::2])))
        _interned[pairs] = found
    return found


NONE = attributes()
# MSAL.NET's CacheLevel tag and values, so dashboards can put .NET, Node and Python services together.
CACHE_LEVEL = {"L1Cache": attributes("CacheLevel", "L1Cache"), "L2Cache": attributes("CacheLevel", "L2Cache")}
RECEIVE = attributes("network.io.direction", "receive")
TRANSMIT = attributes("network.io.direction", "transmit")


class Metrics:
    def __init__(self, on_event: Optional[Callable[[Event], Any]] = None,
                 logger: Optional[logging.Logger] = None) -> None:
        self.on_event = on_event
        self.logger = logger
        self.callback_failed = False
        self.active = on_event is not None

    def lookup(self, level: str, hit: bool) -> None:
        """A partition load at `level` ("L1Cache": in-process, "L2Cache": Redis) found what it needed (hit) or not."""
        if self.active:
            self._emit("hits" if hit else "misses", 1, CACHE_LEVEL[level])

    def offline_read(self, result: str) -> None:
        """A load while Redis failed: "stale" (the last copy this server saw), "miss", or "failed" (read_failure
        "closed")."""
        if self.active:
            self._emit("offline_reads", 1, attributes("result", result))

    def unreadable(self, reason: str) -> None:
        """A stored value was ignored: "corrupt", "expired", "foreign" (not a token cache), "too_large"."""
        if self.active:
            self._emit("unreadable", 1, attributes("reason", reason))

    def received(self, size: int) -> None:
        """`size` bytes of a stored partition value came from Redis."""
        if self.active and size:
            self._emit("io", size, RECEIVE)

    def redis_call(self, operation: str, seconds: float, error_type: Optional[str]) -> None:
        """A Redis call answered (error_type None) or failed after `seconds`; `operation`: a command or script name."""
        if self.active:
            attrs = (attributes("db.operation.name", operation, "error.type", error_type) if error_type
                     else attributes("db.operation.name", operation))
            self._emit("redis_duration", seconds, attrs)

    def rejected(self, operation: str) -> None:
        """A Redis call was not sent: the circuit breaker is open."""
        if self.active:
            self._emit("redis_rejected", 1, attributes("db.operation.name", operation))

    def breaker(self, state: str) -> None:
        """The circuit breaker entered `state` ("closed", "open", "half-open")."""
        if self.active:
            self._emit("breaker_transitions", 1, attributes("state", state))

    def compare_and_set(self, sent_bytes: int, written: bool, current_value: Optional[bytes]) -> None:
        """A compare-and-set reached Redis with `sent_bytes` of value; a conflict brought the stored value back."""
        if not self.active:
            return
        if sent_bytes:
            self._emit("io", sent_bytes, TRANSMIT)
        if written:
            return
        self._emit("conflicts", 1, NONE)
        if current_value:
            self._emit("io", len(current_value), RECEIVE)

    def merge(self) -> None:
        if self.active:
            self._emit("merges", 1, NONE)

    def retry(self) -> None:
        if self.active:
            self._emit("retries", 1, NONE)

    def dropped(self, reason: str) -> None:
        """The writer gave up on a write: "removed", "other_account" or "conflicts"."""
        if self.active:
            self._emit("dropped", 1, attributes("reason", reason))

    def write(self, outcome: str) -> None:
        """A write ended with `outcome` (partition_writer.py)."""
        if self.active:
            self._emit("writes", 1, attributes("outcome", outcome))

    def evicted(self) -> None:
        """An in-process cache entry was evicted (least recently used)."""
        if self.active:
            self._emit("evictions", 1, NONE)

    def _emit(self, key: str, value: float, attrs: Mapping[str, str]) -> None:
        assert self.on_event is not None
        try:
            self.on_event({"name": NS + NAMES[key], "value": value, "attributes": attrs})
        except Exception as error:  # noqa: BLE001 - the callback's failure must not become the request's
            if self.callback_failed:
                return  # said once, not per request
            self.callback_failed = True
            if self.logger is not None:
                self.logger.warning(f"msal-redis-cache: metrics on_event raised ({type(error).__name__}: {error}); "
                                    "further failures are not logged")


NO_METRICS = Metrics()


def create_metrics(option: Any, logger: logging.Logger) -> Metrics:
    """The Metrics of a RedisTokenCache from its `metrics` option: None or False (none), or {"on_event": callable}."""
    if option is None or option is False:
        return NO_METRICS
    if not isinstance(option, dict):
        raise ConfigurationError('metrics must be False or {"on_event": callable}')
    for name in option:
        if name == "meter_provider":
            raise ConfigurationError(
                "metrics.meter_provider: the Python package has no OpenTelemetry outlet (opentelemetry-api is not "
                'packaged by Debian, which it is built and tested with); use {"on_event": callable}')
        if name != "on_event":
            raise ConfigurationError(f'unknown option "metrics.{name}"; metrics takes {{"on_event": callable}}')
    on_event = option.get("on_event")
    if on_event is None:
        return NO_METRICS
    if not callable(on_event):
        raise ConfigurationError("metrics.on_event must be a function(event)")
    return Metrics(on_event, logger)
