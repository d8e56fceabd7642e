"""The secrets of a token cache, as js/storage/keyring.js has them: the encryption keys (the first encrypts, every one
decrypts, so keys can be rotated without a flag day) and the key-name secret, which turns "session <id>" or
"account <oid.tid>" into a Redis key name that reveals nothing and stays the same across a rotation of the encryption
keys. Key ids and key names are the Node package's, bit for bit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Union

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import ConfigurationError

KEY_BYTES = 32
KEY_ID_CHARS = 11  # 66 bits of a keyed fingerprint: tells keys apart, reveals nothing about them
NAME_CHARS = 27  # 160 bits: key names never collide in practice
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
MAKE_KEY_COMMAND = "python3 -c \"import base64, os; print(base64.b64encode(os.urandom(32)).decode())\""

KeyMaterial = Union[str, bytes, bytearray, memoryview]


def base64url(data: bytes) -> str:
    """Unpadded base64url, as Node's digest('base64url')."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode_base64(text: str) -> Optional[bytes]:
    """Node's Buffer.from(text, 'base64'): base64 or base64url, padding optional."""
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except ValueError:
        return None


def key_bytes(value: object, name: str) -> bytes:
    """32 key bytes from a base64 (or base64url) string or bytes; a ConfigurationError otherwise."""
    data: Optional[bytes] = None
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif isinstance(value, str) and _BASE64.match(value.strip()):
        data = _decode_base64(value.strip())
    if data is None or len(data) != KEY_BYTES:
        got = f"a {type(value).__name__}" if data is None else f"{len(data)} bytes"
        raise ConfigurationError(
            f"{name} must be {KEY_BYTES} random bytes, as a base64 string or bytes (got {got}). "
            f"Make one with: {MAKE_KEY_COMMAND}"
        )
    return data


def key_id_of(data: bytes) -> str:
    """The key's public name in stored values: a fingerprint, never the key."""
    return base64url(hmac.new(data, b"msal-redis-cache key id", hashlib.sha256).digest())[:KEY_ID_CHARS]


@dataclass
class Keyring:
    plaintext: bool
    current_id: Optional[str]
    by_id: Dict[str, AESGCM] = field(repr=False)
    name_secret: Optional[bytes] = field(repr=False)

    def current(self) -> AESGCM:
        assert self.current_id is not None
        return self.by_id[self.current_id]

    def name(self, kind: str, id: str) -> str:
        """The HMAC-SHA-256 of "<kind>\\n<id>" (plain SHA-256 without a secret, plaintext storage only), 27 chars."""
        data = f"{kind}\n{id}".encode("utf-8")
        digest = (
            hmac.new(self.name_secret, data, hashlib.sha256).digest()
            if self.name_secret is not None
            else hashlib.sha256(data).digest()
        )
        return base64url(digest)[:NAME_CHARS]


def create_keyring(
    encryption_keys: Optional[Sequence[KeyMaterial]],
    key_name_secret: Optional[KeyMaterial],
    insecure_plaintext_storage: bool = False,
) -> Keyring:
    if not isinstance(insecure_plaintext_storage, bool):
        raise ConfigurationError("insecure_plaintext_storage must be True or False")
    plaintext = insecure_plaintext_storage
    if plaintext and encryption_keys is not None:
        raise ConfigurationError("choose one: encryption_keys (encrypted storage) or insecure_plaintext_storage=True")
    if not plaintext and encryption_keys is None:
        raise ConfigurationError(
            "encryption_keys is required: tokens are encrypted at rest. Make a key, and a second one for "
            f"key_name_secret, with: {MAKE_KEY_COMMAND} and pass encryption_keys=[key], key_name_secret=... "
            "(insecure_plaintext_storage=True stores tokens unencrypted, for development only.)"
        )
    by_id: Dict[str, AESGCM] = {}
    current_id: Optional[str] = None
    if not plaintext:
        if isinstance(encryption_keys, (str, bytes)) or not isinstance(encryption_keys, (list, tuple)) or not encryption_keys:
            raise ConfigurationError("encryption_keys must be a non-empty list: [current_key, *previous_keys]")
        for index, value in enumerate(encryption_keys):
            data = key_bytes(value, f"encryption_keys[{index}]")
            key_id = key_id_of(data)
            if key_id in by_id:
                raise ConfigurationError(f"encryption_keys[{index}] repeats an earlier key")
            by_id[key_id] = AESGCM(data)
            if index == 0:
                current_id = key_id
        if key_name_secret is None:
            raise ConfigurationError(
                "key_name_secret is required with encryption_keys (it names Redis keys without personal data, and "
                f"must never change). Make one with: {MAKE_KEY_COMMAND}"
            )
    name_secret = None if key_name_secret is None else key_bytes(key_name_secret, "key_name_secret")
    if name_secret is not None and key_id_of(name_secret) in by_id:
        raise ConfigurationError("key_name_secret must differ from every encryption key")
    return Keyring(plaintext=plaintext, current_id=current_id, by_id=by_id, name_secret=name_secret)
