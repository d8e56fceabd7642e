"""An in-process token endpoint for the Python benchmark: msal-python's http_client answering the OpenID
configuration and the token grants at once (no process hop, no sockets), so a measured call is msal-python plus the
cache. Not a test double for correctness: the tests use the repository's dev identity provider (tests/python)."""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any, Dict
from urllib.parse import parse_qs

TENANT = "11111111-1111-4111-8111-111111111111"
CLIENT_ID = "bench-client"
AUTHORITY = f"https://login.microsoftonline.com/{TENANT}"
UID = "22222222-2222-4222-8222-222222222222"
HOME_ACCOUNT_ID = f"{UID}.{TENANT}"


def _b64(data: Dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class _Response:
    def __init__(self, body: Dict[str, Any]) -> None:
        self.status_code, self.headers, self.text = 200, {}, json.dumps(body)

    def raise_for_status(self) -> None:
        pass


class FakeIdentityProvider:
    def get(self, url: str, **kwargs: Any) -> _Response:
        base = f"https://login.microsoftonline.com/{TENANT}"
        return _Response({"token_endpoint": f"{base}/oauth2/v2.0/token", "issuer": f"{base}/v2.0",
                          "authorization_endpoint": f"{base}/oauth2/v2.0/authorize"})

    def post(self, url: str, data: Any = None, **kwargs: Any) -> _Response:
        form = data if isinstance(data, dict) else {k: v[0] for k, v in parse_qs(data or "").items()}
        now = int(time.time())
        claims = {"aud": CLIENT_ID, "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "iat": now,
                  "nbf": now, "exp": now + 3600, "oid": UID, "tid": TENANT, "sub": f"sub-{UID}",
                  "preferred_username": "bench@contoso.example", "name": "Bench"}
        return _Response({
            "token_type": "Bearer", "scope": form.get("scope", ""), "expires_in": 3600, "ext_expires_in": 3600,
            "access_token": base64.urlsafe_b64encode(os.urandom(900)).decode(),
            "refresh_token": base64.urlsafe_b64encode(os.urandom(600)).decode(),
            "id_token": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
            "client_info": _b64({"uid": UID, "utid": TENANT}),
        })
