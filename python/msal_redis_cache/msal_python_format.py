"""How msal-python's in-memory cache differs from the stored (msal-node's) form of the shared MSAL cache format, and
the conversions both ways: every partition is stored in one form whichever library wrote it.

- App (client-credential) tokens: msal-python writes "home_account_id": null, msal-node "" (the core accepts only a
  string). msal-python then finds them with the query {"home_account_id": None}, so it gets null back on load.
- Key spellings (msal-node appends a scheme segment, msal-python does not; the core stores msal-node's, one entry per
  credential): both libraries read either spelling (they match on fields) but update and remove only under the key
  their key makers compute. So msal-python's key makers are given the core's msal-node spelling (`use_stored_keys`):
  msal-python then updates and removes exactly the stored entries, and its writes reach the core in the stored
  spelling."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterator

from . import core

CREDENTIAL_SECTIONS = ("AccessToken", "RefreshToken", "IdToken", "Account")


def _entries(cache: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    for name in CREDENTIAL_SECTIONS:
        section = cache.get(name)
        if isinstance(section, dict):
            for entry in section.values():
                if isinstance(entry, dict):
                    yield entry


def to_stored(cache: Dict[str, Any]) -> str:
    """msal-python's memory as the JSON the core and Redis take (it changes `cache` in place: null ids become "")."""
    for entry in _entries(cache):
        if "home_account_id" in entry and entry["home_account_id"] is None:
            entry["home_account_id"] = ""
    return json.dumps(cache, separators=(",", ":"))


def to_msal_python(body: str, app_tokens: bool) -> Dict[str, Any]:
    """A stored cache as msal-python's memory; `app_tokens`: an app partition, whose "" ids msal-python wants null."""
    cache = json.loads(body)
    if app_tokens:
        for entry in _entries(cache):
            if entry.get("home_account_id") == "":
                entry["home_account_id"] = None
    return cache



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
