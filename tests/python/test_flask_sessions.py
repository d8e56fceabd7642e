"""The Flask session interface (msal_redis_cache.flask) against a real redis-server, msal-python and the dev identity
provider: the Node store's format and keys (a Node process opens what Flask wrote and back), express-session's
signed cookie, a session and its partition expiring and going together, regeneration, values that are tampered
with, foreign or oversized, and Redis down."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any

import pytest
import redis

from conftest import free_port
from msal_redis_cache import RedisTokenCache
from msal_redis_cache.flask.cookie_signature import cookie_value, session_id_of
from msal_redis_cache.stored_value import SESSION, TOMBSTONE, open_value, seal
from support.flask_app import SCOPES, SECRET, cookie_of, sid_of, sign_in


def test_node_and_flask_read_each_others_sessions_and_cookies(flask_app: Any, workers: Any, redis_client: Any) -> None:
    node = workers("node")
    app = flask_app()
    client = app.test_client()
    first = client.get("/visit")
    sid = sid_of(first)
    header = cookie_of(first)
    # express-session's cookie, bit for bit: same name, value and signature; HttpOnly, SameSite=Lax, Path=/.
    assert header.split(";", 1)[0] == node.call("signedCookie", name="sid", sid=sid, secret=SECRET)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header and "Secure" not in header
    assert "Max-Age=86400" in header
    key = app.session_interface.store.session_key(sid)
    assert node.call("sessionKey", sid=sid) == key
    assert redis_client.get(key).startswith(b"mrc2 s ")
    assert 86300 < redis_client.ttl(key) <= 86400
    # Node's store opens Flask's session: express-session's shape, the cookie's expiry included.
    stored = node.call("sessionGet", sid=sid)
    assert stored["visits"] == 1 and stored["cookie"]["originalMaxAge"] == 86400000
    assert stored["cookie"]["httpOnly"] is True and stored["cookie"]["expires"].endswith("Z")
    # ... and Flask opens Node's (written by a separate process, with Node's own sealing).
    node.call("sessionSet", sid=sid, session={**stored, "visits": 41})
    assert client.get("/visit").json["visits"] == 42
    assert node.call("sessionGet", sid=sid)["visits"] == 42


def test_https_cookie_is_secure(flask_app: Any) -> None:
    client = flask_app().test_client()
    header = cookie_of(client.get("/visit", base_url="https://localhost"))
    assert "Secure" in header


def test_empty_and_unused_sessions_store_nothing(flask_app: Any, redis_client: Any, prefix: str) -> None:
    client = flask_app().test_client()
    assert client.get("/peek").headers.getlist("Set-Cookie") == []  # saveUninitialized: false
    assert client.get("/nothing").headers.getlist("Set-Cookie") == []
    assert redis_client.keys(f"{prefix}*") == []


def test_session_and_partition_expire_together(flask_app: Any, idp: Any, redis_client: Any) -> None:
    app = flask_app(max_age=2)
    client = app.test_client()
    signed_in = sign_in(client, idp, "erin@contoso.example")
    store = app.session_interface.store
    session_key, partition_key = store.session_key(signed_in["sid"]), store.partition_key(signed_in["sid"])
    assert redis_client.get(partition_key).startswith(b"mrc2 c ")
    assert 0 < redis_client.pttl(session_key) <= 2000 and 0 < redis_client.pttl(partition_key) <= 2000
    assert client.get("/silent", query_string={"scope": " ".join(SCOPES)}).json == {"token": True}
    time.sleep(2.3)
    assert redis_client.exists(session_key, partition_key) == 0
    assert client.get("/peek").json == {"visits": None, "account": None}


def test_regenerate_gives_a_new_id_and_drops_the_old_session(flask_app: Any, idp: Any, redis_client: Any) -> None:
    app = flask_app()
    client = app.test_client()
    before = sid_of(client.get("/visit"))
    signed_in = sign_in(client, idp, "fay@contoso.example")
    after = signed_in["sid"]
    assert after != before and sid_of(signed_in["response"]) == after
    store = app.session_interface.store
    assert redis_client.exists(store.session_key(before)) == 0
    assert client.get("/peek").json["account"]["username"] == "fay@contoso.example"
    old = app.test_client()
    old.set_cookie("localhost", "sid", cookie_of(client.get("/visit")).split(";")[0][4:].replace(after, before))
    assert old.get("/peek").json["visits"] is None  # the old id (its signature too) is worth nothing now


def test_sign_out_deletes_the_session_and_tombstones_the_partition(flask_app: Any, idp: Any,
                                                                    redis_client: Any) -> None:
    app = flask_app()
    client = app.test_client()
    sid = sign_in(client, idp, "gus@contoso.example")["sid"]
    store = app.session_interface.store
    reply = client.post("/signout")
    assert "sid=;" in cookie_of(reply) and "Expires=Thu, 01 Jan 1970" in cookie_of(reply)
    assert redis_client.exists(store.session_key(sid)) == 0
    keyring = store.settings.keyring
    partition = store.partition_key(sid)
    assert open_value(keyring, partition, redis_client.get(partition), int(time.time())).type == TOMBSTONE
    assert client.get("/peek").json["account"] is None


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign", "partition", "moved", "not-json", "no-cookie"])
def test_unreadable_values_are_no_session_with_a_warning(flask_app: Any, redis_client: Any, caplog: Any,
                                                        damage: str) -> None:
    app = flask_app()
    client = app.test_client()
    sid = sid_of(client.get("/visit"))
    store = app.session_interface.store
    key = store.session_key(sid)
    value = redis_client.get(key)
    if damage == "flip":
        value = value[:-3] + bytes([value[-3] ^ 1]) + value[-2:]
    elif damage == "truncate":
        value = value[:-10]
    elif damage == "foreign":
        value = json.dumps({"cookie": {}, "visits": 99}).encode()  # connect-redis's plain JSON: never trusted
    elif damage == "partition":
        value = value.replace(b"mrc2 s ", b"mrc2 c ", 1)  # the header is authenticated: does not open either
    elif damage in ("not-json", "no-cookie"):  # sealed right, but no express-session session inside
        now = int(time.time())
        body = b'{"visits": 99' if damage == "not-json" else b'{"visits": 99}'
        value = seal(store.settings.keyring, key, type=SESSION, created_at=now, not_after=now + 60, meta=sid,
                     body=body).value
    else:
        other = sid_of(app.test_client().get("/visit"))
        value = redis_client.get(store.session_key(other))  # another key's value: bound to its key
    redis_client.set(key, value)
    with caplog.at_level(logging.WARNING, logger="msal_redis_cache"):
        reply = client.get("/peek")
    assert reply.status_code == 200 and reply.json["visits"] is None
    assert any("ignoring unreadable session" in record.getMessage() for record in caplog.records)
    assert all(b"visits" not in record.getMessage().encode() for record in caplog.records)  # never the content


def test_oversized_values_are_refused(flask_app: Any, make_tokens: Any, redis_client: Any, caplog: Any) -> None:
    app = flask_app(make_tokens(max_value_bytes=4096))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    sid = sid_of(client.get("/visit"))
    key = app.session_interface.store.session_key(sid)
    redis_client.setrange(key, 9000, b"!")  # over max_value_bytes: read no further than max_value_bytes + 1 bytes
    with caplog.at_level(logging.WARNING, logger="msal_redis_cache"):
        assert client.get("/peek").json["visits"] is None
    assert any("over max_value_bytes" in record.getMessage() for record in caplog.records)
    assert client.get("/big", query_string={"bytes": 8000}).status_code == 500  # CacheFormatError: not stored


def test_a_cookie_signed_with_another_secret_is_no_session(flask_app: Any, workers: Any) -> None:
    node = workers("node")
    client = flask_app().test_client()
    sid = sid_of(client.get("/visit"))
    forged = node.call("signedCookie", name="sid", sid=sid, secret="another secret")
    intruder = flask_app().test_client()
    intruder.set_cookie("localhost", "sid", forged.split("=", 1)[1])
    reply = intruder.get("/visit")
    assert reply.json["visits"] == 1 and reply.json["sid"] != sid


def test_redis_down_is_503_not_sign_in(flask_app: Any, idp: Any) -> None:
    down = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    tokens = RedisTokenCache(redis=down, encryption_keys=[b"k" * 32], key_name_secret=b"n" * 32)
    app = flask_app(tokens)
    client = app.test_client()
    client.set_cookie("localhost", "sid", cookie_value("some-session-id", SECRET))  # a signed-in browser's cookie
    reply = client.get("/peek")
    assert reply.status_code == 503 and reply.json == {"unavailable": True}
    assert reply.headers.getlist("Set-Cookie") == []  # the browser keeps its cookie for when Redis is back
    assert client.get("/nothing").status_code == 200  # a request that does not use its session never waits on Redis



def test_redis_failing_after_the_read_loses_nothing(flask_app: Any, make_tokens: Any) -> None:
    """Redis frozen (SIGSTOP) after the session was read: the save after the view fails (a 500: it runs after the
    view, where no error handler of the app is called), a sign-out in the view fails (the app's 503), and once Redis
    answers again the session is as the last good save left it."""
    directory = tempfile.mkdtemp(prefix="mrc-pytest-frozen-")
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                               "no", "--dir", directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client_of_server = redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
        for _ in range(200):
            try:
                client_of_server.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.025)
        app = flask_app(make_tokens(redis=client_of_server))
        client = app.test_client()
        assert client.get("/visit").json["visits"] == 1
        app.config["THEN"] = lambda: server.send_signal(signal.SIGSTOP)
        try:
            reply = client.get("/visit-then")
            assert reply.status_code == 500
            assert reply.headers.getlist("Set-Cookie") == []
        finally:
            server.send_signal(signal.SIGCONT)
        assert client.get("/peek").json["visits"] == 1  # the failed save changed nothing
        server.send_signal(signal.SIGSTOP)
        try:
            signed_out = client.post("/signout")
            assert signed_out.status_code == 503
        finally:
            server.send_signal(signal.SIGCONT)
        assert client.get("/visit").json["visits"] == 2  # still signed in, the session intact
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(directory, ignore_errors=True)


def test_a_touch_past_the_sealed_lifetime_seals_the_session_again(flask_app: Any, make_tokens: Any,
                                                                  redis_client: Any) -> None:
    now = [1_900_000_000.0]
    app = flask_app(make_tokens(clock=lambda: now[0]), max_age=100)
    client = app.test_client()
    sid = sid_of(client.get("/visit"))
    key = app.session_interface.store.session_key(sid)
    assert redis_client.get(key).split(b" ")[4] == b"1900000200"  # notAfter: written + 2 x TTL
    now[0] += 50
    assert client.get("/peek").json["visits"] == 1  # a touch within the sealed lifetime: only EXPIRE
    assert redis_client.get(key).split(b" ")[4] == b"1900000200"
    now[0] += 100  # the next touch would carry the session past its notAfter: sealed again, content kept
    assert client.get("/peek").json["visits"] == 1
    assert redis_client.get(key).split(b" ")[4] == b"1900000350"
    assert client.get("/visit").json["visits"] == 2


def test_the_cookie_secret_rotates(flask_app: Any) -> None:
    before = flask_app(secret="old secret")
    reply = before.test_client().get("/visit")  # a cookie signed with the old secret
    rotated = flask_app(secret=["new secret", "old secret"])
    client = rotated.test_client()
    client.set_cookie("localhost", "sid", cookie_of(reply).split(";", 1)[0][len("sid="):])
    again = client.get("/visit")
    assert again.json["visits"] == 2 and again.json["sid"] == reply.json["sid"]  # the old secret still opens it
    value = cookie_of(again).split(";", 1)[0][len("sid="):]
    assert session_id_of(value, ["new secret"]) == again.json["sid"]  # and it is signed with the new one now
