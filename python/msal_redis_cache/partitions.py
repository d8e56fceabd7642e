"""Which partition a cache reads and writes, and the Redis key it lives under: js/msal/partitions.js's rules and names.
Key names carry no personal data: the id (session id, home account id, tenant, assertion hash) is replaced by a keyed
HMAC of it (keyring.py), so the same user maps to the same key on every server, Node or Python."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import List, Optional

from .errors import ConfigurationError
from .keyring import Keyring, base64url

# Every partition key is <prefix><kind>:<HMAC name>, with one of these kinds.
PARTITION_KEY_KINDS = ("session", "account", "app", "obo")
SELECTORS = ("session_id", "home_account_id", "tenant_id", "user_assertion")


@dataclass(frozen=True)
class Partition:
    mode: str  # "session", "account", "app" or "obo"
    partition_key: str  # the Redis key without the prefix
    # Core partition ids this partition may hold; None: the account that the session itself signed in (at run time).
    allowed: Optional[List[str]]
    kind: str  # "account", "app" or "obo": decides the core's TTL rule
    client_id: Optional[str]
    # On-behalf-of: msal-node's userAssertionHash of the incoming token, which msal-python does not record itself.
    assertion_hash: Optional[str] = None


def require_string(value: object, name: str) -> str:
    if not isinstance(value, str) or value == "":
        raise ConfigurationError(f"{name} must be a non-empty string")
    if "\n" in value or "\r" in value:
        raise ConfigurationError(f"{name} must not contain line breaks")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Node encodes a lone surrogate as U+FFFD before hashing: "a\ud800" and "a\udfff" would share one partition.
        raise ConfigurationError(f"{name} must be well-formed Unicode (it has a lone surrogate)") from None
    return value


def user_assertion_hash(assertion: str) -> str:
    """msal-node's userAssertionHash: base64url(SHA-256(assertion))."""
    return base64url(hashlib.sha256(assertion.encode("utf-8")).digest())


def session_tag(keyring: Keyring, session_id: str) -> str:
    """The key-name part of a session: its session key and its partition share it (one Redis Cluster hash slot)."""
    return "{" + keyring.name("session", require_string(session_id, "session_id")) + "}"


def resolve_partition(
    keyring: Keyring,
    client_id: Optional[str],
    session_id: Optional[str] = None,
    home_account_id: Optional[str] = None,
    tenant_id: Optional[str] = None,
    user_assertion: Optional[str] = None,
) -> Partition:
    given = {name: value for name, value in zip(SELECTORS, (session_id, home_account_id, tenant_id, user_assertion))
             if value is not None}
    if len(given) != 1:
        raise ConfigurationError(
            "choose exactly one partition: session_id= | home_account_id= | tenant_id= | user_assertion="
        )
    [(name, value)] = given.items()
    value = require_string(value, name)
    if name == "session_id":
        return Partition("session", f"session:{session_tag(keyring, value)}", None, "account", client_id)
    if name == "home_account_id":
        return Partition("account", f"account:{keyring.name('account', value)}", [f"account:{value}"], "account",
                         client_id)
    client = require_string(client_id, "client_id")
    if name == "tenant_id":
        return Partition("app", "app:" + keyring.name("app", client + "\n" + value), [f"app:{value}"], "app", client)
    digest = user_assertion_hash(value)
    return Partition("obo", "obo:" + keyring.name("obo", client + "\n" + digest), [f"obo:{digest}"], "obo", client,
                     digest)
