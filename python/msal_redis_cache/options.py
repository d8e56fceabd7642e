"""The options of a RedisTokenCache: the Node package's (js/options.js) in snake_case, with the same defaults."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Union

import redis as redis_py

from .errors import ConfigurationError
from .keyring import KeyMaterial, Keyring, create_keyring
from .metrics import Metrics, create_metrics
from .replica_wait import sign_out_replicas_option

DEFAULT_PREFIX = "msal:"
DEFAULT_SLIDING_SECONDS = 24 * 3600
DEFAULT_ABSOLUTE_SECONDS = 14 * 24 * 3600
DEFAULT_SKEW_SECONDS = 300
DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024
DEFAULT_TOMBSTONE_SECONDS = 600
DEFAULT_COMMAND_TIMEOUT_MS = 1000
FAILURE_MODES = ("open", "closed")
# The in-process cache (local_cache.py): the Node package's localCache defaults.
DEFAULT_LOCAL_CACHE = {"max_bytes": 64 * 1024 * 1024, "max_entries": 10000, "stale_if_error_seconds": 300}


@dataclass(frozen=True)
class Settings:
    redis: Any
    keyring: Keyring
    prefix: str
    sliding_seconds: int
    absolute_seconds: int
    skew_seconds: int
    tombstone_seconds: int
    max_value_bytes: int
    write_failure: str
    read_failure: str
    logger: logging.Logger
    clock: Callable[[], float]  # epoch seconds, as time.time
    command_timeout_ms: int
    metrics: Metrics
    sign_out_replicas: Any  # False, or {"replicas": "auto" | n, "timeout_ms": n} (replica_wait.py)
    local_cache: Optional[Dict[str, int]] = None  # max_bytes, max_entries, stale_if_error_seconds; None: off


def _positive_integer(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive integer")
    return value


def _local_cache_options(value: object) -> Optional[Dict[str, int]]:
    """False, or the in-process cache's settings with their defaults (None: the defaults)."""
    if value is None:
        value = {}
    if value is False:
        return None
    if not isinstance(value, dict):
        raise ConfigurationError("local_cache must be False or {max_bytes, max_entries, stale_if_error_seconds}")
    unknown = sorted(set(value) - set(DEFAULT_LOCAL_CACHE))
    if unknown:
        raise ConfigurationError(f"unknown option local_cache.{unknown[0]} (known: {', '.join(DEFAULT_LOCAL_CACHE)})")
    merged = {**DEFAULT_LOCAL_CACHE, **value}
    for name, number in merged.items():
        _positive_integer(number, f"local_cache.{name}")
    return merged


def _check_redis(client: object) -> Any:
    """A redis-py client (redis.Redis) that returns bytes: stored values are binary."""
    if client is None or not callable(getattr(client, "evalsha", None)) or not callable(getattr(client, "eval", None)):
        what = "a string (a URL? pass redis.Redis.from_url(url))" if isinstance(client, str) else type(client).__name__
        raise ConfigurationError(f"redis must be a redis-py client (redis.Redis(...)); got {what}")
    pool = getattr(client, "connection_pool", None)
    if pool is not None and getattr(pool, "connection_kwargs", {}).get("decode_responses"):
        raise ConfigurationError(
            "redis must return bytes (stored values are binary): create it without decode_responses=True"
        )
    return client


def _check_timeouts(client: Any, command_timeout_ms: int) -> None:
    """A redis-py call cannot be abandoned half-way (its connection would be left mid-reply), so the bound on each
    Redis call that command_timeout_ms promises (as in Node) is the client's own: its socket timeouts, times the
    attempts it makes on a timeout. A client without one would hang every request, and every thread serving one,
    for as long as Redis hangs: refused here rather than found in an outage."""
    get_kwargs = getattr(client, "get_connection_kwargs", None)
    kwargs = get_kwargs() if callable(get_kwargs) else {}
    read = kwargs.get("socket_timeout")
    connect = kwargs.get("socket_connect_timeout") or read  # redis-py's own fallback
    # Redis() turns retry_on_timeout into retry_on_error; from_url() leaves it to each connection.
    retried = bool(kwargs.get("retry_on_timeout")) or redis_py.exceptions.TimeoutError in (
        kwargs.get("retry_on_error") or [])
    attempts = 1 + (getattr(kwargs.get("retry"), "_retries", 1) if retried else 0)
    fix = (f"create it with socket_timeout and socket_connect_timeout of at most {command_timeout_ms / 1000:g} s "
           "and no retry_on_timeout, e.g. redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1), or "
           "raise command_timeout_ms")
    if read is None or connect is None:
        raise ConfigurationError(f"the redis client has no socket_timeout: a hung Redis would hang every request; "
                                 f"{fix}")
    for what, seconds in (("socket_timeout", read * attempts), ("socket_connect_timeout", connect)):
        if seconds * 1000 > command_timeout_ms:
            times = f" x {attempts} attempts (retry_on_timeout)" if what == "socket_timeout" and retried else ""
            raise ConfigurationError(f"the redis client may wait {seconds:g} s per call ({what}{times}), over "
                                     f"command_timeout_ms ({command_timeout_ms}); {fix}")


