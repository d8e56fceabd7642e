"""How msal-python's in-memory cache differs from the stored (msal-node's) form of the shared MSAL cache format, and
the conversions both ways: every partition is stored in one form whichever library wrote it.

- App (client-credential) tokens: msal-python writes "home_account_id": null, msal-node "" (the core accepts only a
  string). msal-python then finds them with the query {"home_account_id": None}, so it gets null back on load.
- Key spellings (msal-node appends a scheme segment, msal-python does not; the core stores msal-node's): both
  libraries read either spelling (they match on fields) but update and remove only under their own. So before
  msal-python changes a loaded cache, the core re-keys it to msal-python's spelling (`respell`); reads need no
  re-keying, so a cache hit costs none."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator

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


def respell(cache: Dict[str, Any], app_tokens: bool) -> Dict[str, Any]:
    """msal-python's memory with one entry per credential, each under msal-python's key (the core's rekey)."""
    return to_msal_python(core.rekey_for_msal_python(to_stored(cache)), app_tokens)
