"""Partitions a Python server creates join the admin indexes as Node's do (js/admin/partition-index.js): the Node
package's signOutEverywhere, clearAppTokens and countPartitions find them."""

from __future__ import annotations

from conftest import REDIRECT_URI, SCOPES


def test_node_admin_operations_find_python_partitions(server, workers, idp, prefix):
    node = workers("node")
    user = idp.control("addUser", username="dora@contoso.example")
    home = user["homeAccountId"]
    for session_id in ("a", "b"):
        server.sign_in({"sessionId": session_id}, idp.sign_in_code(user), SCOPES, REDIRECT_URI)
    server.sign_in({"homeAccountId": home}, idp.sign_in_code(user), SCOPES, REDIRECT_URI)
    tenant = idp.auth["authority"].rsplit("/", 1)[1]
    server.app_token(tenant, ["https://graph.microsoft.com/.default"])
    server.tokens.close()  # the background count updates are sent
    assert node.call("countPartitions") == {"session": 2, "account": 1, "app": 1, "obo": 0}
    assert node.call("signOutEverywhere", homeAccountId=home) == 3
    for selector in ({"sessionId": "a"}, {"sessionId": "b"}, {"homeAccountId": home}):
        assert server.export(selector) is None
    assert node.call("clearAppTokens") == 1
    assert server.export({"tenantId": tenant}) is None
