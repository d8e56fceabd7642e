"""What a stored value cannot be used for: corrupt, foreign, expired (its authenticated notAfter, whatever Redis's TTL
says), oversized, under a key no longer in the ring. Each is a cache miss with a warning, never an exception; misuse
raises clear errors."""

from __future__ import annotations

import logging

import pytest

from conftest import ENCRYPTION_KEY, KEY_NAME_SECRET, REDIRECT_URI, SCOPES
from msal_redis_cache import CacheFormatError, ConfigurationError, RedisTokenCache
from support.python_server import PythonServer

NEW_KEY = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho="


def signed_in(server, idp, session_id="s"):
    user = idp.control("addUser", username="carol@contoso.example")
    server.sign_in({"sessionId": session_id}, idp.sign_in_code(user), SCOPES, REDIRECT_URI)
    key = server.tokens.cache_for(session_id=session_id).key
    return user, key


def test_corrupt_value_is_a_miss_with_a_warning(server, idp, redis_client, caplog):
    _, key = signed_in(server, idp)
    value = bytearray(redis_client.get(key))
    value[-20] ^= 1
    redis_client.set(key, bytes(value))
    with caplog.at_level(logging.WARNING):
        assert server.app({"sessionId": "s"}).get_accounts() == []
    assert "does not decrypt" in caplog.text


@pytest.mark.parametrize("stored, why", [(b"plain text", "not a msal-redis-cache value"),
                                         (b"mrc1 old format\n", "mrc1"),
                                         (None, "holds a Redis hash")])
def test_foreign_values_are_misses(server, idp, redis_client, caplog, stored, why):
    _, key = signed_in(server, idp)
    redis_client.delete(key)
    if stored is None:
        redis_client.hset(key, "a", "b")
    else:
        redis_client.set(key, stored)
    with caplog.at_level(logging.WARNING):
        assert server.app({"sessionId": "s"}).get_accounts() == []
    assert why in caplog.text


def test_a_value_past_its_not_after_is_refused_even_if_persisted(make_tokens, idp, redis_client, caplog):
    now = [1_900_000_000.0]
    server = PythonServer(make_tokens(clock=lambda: now[0], sliding_seconds=3600, absolute_seconds=7200), idp.auth,
                          idp.url)
    tokens = server.tokens
    key = tokens.cache_for(session_id="s").key
    tokens.import_partition(make_cache("oid.tid", now[0]), session_id="s")
    assert tokens.export_partition(session_id="s") is not None
    redis_client.persist(key)  # a Redis writer keeps it past its TTL
    now[0] += 7200 + 61
    with caplog.at_level(logging.WARNING):
        assert tokens.export_partition(session_id="s") is None
    assert "its notAfter" in caplog.text


def test_oversized_values_are_not_transferred(make_tokens, server, idp, redis_client, caplog):
    _, key = signed_in(server, idp)
    small = make_tokens(max_value_bytes=100)
    with caplog.at_level(logging.WARNING):
        assert small.export_partition(session_id="s") is None
    assert "over max_value_bytes" in caplog.text
    with pytest.raises(CacheFormatError, match="over max_value_bytes"):
        small.import_partition("x" * 101, session_id="s")


def test_key_rotation(make_tokens, server, idp, caplog):
    user, _ = signed_in(server, idp)
    rotated = PythonServer(make_tokens(encryption_keys=[NEW_KEY, ENCRYPTION_KEY]), idp.auth, idp.url)
    assert rotated.silent({"sessionId": "s"}, user["homeAccountId"], SCOPES)["accessToken"]  # old key still opens
    rotated.silent({"sessionId": "s"}, user["homeAccountId"], SCOPES, force_refresh=True)  # written under the new
    only_new = make_tokens(encryption_keys=[NEW_KEY])
    assert only_new.export_partition(session_id="s") is not None
    with caplog.at_level(logging.WARNING):
        assert server.tokens.export_partition(session_id="s") is None  # the old ring alone cannot read it
    assert "not in encryption_keys" in caplog.text


def test_misuse_raises_configuration_errors(redis_client):
    secrets = {"encryption_keys": [ENCRYPTION_KEY], "key_name_secret": KEY_NAME_SECRET}
    with pytest.raises(ConfigurationError, match="encryption_keys is required"):
        RedisTokenCache(redis=redis_client)
    with pytest.raises(ConfigurationError, match="32 random bytes"):
        RedisTokenCache(redis=redis_client, encryption_keys=["c2hvcnQ="], key_name_secret=KEY_NAME_SECRET)
    with pytest.raises(ConfigurationError, match="must differ"):
        RedisTokenCache(redis=redis_client, encryption_keys=[ENCRYPTION_KEY], key_name_secret=ENCRYPTION_KEY)
    with pytest.raises(ConfigurationError, match="redis-py client"):
        RedisTokenCache(redis="redis://localhost", **secrets)
    with pytest.raises(ConfigurationError, match="decode_responses"):
        RedisTokenCache(redis=type(redis_client)(decode_responses=True), **secrets)
    with pytest.raises(ConfigurationError, match="absolute_seconds"):
        RedisTokenCache(redis=redis_client, sliding_seconds=10, absolute_seconds=5, **secrets)
    with pytest.raises(TypeError):
        RedisTokenCache(redis=redis_client, slidingSeconds=10, **secrets)


def make_cache(home_account_id: str, now: float) -> str:
    import json
    env, client = "login.microsoftonline.com", "python-test-client"
    return json.dumps({
        "Account": {f"{home_account_id}-{env}-tid": {"home_account_id": home_account_id, "environment": env,
                                                      "realm": "tid", "local_account_id": "oid", "username": "u",
                                                      "authority_type": "MSSTS"}},
        "RefreshToken": {f"{home_account_id}-{env}-refreshtoken-{client}--": {
            "credential_type": "RefreshToken", "secret": "rt", "home_account_id": home_account_id,
            "environment": env, "client_id": client, "target": "", "last_modification_time": str(int(now))}},
    })
