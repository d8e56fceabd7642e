"""msal-python for one request, bound to the session's token-cache partition: one ConfidentialClientApplication per
request (Microsoft's guidance; a shared one would mix users' tokens), built on the session's `cache_for(...)`.

In dev mode msal-python talks to "https://login.microsoftonline.com/<tenant>" as usual (it insists on https and a
tenant in the path), and its requests are forwarded to the dev identity provider (`DevHttpClient`), which answers
them as it answers msal-node in the Express example; the browser is sent to the same paths on the provider's own
address (`browser_url`), as the Express example does."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional
from urllib.parse import urlencode

import msal
import requests

from config import Identity

TIMEOUT_SECONDS = 10


class _Reply:
    """The requests.Response fields msal-python reads."""

    def __init__(self, status: int, headers: Dict[str, str], body: Any) -> None:
        self.status_code = status
        self.headers = headers
        self.text = body if isinstance(body, str) else json.dumps(body)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code}: {self.text}")


class DevHttpClient:
    """msal-python's http_client in dev mode: every request goes to the dev identity provider's /msal-network."""

    def __init__(self, idp_url: str) -> None:
        self.endpoint = f"{idp_url}/msal-network"
        self.session = requests.Session()

    def _forward(self, method: str, url: str, params: Optional[Dict[str, Any]], body: Optional[str]) -> _Reply:
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        reply = self.session.post(self.endpoint, json={"method": method, "url": url, "body": body},
                                  timeout=TIMEOUT_SECONDS)
        reply.raise_for_status()
        answer = reply.json()
        return _Reply(answer["status"], answer.get("headers") or {}, answer["body"])

    def post(self, url: str, params: Optional[Dict[str, Any]] = None, data: Any = None, **kwargs: Any) -> _Reply:
        return self._forward("POST", url, params, urlencode(data) if isinstance(data, dict) else data)

    def get(self, url: str, params: Optional[Dict[str, Any]] = None, **kwargs: Any) -> _Reply:
        return self._forward("GET", url, params, None)


class IdentityClient:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.http = DevHttpClient(identity.dev_idp_url) if identity.dev_idp_url else None

    def msal_app(self, cache: Optional[msal.SerializableTokenCache] = None) -> msal.ConfidentialClientApplication:
        options: Dict[str, Any] = {"token_cache": cache}
        if self.http is not None:
            options["http_client"] = self.http
        return msal.ConfidentialClientApplication(self.identity.client_id, client_credential=self.identity.client_secret,
                                                  authority=self.identity.authority, **options)

    def redirect_uri(self, host_url: str) -> str:
        return self.identity.redirect_uri or f"{host_url.rstrip('/')}/auth/redirect"

    def browser_url(self, url: str) -> str:
        """Where the browser signs in: msal's URL, on the dev identity provider in dev mode."""
        if self.identity.dev_idp_url is None:
            return url
        return url.replace(f"https://{self.identity.entra_host}/", f"{self.identity.dev_idp_url}/dev-idp/", 1)

    def sign_out_url(self, origin: str) -> str:
        if self.identity.mode == "dev":
            return "/?signedout=1"
        home = self.identity.redirect_uri.rsplit("/auth/", 1)[0] + "/" if self.identity.redirect_uri else origin
        return f"{self.identity.authority}/oauth2/v2.0/logout?{urlencode({'post_logout_redirect_uri': home})}"

    def refresh_grants(self) -> Optional[int]:
        """How many refresh tokens the dev identity provider redeemed (all users); None with Entra (it does not tell)."""
        if self.identity.dev_idp_url is None:
            return None
        try:
            return int(requests.get(f"{self.identity.dev_idp_url}/dev-grants", timeout=2).json()["refreshToken"])
        except (requests.RequestException, ValueError, KeyError):
            return None
