"""The format of every value stored in Redis, exactly as js/storage/stored-value.js writes and reads it:

    b"mrc2 <type> <etag> <createdAt> <notAfter> <keyId>\\n<sealed>"

type "c" a token-cache partition, "s" a session, "t" a tombstone; etag 16 base64url characters (the AES-GCM nonce,
and the version a compare-and-set checks); createdAt the partition's first write; notAfter the epoch second after
which the value is refused whatever Redis says; keyId the key's fingerprint, or "plain". sealed is AES-256-GCM of
"<uri-encoded meta>\\n<body>" with the tag at the end, the additional data being "<redis key>\\n<header>"; with
"plain", the plaintext and a SHA-256 over the same data. See js/storage/stored-value.js for why each field is there."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from typing import Optional, Union
from urllib.parse import quote, unquote

from cryptography.exceptions import InvalidTag

from .keyring import Keyring, base64url

MAGIC = "mrc2"
PARTITION, SESSION, TOMBSTONE = "c", "s", "t"
PLAIN = "plain"
NONCE_BYTES = 12
TAG_BYTES = 16
DIGEST_BYTES = 32
MAX_HEADER_BYTES = 96
# Servers' clocks differ a little: a value is refused this long after its notAfter, not at once.
CLOCK_SKEW_SECONDS = 60
_HEADER = re.compile(rb"^mrc2 ([cst]) ([A-Za-z0-9_-]{16}) (\d{1,15}) (\d{1,15}) ([A-Za-z0-9_-]{1,16})$")
_MALFORMED_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# What encodeURIComponent leaves as it is, besides letters, digits and "_.-~" (which quote keeps anyway).
_URI_SAFE = "!*'()"


class UnreadableValue(Exception):
    """A value that cannot be used; its message is short and never contains the value. ``expired``: the value is
    intact but past its notAfter."""

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass
class Sealed:
    value: bytes
    etag: str


@dataclass
class Opened:
    type: str
    etag: str
    created_at: int
    not_after: int
    key_id: str
    meta: Optional[str]
    body: Optional[bytes]  # None for a tombstone


def _aad(key: str, head: str) -> bytes:
    return f"{key}\n{head}".encode("utf-8")


def seal(
    keyring: Keyring,
    key: str,
    *,
    type: str,
    created_at: int,
    not_after: int,
    body: Union[bytes, str],
    meta: Optional[str] = None,
) -> Sealed:
    if not isinstance(not_after, int) or not_after < 0:
        raise TypeError(f"not_after must be epoch seconds (got {not_after!r})")
    nonce = os.urandom(NONCE_BYTES)
    etag = base64url(nonce)
    key_id = PLAIN if keyring.plaintext else keyring.current_id
    head = f"{MAGIC} {type} {etag} {created_at} {not_after} {key_id}"
    aad = _aad(key, head)
    body_bytes = body.encode("utf-8") if isinstance(body, str) else body
    plain = b"".join((b"" if meta is None else quote(meta, safe=_URI_SAFE).encode("ascii"), b"\n", body_bytes))
    if keyring.plaintext:
        sealed = plain + hashlib.sha256(aad + plain).digest()
    else:
        sealed = keyring.current().encrypt(nonce, plain, aad)  # ciphertext, then the 16-byte tag: as Node's
    return Sealed(value=b"".join((head.encode("latin-1"), b"\n", sealed)), etag=etag)  # one copy of the body


def tombstone(keyring: Keyring, key: str, removed_at: int, not_after: int) -> Sealed:
    """The partition at `key` was removed at `removed_at` and stays removed until `not_after`."""
    return seal(keyring, key, type=TOMBSTONE, created_at=removed_at, not_after=not_after, body=b"")


def is_live(type: str, not_after: int, now_seconds: int) -> bool:
    """Whether a value of `type` whose header says `not_after` may still be used at `now_seconds`."""
    if not_after == 0:
        return type == SESSION
    return now_seconds <= not_after + CLOCK_SKEW_SECONDS


def open_value(keyring: Keyring, key: str, value: bytes, now_seconds: int) -> Opened:
    """Verifies and decrypts a value read from `key`; raises UnreadableValue for anything that is not an intact, live
    value of this key under a key of the ring."""
    if value[:5] == b"mrc1 ":
        raise UnreadableValue("an mrc1 value (from version 0.1)")
    end = value.find(b"\n", 0, MAX_HEADER_BYTES + 1)
    if end < 0:
        raise UnreadableValue("not a msal-redis-cache value")
    match = _HEADER.match(value[:end])
    if not match:
        raise UnreadableValue("not a msal-redis-cache value (unknown format version or header)")
    type, etag, created_at, not_after, key_id = (part.decode("latin-1") for part in match.groups())
    created, after = int(created_at), int(not_after)
    if not is_live(type, after, now_seconds):
        why = "has no notAfter" if after == 0 else f"expired {now_seconds - after} s ago (its notAfter)"
        raise UnreadableValue(f"{why}, although Redis still holds it", expired=True)
    aad = _aad(key, value[:end].decode("latin-1"))
    sealed = value[end + 1 :]
    if key_id == PLAIN:
        if not keyring.plaintext:
            raise UnreadableValue("stored unencrypted (insecure_plaintext_storage), but this cache encrypts: refused")
        payload = sealed[: max(0, len(sealed) - DIGEST_BYTES)]
        if len(sealed) < DIGEST_BYTES or hashlib.sha256(aad + payload).digest() != sealed[len(payload) :]:
            raise UnreadableValue("integrity check failed (corrupted, truncated, or copied from another key)")
    else:
        cipher = keyring.by_id.get(key_id)
        if cipher is None:
            raise UnreadableValue(f"encrypted under key id {key_id}, which is not in encryption_keys")
        if len(sealed) < TAG_BYTES:
            raise UnreadableValue("truncated")
        try:
            payload = cipher.decrypt(base64.urlsafe_b64decode(etag + "=="), sealed, aad)
        except InvalidTag:
            raise UnreadableValue("does not decrypt (altered, truncated, or copied from another key)") from None
    meta_end = payload.find(b"\n")
    if meta_end < 0:
        raise UnreadableValue("malformed content")
    if type == TOMBSTONE:
        if len(payload) != 1:
            raise UnreadableValue("malformed tombstone")
        return Opened(type, etag, created, after, key_id, None, None)
    meta: Optional[str] = None
    if meta_end > 0:
        text = payload[:meta_end].decode("latin-1")
        if _MALFORMED_ESCAPE.search(text):
            raise UnreadableValue("malformed content")
        try:
            meta = unquote(text, errors="strict")
        except UnicodeDecodeError:
            raise UnreadableValue("malformed content") from None
    return Opened(type, etag, created, after, key_id, meta, payload[meta_end + 1 :])
