"""msal-python for one request, bound to the session's token-cache partition: one ConfidentialClientApplication per
request (Microsoft's guidance; a shared one would mix users' tokens), built on the session's `cache_for(...)`.

In dev mode msal-python talks to "https://login.microsoftonline.com/<tenant>" as usual (it insists on https and a
tenant in the path), and its requests are forwarded to the dev identity provider (`msal_network.MsalNetworkClient`, examples/dev-identity-provider/msal_network.py), which answers
them as it answers msal-node in the Express example; the browser is sent to the same paths on the provider's own
address (`browser_url`), as the Express example does."""

from __future__ import annotations

from typing import Any, Dict, Optional
from urllib.parse import urlencode

import msal
import requests

from config import Identity
from msal_network import MsalNetworkClient  # examples/dev-identity-provider (on the path: server.py)

TIMEOUT_SECONDS = 10


class IdentityClient:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.http = MsalNetworkClient(identity.dev_idp_url, TIMEOUT_SECONDS) if identity.dev_idp_url else None

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
