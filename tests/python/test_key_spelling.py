"""msal-python's key makers get msal-node's spelling from the core (msal_python_format.use_stored_keys) on every change
msal makes; the entry crosses to the core as a dict (msal_node_key_of), not as json.dumps text and a parse. Both give
the same key for every entry json.dumps writes as JSON the core reads; anything else is no key (msal-python's own),
never an exception."""

from __future__ import annotations

import json
import math

import msal
import pytest

from msal_redis_cache import _core
from msal_redis_cache.msal_python_format import use_stored_keys

HOME = "uid-1.utid-1"
BASE = {"home_account_id": HOME, "environment": "login.microsoftonline.com", "client_id": "client-1",
        "realm": "utid-1", "secret": "s" * 1200, "cached_at": "1700000000", "expires_on": "1700003600"}
ENTRIES = [
    ("AccessToken", dict(BASE, credential_type="AccessToken", target="User.Read openid", token_type="Bearer")),
    ("AccessToken", dict(BASE, credential_type="AccessToken", target="x", token_type="pop",
                         requestedClaimsHash="abc", additionalCacheKeyComponents={"b": "1", "a": "2"})),
    ("AccessToken", dict(BASE, credential_type="AccessToken", target="x", additionalCacheKeyComponents={})),
    ("AccessToken", dict(BASE, credential_type="AccessToken", target="x", home_account_id=None)),  # app tokens
    ("AccessToken", dict(BASE, credential_type="AccessToken", target="Ünïcødé ☃ 😀", realm="Ré")),
    ("RefreshToken", dict(BASE, credential_type="RefreshToken", family_id="1")),
    ("RefreshToken", dict(BASE, credential_type="RefreshToken", last_modification_time="1700000001",
                          extra=[1, 2.5, True, None, {"n": -(2 ** 70)}], big=2 ** 64 + 1)),
    ("IdToken", dict(BASE, credential_type="IdToken")),
    ("Account", {"home_account_id": HOME, "environment": "login.windows.net", "realm": "utid-1",
                 "local_account_id": "oid", "username": "a@b", "authority_type": "MSSTS"}),
    ("AppMetadata", {"client_id": "client-1", "environment": "login.microsoftonline.com", "family_id": "1"}),
    ("AccessToken", {"credential_type": "AccessToken"}),  # too little for a key
    ("NoSuchSection", dict(BASE, credential_type="AccessToken", target="x")),
    ("AccessToken", dict(BASE, credential_type="AccessToken", target=5)),  # a field of the wrong type
]


@pytest.mark.parametrize("section, entry", ENTRIES)
def test_the_dict_and_the_json_text_give_the_same_key(section, entry):
    assert _core.msal_node_key_of(section, entry) == _core.msal_node_key(section, json.dumps(entry))


def test_a_real_msal_python_cache_keeps_its_keys():
    """Every entry of a cache msal-python made, under use_stored_keys: its key maker's key is the one the JSON text
    gives, and the key it is stored under."""
    cache = msal.SerializableTokenCache()
    use_stored_keys(cache)
    event = {"client_id": "client-1", "scope": ["User.Read"], "token_endpoint":
             "https://login.microsoftonline.com/utid-1/oauth2/v2.0/token",
             "response": {"access_token": "at", "refresh_token": "rt", "expires_in": 3600, "token_type": "Bearer",
                          "client_info": "eyJ1aWQiOiJ1aWQtMSIsInV0aWQiOiJ1dGlkLTEifQ", "foci": "1"}}
    cache.add(event)
    state = json.loads(cache.serialize())
    checked = 0
    for section, entries in state.items():
        for key, entry in entries.items():
            assert _core.msal_node_key_of(section, entry) == _core.msal_node_key(section, json.dumps(entry)) == key
            checked += 1
    assert checked >= 4


@pytest.mark.parametrize("entry", [
    dict(BASE, credential_type="AccessToken", target="\ud800"),  # a lone surrogate: not UTF-8
    dict(BASE, credential_type="AccessToken", target="x", secret=b"bytes"),
    dict(BASE, credential_type="AccessToken", target="x", other=object()),
    dict(BASE, credential_type="AccessToken", target="x", number=math.nan),
    dict(BASE, credential_type="AccessToken", target="x", number=math.inf),
    dict(BASE, credential_type="AccessToken", target="x", nested={1: "int key"}),
])
def test_what_is_not_json_the_core_reads_gets_no_key(entry):
    assert _core.msal_node_key_of("AccessToken", entry) is None


def test_deep_nesting_gets_no_key_and_no_crash():
    deep: dict = {}
    inner = deep
    for _ in range(100_000):
        inner["d"] = {}
        inner = inner["d"]
    entry = dict(BASE, credential_type="AccessToken", target="x", deep=deep)
    assert _core.msal_node_key_of("AccessToken", entry) is None
