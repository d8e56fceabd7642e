"""msal-python's http_client for the dev identity provider: every request msal-python makes (discovery, token
requests) goes to the provider's /msal-network as a forwarded request, so msal-python gets the very answers msal-node
gets. Used by the Flask example (dev mode) and by the Python tests."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional
from urllib.parse import urlencode

import requests


class Reply:
    """The requests.Response fields msal-python reads."""

    def __init__(self, status: int, headers: Dict[str, str], body: Any) -> None:
        self.status_code = status
        self.headers = headers
        self.text = body if isinstance(body, str) else json.dumps(body)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code}: {self.text}")


class MsalNetworkClient:
    def __init__(self, idp_url: str, timeout_seconds: float = 15) -> None:
        self.endpoint = f"{idp_url.rstrip('/')}/msal-network"
        self.timeout_seconds = timeout_seconds
        self.session = requests.Session()

    def _forward(self, method: str, url: str, params: Optional[Dict[str, Any]], body: Optional[str]) -> Reply:
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        reply = self.session.post(self.endpoint, json={"method": method, "url": url, "body": body},
                                  timeout=self.timeout_seconds)
        reply.raise_for_status()
        answer = reply.json()
        return Reply(answer["status"], answer.get("headers") or {}, answer["body"])

    def post(self, url: str, params: Optional[Dict[str, Any]] = None, data: Any = None, **kwargs: Any) -> Reply:
        return self._forward("POST", url, params, urlencode(data) if isinstance(data, dict) else data)

    def get(self, url: str, params: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Reply:
        return self._forward("GET", url, params, None)

    def close(self) -> None:
        self.session.close()
