"""How msal-python's in-memory cache differs from the stored (msal-node's) form of the shared MSAL cache format, and
the conversions both ways: every partition is stored in one form whichever library wrote it.

- App (client-credential) tokens: msal-python writes "home_account_id": null, msal-node "" (the core accepts only a
  string). msal-python then finds them with the query {"home_account_id": None}, so it gets null back on load.
- Key spellings (msal-node appends a scheme segment, msal-python does not; the core stores msal-node's, one entry per
  credential): both libraries read either spelling (they match on fields) but update and remove only under the key
  their key makers compute. So msal-python's key makers are given the core's msal-node spelling (`use_stored_keys`):
  msal-python then updates and removes exactly the stored entries, and its writes reach the core in the stored
  spelling.
- Environments (one cloud's host names are one environment, core/include/msalcache/cloud_aliases.hpp): partitions
  store the cloud's preferred_cache alias (login.windows.net), as msal-node writes it; msal-python looks entries up,
  and writes them, under its authority's host (login.microsoftonline.com) only, matching the field exactly. So its
  memory holds every entry of that cloud under its own host (`use_environment`), and a write goes back to the stored
  host (`to_stored`); which host is which cloud, the core says.
- On-behalf-of: msal-node records the incoming token's userAssertionHash on the access tokens it gets with it (and
  serializes it on access tokens only), and its acquireTokenOnBehalfOf finds them by it; the core keeps in an
  assertion's partition exactly the credentials carrying its hash. msal-python 1.21 records none, so in a
  user_assertion= partition its access tokens get the partition's hash on the way to the core (`to_stored`), as
  msal-node would have stored them; its refresh token stays without one and is dropped by the core, as msal-node's
  is."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from . import core

CREDENTIAL_SECTIONS = ("AccessToken", "RefreshToken", "IdToken", "Account")
SECTIONS = CREDENTIAL_SECTIONS + ("AppMetadata",)
# json.dumps(cache, separators=(",", ":")) exactly, without its check for cycles (msal's memory, loaded from JSON, has
# none) and without building an encoder per call: the whole cache is encoded on every write.
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _entries(cache: Dict[str, Any], sections: Tuple[str, ...] = CREDENTIAL_SECTIONS) -> Iterator[Dict[str, Any]]:
    for name in sections:
        section = cache.get(name)
        if isinstance(section, dict):
            for entry in section.values():
                if isinstance(entry, dict):
                    yield entry


def to_stored(cache: Dict[str, Any], assertion_hash: Optional[str] = None) -> str:
    """msal-python's memory as the JSON the core and Redis take: null ids become "", environments the stored host (the
    core would rewrite them too, but only on its slower path), and with `assertion_hash` (an on-behalf-of partition's)
    access tokens without a userAssertionHash get it. `cache` stays msal-python's: it is still used after the write;
    changed entries are copies."""
    out = dict(cache)
    for name in SECTIONS:
        section = cache.get(name)
        if not isinstance(section, dict):
            continue
        copied: Optional[Dict[str, Any]] = None
        stamp = assertion_hash if name == "AccessToken" else None
        for key, entry in section.items():
            stored = _stored_entry(entry, stamp)
            if stored is not entry:
                if copied is None:
                    copied = dict(section)
                copied[key] = stored
        if copied is not None:
            out[name] = copied
    return _ENCODER.encode(out)


def _stored_entry(entry: Any, assertion_hash: Optional[str] = None) -> Any:
    if not isinstance(entry, dict):
        return entry
    changes: Dict[str, Any] = {}
    if assertion_hash is not None and "userAssertionHash" not in entry:
        changes["userAssertionHash"] = assertion_hash
    if "home_account_id" in entry and entry["home_account_id"] is None:
        changes["home_account_id"] = ""
    environment = entry.get("environment")
    if isinstance(environment, str):
        stored = core.cache_environment(environment)
        if stored != environment:
            changes["environment"] = stored
    return dict(entry, **changes) if changes else entry


def to_msal_python(body: str, app_tokens: bool, environment: Optional[str] = None) -> Dict[str, Any]:
    """A stored cache as msal-python's memory; `app_tokens`: an app partition, whose "" ids msal-python wants null;
    `environment`: the host msal-python uses, when known (see use_environment)."""
    cache = json.loads(body)
    if app_tokens:
        for entry in _entries(cache):
            if entry.get("home_account_id") == "":
                entry["home_account_id"] = None
    if environment:
        use_environment(cache, environment)
    return cache


def use_environment(cache: Dict[str, Any], environment: str) -> None:
    """Puts every entry of `environment`'s cloud under `environment` (msal-python's authority host), in place; entries
    of other clouds or hosts stay as they are. Keys do not change: they are the core's, from the stored host."""
    cloud = core.cache_environment(environment)
    for entry in _entries(cache, SECTIONS):
        current = entry.get("environment")
        if current != environment and isinstance(current, str) and core.cache_environment(current) == cloud:
            entry["environment"] = environment



def use_stored_keys(cache: Any) -> None:
    """Makes an msal.TokenCache key its entries as partitions are stored (msal-node 7's spelling, by the core),
    falling back to msal-python's own key where the core cannot build one. msal-python's TokenCache documents
    key_makers as the place to change its keys."""
    for section, own in list(cache.key_makers.items()):
        cache.key_makers[section] = _stored_key_maker(section, own)


def _stored_key_maker(section: str, own: Callable[..., str]) -> Callable[..., str]:
    def key(**entry: Any) -> str:
        if entry.get("home_account_id", "") is None:
            entry = dict(entry, home_account_id="")
        return core.msal_node_key(section, entry) or own(**entry)
    return key


_SCALARS = (str, int, float, bool, type(None))


def is_flat(cache: Dict[str, Any]) -> bool:
    """Whether every section is a dict of entries whose values are all scalars (as every field msal writes is): then
    copy_memory's fast copy is a full one."""
    return all(isinstance(section, dict) and all(
        isinstance(entry, dict) and all(isinstance(value, _SCALARS) for value in entry.values())
        for entry in section.values()) for section in cache.values())


def copy_memory(cache: Dict[str, Any], flat: bool) -> Dict[str, Any]:
    """A copy of msal-python's memory that msal-python may change freely (it updates entries in place): with `flat`
    (is_flat, asked once) sections and entries copied, their scalar values shared, some twenty times cheaper than
    parsing the JSON again (8 KB: 1.3 vs 27 us; 100 KB: 23 vs 570 us); else a deep copy."""
    if not flat:
        return copy.deepcopy(cache)
    return {name: {key: entry.copy() for key, entry in section.items()} for name, section in cache.items()}
