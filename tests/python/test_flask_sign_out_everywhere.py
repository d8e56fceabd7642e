"""One signOutEverywhere, from Node and then from Python, signs a user out of a Flask session and an express-session
session at once: both languages write the admin indexes alike, and both session stores keep sessions at the same
keys beside their partitions (real Node and Python processes on one Redis)."""

from __future__ import annotations

import time
from typing import Any, Dict, List

from conftest import REDIRECT_URI, SCOPES
from msal_redis_cache.stored_value import TOMBSTONE, open_value
from support.flask_app import sign_in


def sign_in_on_both(client: Any, node: Any, idp: Any, username: str) -> Dict[str, Any]:
    flask_side = sign_in(client, idp, username)
    user = flask_side["user"]
    node_sid = f"express-{user['homeAccountId'][:8]}-{time.monotonic_ns()}"
    node.call("signIn", selector={"sessionId": node_sid}, code=idp.sign_in_code(user), scopes=SCOPES,
              redirectUri=REDIRECT_URI)
    expires = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 3600))
    node.call("sessionSet", sid=node_sid, session={"cookie": {"originalMaxAge": 3600000, "expires": expires,
                                                              "httpOnly": True, "path": "/"},
                                                   "account": {"homeAccountId": user["homeAccountId"]}})
    return {"home": user["homeAccountId"], "sids": [flask_side["sid"], node_sid]}


def assert_signed_out(app: Any, client: Any, node: Any, redis_client: Any, sids: List[str]) -> None:
    store = app.session_interface.store
    for sid in sids:
        assert redis_client.exists(store.session_key(sid)) == 0
        partition = store.partition_key(sid)
        assert open_value(store.settings.keyring, partition, redis_client.get(partition), int(time.time())).type \
            == TOMBSTONE
    assert client.get("/peek").json["account"] is None
    assert node.call("sessionGet", sid=sids[1]) is None


def test_sign_out_everywhere_from_node_then_from_python(flask_app: Any, workers: Any, idp: Any,
                                                        redis_client: Any) -> None:
    node = workers("node")
    app = flask_app()
    client = app.test_client()
    first = sign_in_on_both(client, node, idp, "hana@contoso.example")
    assert client.get("/peek").json["account"]["homeAccountId"] == first["home"]
    assert node.call("signOutEverywhere", homeAccountId=first["home"], sessions=True) == 2
    assert_signed_out(app, client, node, redis_client, first["sids"])

    again = sign_in_on_both(client, node, idp, "hana@contoso.example")
    tokens = app.session_interface.tokens
    user_index = tokens._shared.index.user_key(again["home"])
    assert redis_client.zcard(user_index) == 2  # both sessions' partitions, one written by each language
    assert tokens.sign_out_everywhere(again["home"], session_store=app.session_interface) == 2
    assert_signed_out(app, client, node, redis_client, again["sids"])
    assert redis_client.zcard(user_index) == 0  # tombstoned members are pruned, as Node prunes them
    # The indexes hold nothing more to remove: a second call finds no partition with tokens.
    assert tokens.sign_out_everywhere(again["home"], session_store=app.session_interface) == 0
