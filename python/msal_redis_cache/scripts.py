"""The Lua scripts sent to Redis: the Node package's files (js/redis/lua/*.lua, copied into this package at build time), so
that Node and Python send the same text, with the same SHA, to one Redis."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent / "lua"


@dataclass(frozen=True)
class Script:
    name: str
    lua: bytes
    sha: str


def load_script(name: str, *files: str) -> Script:
    """One script: the files (without .lua) joined in order, as js/redis/scripts.js joins them."""
    try:
        lua = b"".join((DIRECTORY / f"{file}.lua").read_bytes() for file in files)
    except FileNotFoundError as error:
        raise ImportError(f"msal_redis_cache: Lua script missing ({error.filename}): rebuild the package") from None
    return Script(name, lua, hashlib.sha1(lua).hexdigest())


COMPARE_AND_SET = load_script("compare_and_set", "partition-functions", "partition-compare-and-set")
INDEX_ADD = load_script("index_add", "index-add")
INDEX_PRUNE = load_script("index_prune", "index-prune")
