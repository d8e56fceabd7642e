"""express-session's signed session cookie (the cookie-signature package), so that one cookie works in an Express and
a Flask app that share the secret: the value is "s:" + id + "." + base64(HMAC-SHA-256(secret, id)) without "="
padding, percent-encoded as JavaScript's encodeURIComponent does (the cookie package's serialize)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Optional, Sequence
from urllib.parse import quote, unquote

SIGNED = "s:"
_URI_SAFE = "!*'()"  # what encodeURIComponent leaves as it is, besides letters, digits and "_.-~"


def sign(value: str, secret: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).digest()
    return f"{value}.{base64.b64encode(mac).decode('ascii').rstrip('=')}"


def unsign(signed: str, secrets: Sequence[str]) -> Optional[str]:
    """The value, when `signed` carries a valid signature under one of `secrets` (any: rotation), else None."""
    dot = signed.rfind(".")
    if dot < 0:
        return None
    value = signed[:dot]
    # Compared whole and in constant time, as cookie-signature does.
    return value if any(hmac.compare_digest(sign(value, secret).encode(), signed.encode()) for secret in secrets) \
        else None


def cookie_value(session_id: str, secret: str) -> str:
    """What to put in the Set-Cookie header: as express-session writes it."""
    return quote(SIGNED + sign(session_id, secret), safe=_URI_SAFE)


def session_id_of(raw: Optional[str], secrets: Sequence[str]) -> Optional[str]:
    """The session id a cookie value carries, when it is signed with one of `secrets`; None otherwise (a cookie that
    is not signed, or signed with another secret, is no session: express-session ignores it too)."""
    if not raw:
        return None
    try:
        text = unquote(raw, errors="strict") if "%" in raw else raw
    except UnicodeDecodeError:
        text = raw  # the cookie package keeps a value it cannot decode as it is
    if not text.startswith(SIGNED):
        return None
    return unsign(text[len(SIGNED):], secrets)
