"""Node and Python servers on one Redis, as real processes with the same secrets (node_worker.js, python_worker.py):
each serves the other's tokens in session, account and app partitions; concurrent writers of one partition, half of
each language, lose no update (the fake endpoint holds the token responses so that the writes overlap); and a
sign-out made while their refreshes are in flight leaves no partition behind. The races run with Python servers in
both forms: each change written at once, and `with tokens.cache_for(...)` (one write when the request ends)."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from conftest import REDIRECT_URI, SCOPES

APP_SCOPES = ["https://graph.microsoft.com/.default"]


def everyone(workers: List[Any], op: str, **args: Any) -> List[Dict[str, Any]]:
    """Sends one operation to every worker at once, then collects the replies."""
    for worker in workers:
        worker.send(op, **args)
    return [worker.receive() for worker in workers]


@pytest.fixture
def pair(workers):
    return {"node": workers("node"), "python": workers("python")}


@pytest.mark.parametrize("first, second", [("node", "python"), ("python", "node")])
@pytest.mark.parametrize("kind", ["session", "account"])
def test_each_serves_the_others_tokens(pair, idp, first, second, kind):
    user = idp.control("addUser", username=f"{first}-{kind}@contoso.example")
    selector = {"sessionId": f"{kind}-{first}"} if kind == "session" else {"homeAccountId": user["homeAccountId"]}
    home = user["homeAccountId"]
    signed_in = pair[first].call("signIn", selector=selector, code=idp.sign_in_code(user), scopes=SCOPES,
                                 redirectUri=REDIRECT_URI)
    requests = idp.control("tokenRequestCount")
    served = pair[second].call("silent", selector=selector, homeAccountId=home, scopes=SCOPES)
    assert served["accessToken"] == signed_in["accessToken"]
    assert idp.control("tokenRequestCount") == requests  # from the other language's stored partition
    refreshed = pair[second].call("silent", selector=selector, homeAccountId=home, scopes=SCOPES, forceRefresh=True)
    assert refreshed["accessToken"] != signed_in["accessToken"]
    # The first gets the second's refreshed token from the cache.
    back = pair[first].call("silent", selector=selector, homeAccountId=home, scopes=SCOPES)
    assert back["accessToken"] == refreshed["accessToken"] and back["fromCache"]
    assert pair[second].call("remove", selector=selector) is True
    for worker in pair.values():
        with pytest.raises(RuntimeError):
            worker.call("silent", selector=selector, homeAccountId=home, scopes=SCOPES)
        assert worker.call("export", selector=selector) is None


def test_msal_pythons_remove_account_removes_what_node_wrote(pair, idp):
    user = idp.control("addUser", username="remove-account@contoso.example")
    selector, home = {"sessionId": "remove-account"}, user["homeAccountId"]
    pair["node"].call("signIn", selector=selector, code=idp.sign_in_code(user), scopes=SCOPES, redirectUri=REDIRECT_URI)
    pair["python"].call("removeAccount", selector=selector, homeAccountId=home)
    assert pair["node"].call("export", selector=selector) is None  # msal-python found every entry under its keys
    with pytest.raises(RuntimeError):
        pair["node"].call("silent", selector=selector, homeAccountId=home, scopes=SCOPES)


@pytest.mark.parametrize("first, second", [("node", "python"), ("python", "node")])
def test_a_refresh_replaces_the_other_languages_token(pair, idp, first, second):
    user = idp.control("addUser", username=f"{first}-replace@contoso.example")
    selector, home = {"sessionId": f"replace-{first}"}, user["homeAccountId"]
    pair[first].call("signIn", selector=selector, code=idp.sign_in_code(user), scopes=SCOPES, redirectUri=REDIRECT_URI)
    refreshed = pair[second].call("silent", selector=selector, homeAccountId=home, scopes=SCOPES, forceRefresh=True)
    stored = json.loads(pair[first].call("export", selector=selector))
    assert [entry["secret"] for entry in stored["AccessToken"].values()] == [refreshed["accessToken"]]
    requests = idp.control("tokenRequestCount")
    back = pair[first].call("silent", selector=selector, homeAccountId=home, scopes=SCOPES)
    assert back["accessToken"] == refreshed["accessToken"] and idp.control("tokenRequestCount") == requests


@pytest.mark.parametrize("first, second", [("node", "python"), ("python", "node")])
def test_a_mixed_partition_holds_one_entry_per_credential(pair, idp, first, second):
    """Each language signs in or refreshes under its own host (msal-node login.windows.net, msal-python its
    authority's, login.microsoftonline.com): the partition keeps one entry of each, under login.windows.net."""
    user = idp.control("addUser", username=f"{first}-one-entry@contoso.example")
    selector, home = {"sessionId": f"one-entry-{first}"}, user["homeAccountId"]
    pair[first].call("signIn", selector=selector, code=idp.sign_in_code(user), scopes=SCOPES, redirectUri=REDIRECT_URI)
    pair[second].call("silent", selector=selector, homeAccountId=home, scopes=SCOPES, forceRefresh=True)
    last = pair[first].call("silent", selector=selector, homeAccountId=home, scopes=SCOPES, forceRefresh=True)
    stored = json.loads(pair[second].call("export", selector=selector))
    for section in ("Account", "IdToken", "AccessToken", "RefreshToken", "AppMetadata"):
        assert len(stored[section]) == 1, (section, list(stored[section]))
        assert [entry["environment"] for entry in stored[section].values()] == ["login.windows.net"], section
    assert [entry["secret"] for entry in stored["AccessToken"].values()] == [last["accessToken"]]
    for worker in pair.values():
        served = worker.call("silent", selector=selector, homeAccountId=home, scopes=SCOPES)
        assert served["fromCache"] and served["accessToken"] == last["accessToken"]


def test_python_tries_a_failed_refresh_once(pair, idp):
    """After a failed refresh msal-python tries again under each alias of its cloud that holds a refresh token. It sees
    the cloud's entries under its own host only, so it tries once, as with a cache it alone wrote."""
    user = idp.control("addUser", username="refresh-once@contoso.example")
    selector, home = {"sessionId": "refresh-once"}, user["homeAccountId"]
    pair["node"].call("signIn", selector=selector, code=idp.sign_in_code(user), scopes=SCOPES, redirectUri=REDIRECT_URI)
    before = idp.control("grantCount", grantType="refresh_token")
    idp.control("failNext", status=400, errorCode="invalid_grant")
    with pytest.raises(RuntimeError, match="invalid_grant"):
        pair["python"].call("silent", selector=selector, homeAccountId=home, scopes=SCOPES, forceRefresh=True)
    assert idp.control("grantCount", grantType="refresh_token") == before + 1


def test_python_reads_an_access_token_node_refreshed(pair, idp):
    user = idp.control("addUser", username="python-reads@contoso.example")
    selector, home = {"sessionId": "python-reads"}, user["homeAccountId"]
    pair["python"].call("signIn", selector=selector, code=idp.sign_in_code(user), scopes=SCOPES,
                        redirectUri=REDIRECT_URI)
    pair["node"].call("silent", selector=selector, homeAccountId=home, scopes=["api://other/read"])
    assert pair["python"].call("silent", selector=selector, homeAccountId=home, scopes=["api://other/read"])["fromCache"]


@pytest.mark.parametrize("first, second", [("node", "python"), ("python", "node")])
def test_app_tokens_are_shared(pair, idp, first, second):
    tenant = f"2222222{len(first)}-2222-4222-8222-222222222222"
    token = pair[first].call("appToken", tenantId=tenant, scopes=APP_SCOPES)
    assert pair[second].call("appToken", tenantId=tenant, scopes=APP_SCOPES)["accessToken"] == token["accessToken"]
    assert pair[second].call("remove", selector={"tenantId": tenant}) is True
    assert pair[first].call("appToken", tenantId=tenant, scopes=APP_SCOPES)["accessToken"] != token["accessToken"]


PYTHON_FORMS = ["python", "python-with"]


def signed_in_servers(workers, idp, count, name, python="python"):
    """`count` servers, half Node and half Python (`python`: a worker language of conftest.Worker), and a session one
    of them signed in."""
    servers = [workers("node" if i % 2 == 0 else python) for i in range(count)]
    user = idp.control("addUser", username=f"{name}-{count}-{python}@contoso.example")
    selector = {"sessionId": f"{name}-{count}-{python}"}
    servers[1].call("signIn", selector=selector, code=idp.sign_in_code(user), scopes=SCOPES, redirectUri=REDIRECT_URI)
    return servers, selector, user["homeAccountId"]


@pytest.mark.parametrize("python", PYTHON_FORMS)
@pytest.mark.parametrize("count", [2, 8])
def test_concurrent_writers_lose_no_update(workers, idp, count, python):
    servers, selector, home = signed_in_servers(workers, idp, count, "race", python)
    lost = 0
    for trial in range(3):
        scopes = [[f"api://race-{trial}-{i}/read"] for i in range(count)]
        idp.control("hold", count=count, jitterMs=3, timeoutMs=15000)  # 8 processes on a loaded 2-core machine
        for worker, wanted in zip(servers, scopes):
            worker.send("silent", selector=selector, homeAccountId=home, scopes=wanted)
        replies = [worker.receive() for worker in servers]
        assert all(reply["ok"] for reply in replies), replies
        assert idp.control("arrived")["timedOut"] is False  # every refresh was held, then released together
        stored = json.loads(servers[1].call("export", selector=selector))
        targets = [entry["target"].lower().split() for entry in stored["AccessToken"].values()]
        lost += sum(1 for wanted in scopes if not any(wanted[0] in target for target in targets))
        # Then every token is served from the cache, whichever language wrote it.
        for worker, wanted in zip(servers, reversed(scopes)):
            assert worker.call("silent", selector=selector, homeAccountId=home, scopes=wanted)["fromCache"]
    assert lost == 0


@pytest.mark.parametrize("python", PYTHON_FORMS)
@pytest.mark.parametrize("count", [2, 8])
def test_sign_out_during_refreshes_leaves_nothing(workers, idp, count, python):
    servers, selector, home = signed_in_servers(workers, idp, count, "signout", python)
    idp.control("hold", count=count, autoRelease=False, timeoutMs=10000)
    for worker in servers:
        worker.send("silent", selector=selector, homeAccountId=home, scopes=SCOPES, forceRefresh=True)
    assert idp.control("arrived")["timedOut"] is False
    signer = workers("node" if count == 2 else "python")  # another server, its request free: the sign-out
    assert signer.call("remove", selector=selector) is True
    idp.control("release")
    replies = [worker.receive() for worker in servers]
    assert all(reply["ok"] for reply in replies), replies  # each request still got its token
    back = [worker.call("export", selector=selector) for worker in servers]
    assert back == [None] * count  # 0 partitions back after the sign-out
