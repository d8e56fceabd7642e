"""The C++ core (msal_redis_cache._core, built from core/ by bindings/python/), with its errors as CacheFormatError.
The same core, through the same rules, as the Node package's js/core.js."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Dict, List, Optional, Union

from .errors import CacheFormatError

try:
    from . import _core
except ImportError as error:  # pragma: no cover - a build step was skipped
    raise ImportError(
        "msal_redis_cache: the C++ core extension is missing. Build it: `npm run build:python` in the repository, or "
        "`pip install ./python --no-build-isolation`"
    ) from error

Text = Union[str, bytes]


def _guarded(operation: Any, *args: Any) -> Any:
    try:
        return operation(*args)
    except _core.CoreError as error:
        raise CacheFormatError(str(error)) from None


def plan_read(stored: Text, allowed: List[str], max_bytes: int = 0) -> Dict[str, Any]:
    """Validates a stored cache and keeps it to `allowed` partition ids ([] keeps everything)."""
    return _guarded(_core.plan_read, stored, allowed, max_bytes)


def _request_args(request: Dict[str, Any]) -> tuple:
    return (request["allowed"], request["kind"], request["now"], request["skew_seconds"], request["sliding_seconds"],
            request["absolute_seconds"], request["created_at"], request.get("max_bytes", 0))


def plan_write(serialized: Text, request: Dict[str, Any]) -> Dict[str, Any]:
    """Restricts a cache to request["allowed"], sweeps expired tokens and computes the partition's TTL; "cache" is the
    bytes to store (empty when has_tokens is False)."""
    return _guarded(_core.plan_write, serialized, *_request_args(request))


def plan_merge_write(base: Optional[Text], mine: Text, theirs: Optional[Text], request: Dict[str, Any]) -> Dict[str, Any]:
    """plan_write after a failed compare-and-set: three-way merges mine and theirs against base first."""
    return _guarded(_core.plan_merge_write, base or b"", mine, theirs or b"", *_request_args(request))


def msal_node_key(section: str, entry: Dict[str, Any]) -> Optional[str]:
    """msal-node 7's key for one entry of `section` ("AccessToken", ...), the spelling partitions are stored under;
    None when the core cannot build it. The entry crosses as it is (the binding builds the JSON json.dumps would
    write, without the text and its parse: msal-python makes a key on every change)."""
    return _core.msal_node_key_of(section, entry)


@lru_cache(maxsize=256)
def cache_environment(host: str) -> str:
    """The environment partitions store entries of `host` under: its cloud's preferred_cache alias (login.windows.net
    for login.microsoftonline.com), else `host` itself. Memoized: every entry of every load and write asks."""
    return _core.cache_environment(host)


def describe(serialized: Text, max_bytes: int = 0) -> Dict[str, Any]:
    """A secret-free description of a cache (accounts, token kinds, scopes, expiry times, sizes)."""
    return json.loads(_guarded(_core.describe, serialized, max_bytes))
