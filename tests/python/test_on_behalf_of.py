"""On-behalf-of with msal-python and cache_for(user_assertion=...): a real ConfidentialClientApplication against the dev
identity provider's jwt-bearer grant. The second call with the same incoming token is served from its partition (the
README's pattern: get_accounts, acquire_token_silent, then acquire_token_on_behalf_of); another incoming token is never
served the first one's tokens; the stored access token carries msal-node's userAssertionHash; and Node and Python
server processes serve each other's on-behalf-of tokens."""

from __future__ import annotations

import json

import pytest
from msal_redis_cache.partitions import user_assertion_hash

from conftest import SCOPES
from support.python_server import PythonServer

OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(params=[True, False], ids=["with", "unscoped"])
def server(request, make_tokens, idp):
    """The README's form (inside `with tokens.cache_for(...)`), and a cache that writes each change at once."""
    return PythonServer(make_tokens(), idp.auth, idp.url, scoped=request.param)


def test_the_same_assertion_is_served_from_its_partition(server, idp, caplog):
    user = idp.control("addUser", username="obo-alice@contoso.example")
    assertion = idp.control("issueAccessToken", user=user)
    grants = idp.control("grantCount", grantType=OBO_GRANT)
    first = server.on_behalf_of(assertion, SCOPES)
    assert not first["fromCache"]
    assert idp.control("grantCount", grantType=OBO_GRANT) == grants + 1
    requests = idp.control("tokenRequestCount")
    second = server.on_behalf_of(assertion, SCOPES)
    assert second == {"accessToken": first["accessToken"], "fromCache": True}
    assert idp.control("tokenRequestCount") == requests  # no token request at all
    assert [record.getMessage() for record in caplog.records if record.levelname == "WARNING"] == []


def test_stored_access_tokens_carry_the_assertion_hash(server, idp):
    user = idp.control("addUser", username="obo-hash@contoso.example")
    assertion = idp.control("issueAccessToken", user=user)
    server.on_behalf_of(assertion, SCOPES)
    stored = json.loads(server.export({"userAssertion": assertion}))
    [access_token] = stored["AccessToken"].values()
    assert access_token["userAssertionHash"] == user_assertion_hash(assertion)
    # As msal-node stores its partitions: the refresh token (which msal-node serializes without the hash) is not kept,
    # so an expired access token means a new on-behalf-of request, in both languages.
    assert stored.get("RefreshToken", {}) == {}
    assert {entry["home_account_id"] for entry in stored["IdToken"].values()} == {user["homeAccountId"]}


def test_another_assertion_is_never_served_the_first_ones_tokens(server, idp):
    user = idp.control("addUser", username="obo-bob@contoso.example")
    first_assertion = idp.control("issueAccessToken", user=user)
    other_assertion = idp.control("issueAccessToken", user=user)  # the same user, another incoming token
    assert other_assertion != first_assertion
    first = server.on_behalf_of(first_assertion, SCOPES)
    grants = idp.control("grantCount", grantType=OBO_GRANT)
    other = server.on_behalf_of(other_assertion, SCOPES)
    assert not other["fromCache"] and other["accessToken"] != first["accessToken"]
    assert idp.control("grantCount", grantType=OBO_GRANT) == grants + 1
    [token] = json.loads(server.export({"userAssertion": other_assertion}))["AccessToken"].values()
    assert token["userAssertionHash"] == user_assertion_hash(other_assertion)
    # Each still gets its own from the cache.
    assert server.on_behalf_of(first_assertion, SCOPES)["accessToken"] == first["accessToken"]
    assert server.on_behalf_of(other_assertion, SCOPES)["accessToken"] == other["accessToken"]


def test_a_signed_out_assertion_asks_again(server, idp):
    user = idp.control("addUser", username="obo-carol@contoso.example")
    assertion = idp.control("issueAccessToken", user=user)
    first = server.on_behalf_of(assertion, SCOPES)
    assert server.remove({"userAssertion": assertion}) is True
    again = server.on_behalf_of(assertion, SCOPES)
    assert not again["fromCache"] and again["accessToken"] != first["accessToken"]


@pytest.mark.parametrize("python", ["python-with", "python"])
@pytest.mark.parametrize("first, second", [("node", "python"), ("python", "node")])
def test_each_language_serves_the_others_on_behalf_of_tokens(workers, idp, first, second, python):
    """Real Node and Python server processes: msal-node's acquireTokenOnBehalfOf (through the package's
    acquireTokenOnBehalfOf) and msal-python's pattern serve each other's tokens for the same incoming token, and only
    for that one."""
    servers = {"node": workers("node"), "python": workers(python)}
    user = idp.control("addUser", username=f"obo-{first}-{python}@contoso.example")
    assertion = idp.control("issueAccessToken", user=user)
    stored = servers[first].call("onBehalfOf", assertion=assertion, scopes=SCOPES)
    assert not stored["fromCache"]
    requests = idp.control("tokenRequestCount")
    served = servers[second].call("onBehalfOf", assertion=assertion, scopes=SCOPES)
    assert served == {"accessToken": stored["accessToken"], "fromCache": True}
    assert idp.control("tokenRequestCount") == requests
    # The partition holds one access token, under msal-node's key, with the hash msal-node records.
    exported = json.loads(servers[second].call("export", selector={"userAssertion": assertion}))
    [(key, token)] = exported["AccessToken"].items()
    assert token["userAssertionHash"] == user_assertion_hash(assertion) and key.endswith("-")
    # Another incoming token of the same user is not served these tokens, in either language.
    other = idp.control("issueAccessToken", user=user)
    fresh = servers[second].call("onBehalfOf", assertion=other, scopes=SCOPES)
    assert not fresh["fromCache"] and fresh["accessToken"] != stored["accessToken"]
    assert servers[first].call("onBehalfOf", assertion=other, scopes=SCOPES)["accessToken"] == fresh["accessToken"]
