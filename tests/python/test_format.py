"""The stored format and key names, bit for bit with the Node package: a Node process (node_worker.js) names keys and
seals values; Python must compute the same names and open Node's values, and Node must open Python's."""

from __future__ import annotations

import base64

import pytest

from conftest import ENCRYPTION_KEY, KEY_NAME_SECRET
from msal_redis_cache import ConfigurationError
from msal_redis_cache.keyring import create_keyring
from msal_redis_cache.partitions import resolve_partition
from msal_redis_cache.scripts import COMPARE_AND_SET
from msal_redis_cache.stored_value import PARTITION, TOMBSTONE, UnreadableValue, open_value, seal, tombstone

KEYRING = create_keyring([ENCRYPTION_KEY], KEY_NAME_SECRET)
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def node(redis_url, idp):
    from conftest import Worker
    worker = Worker("node", redis_url, "format:", idp)
    yield worker
    worker.close()


@pytest.mark.parametrize("kind, id", [("session", "s-1"), ("account", "oid.tid"), ("app", "client\ntenant"),
                                      ("user", "é ü 𝄞 ☃"), ("client", "x" * 500)])
def test_key_names_are_nodes(node, kind, id):
    assert KEYRING.name(kind, id) == node.call("keyName", kind=kind, id=id)


def test_node_opens_what_python_seals(node):
    key = "msal:session:{abc}"
    sealed = seal(KEYRING, key, type=PARTITION, created_at=NOW - 10, not_after=NOW + 100, meta="oid.tid é/%",
                  body='{"Account":{}}')
    opened = node.call("open", key=key, value=base64.b64encode(sealed.value).decode(), now=NOW)
    assert opened == {"type": "c", "etag": sealed.etag, "createdAt": NOW - 10, "notAfter": NOW + 100,
                      "keyId": KEYRING.current_id, "meta": "oid.tid é/%", "body": '{"Account":{}}'}
    gone = tombstone(KEYRING, key, NOW, NOW + 600)
    assert node.call("open", key=key, value=base64.b64encode(gone.value).decode(), now=NOW)["type"] == TOMBSTONE


def test_python_opens_what_node_seals(node):
    key = "msal:account:xyz"
    value = base64.b64decode(node.call("seal", key=key, type="c", createdAt=NOW, notAfter=NOW + 5, meta="a b+c",
                                       body='{"é":1}'))
    opened = open_value(KEYRING, key, value, NOW)
    assert (opened.type, opened.created_at, opened.not_after, opened.meta, opened.body) == (
        "c", NOW, NOW + 5, "a b+c", '{"é":1}'.encode())
    with pytest.raises(UnreadableValue):
        open_value(KEYRING, "msal:account:other", value, NOW)  # bound to its key
    with pytest.raises(UnreadableValue) as expired:
        open_value(KEYRING, key, value, NOW + 5 + 61)  # past notAfter and the 60 s skew
    assert expired.value.expired


def test_scripts_are_the_node_packages_text():
    from pathlib import Path
    lua = Path(__file__).resolve().parents[2] / "js" / "redis" / "lua"
    assert COMPARE_AND_SET.lua == (lua / "partition-functions.lua").read_bytes() + (lua / "partition-compare-and-set.lua").read_bytes()
    assert COMPARE_AND_SET.lua.endswith((lua / "partition-compare-and-set.lua").read_bytes())


def test_selectors_must_be_well_formed_unicode():
    with pytest.raises(ConfigurationError, match="well-formed Unicode"):
        resolve_partition(KEYRING, None, session_id="a\ud800")
    with pytest.raises(ConfigurationError, match="well-formed Unicode"):
        resolve_partition(KEYRING, "client", tenant_id="\udfff")
    with pytest.raises(ConfigurationError, match="line breaks"):
        resolve_partition(KEYRING, None, home_account_id="a\nb")
    with pytest.raises(ConfigurationError, match="exactly one"):
        resolve_partition(KEYRING, None, session_id="a", home_account_id="b")
    with pytest.raises(ConfigurationError, match="client_id"):
        resolve_partition(KEYRING, None, tenant_id="t")
    assert resolve_partition(KEYRING, None, session_id="😀").partition_key.startswith("session:{")


def test_partition_keys_are_nodes(node, make_tokens):
    # Node's exportPartition reads the key Python's partitions are named: same names for all four selectors.
    session = resolve_partition(KEYRING, None, session_id="s").partition_key
    assert session == f"session:{{{node.call('keyName', kind='session', id='s')}}}"
    app = resolve_partition(KEYRING, "c", tenant_id="t").partition_key
    assert app == "app:" + node.call("keyName", kind="app", id="c\nt")
