"""msal-python's http_client for the tests: every request goes to the shared dev identity provider
(tests/python/support/idp_server.js) as a forwarded request, so msal-python gets the very answers msal-node gets."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional
from urllib.parse import urlencode

import requests


class Response:
    def __init__(self, status: int, headers: Dict[str, str], body: Any) -> None:
        self.status_code = status
        self.headers = headers
        self.text = body if isinstance(body, str) else json.dumps(body)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code}: {self.text}")


class ForwardingHttpClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def _forward(self, method: str, url: str, params: Optional[Dict[str, Any]], body: Optional[str]) -> Response:
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        reply = self.session.post(f"{self.base_url}/msal-network", json={"method": method, "url": url, "body": body},
                                  timeout=15)
        reply.raise_for_status()
        answer = reply.json()
        return Response(answer["status"], answer.get("headers") or {}, answer["body"])

    def post(self, url: str, params: Optional[Dict[str, Any]] = None, data: Any = None,
             headers: Optional[Dict[str, str]] = None, **kwargs: Any) -> Response:
        body = urlencode(data) if isinstance(data, dict) else data
        return self._forward("POST", url, params, body)

    def get(self, url: str, params: Optional[Dict[str, Any]] = None, headers: Optional[Dict[str, str]] = None,
            **kwargs: Any) -> Response:
        return self._forward("GET", url, params, None)

    def close(self) -> None:
        self.session.close()