def normalize_options(
    *,
    redis: Any,
    encryption_keys: Optional[Sequence[KeyMaterial]] = None,
    key_name_secret: Optional[KeyMaterial] = None,
    prefix: str = DEFAULT_PREFIX,
    sliding_seconds: int = DEFAULT_SLIDING_SECONDS,
    absolute_seconds: int = DEFAULT_ABSOLUTE_SECONDS,
    skew_seconds: int = DEFAULT_SKEW_SECONDS,
    tombstone_seconds: int = DEFAULT_TOMBSTONE_SECONDS,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    insecure_plaintext_storage: bool = False,
    write_failure: str = "open",
    read_failure: str = "closed",
    logger: Optional[logging.Logger] = None,
    clock: Optional[Callable[[], float]] = None,
    command_timeout_ms: int = DEFAULT_COMMAND_TIMEOUT_MS,
    metrics: Any = None,
    sign_out_replicas: Any = None,  # None: replica_wait.py's default, {"replicas": "auto", "timeout_ms": 200}
    local_cache: Union[bool, Dict[str, int], None] = None,
) -> Settings:
    if not isinstance(prefix, str):
        raise ConfigurationError("prefix must be a string")
    for name, value in (("sliding_seconds", sliding_seconds), ("absolute_seconds", absolute_seconds),
                        ("max_value_bytes", max_value_bytes), ("tombstone_seconds", tombstone_seconds),
                        ("command_timeout_ms", command_timeout_ms)):
        _positive_integer(value, name)
    if absolute_seconds < sliding_seconds:
        raise ConfigurationError(
            f"absolute_seconds ({absolute_seconds}) must not be below sliding_seconds ({sliding_seconds})"
        )
    if not isinstance(skew_seconds, int) or isinstance(skew_seconds, bool) or skew_seconds < 0:
        raise ConfigurationError("skew_seconds must be a non-negative integer")
    if write_failure not in FAILURE_MODES:
        raise ConfigurationError('write_failure must be "open" (not stored, logged) or "closed" (a CacheStoreError)')
    if read_failure not in FAILURE_MODES:
        raise ConfigurationError(
            'read_failure must be "closed" (a user partition Redis cannot read is a CacheStoreError) or "open" (a miss)'
        )
    log = logger if logger is not None else logging.getLogger("msal_redis_cache")
    if not callable(getattr(log, "warning", None)):
        raise ConfigurationError("logger must have a warning(message) method (a logging.Logger has)")
    if clock is not None and not callable(clock):
        raise ConfigurationError("clock must be a function returning epoch seconds (as time.time)")
    client = _check_redis(redis)
    _check_timeouts(client, command_timeout_ms)
    keyring = create_keyring(encryption_keys, key_name_secret, insecure_plaintext_storage)
    if keyring.plaintext:
        log.warning("msal-redis-cache: insecure_plaintext_storage is on: tokens are stored UNENCRYPTED in Redis. "
                    "Use encryption_keys in production.")
    return Settings(redis=client, keyring=keyring, prefix=prefix, sliding_seconds=sliding_seconds,
                    absolute_seconds=absolute_seconds, skew_seconds=skew_seconds,
                    tombstone_seconds=tombstone_seconds, max_value_bytes=max_value_bytes,
                    write_failure=write_failure, read_failure=read_failure, logger=log, clock=clock or time.time,
                    command_timeout_ms=command_timeout_ms, metrics=create_metrics(metrics, log),
                    sign_out_replicas=sign_out_replicas_option(sign_out_replicas, client, command_timeout_ms),
                    local_cache=_local_cache_options(local_cache))
