"""One Python server of an app, as the tests drive it: a RedisTokenCache and one new msal ConfidentialClientApplication
per operation, with cache_for(...) as its token_cache: all an app changes. The same operations as node_worker.js, so
tests drive both languages alike (in-process here, or as python_worker.py). `scoped`: each operation runs inside
`with tokens.cache_for(...) as cache:` (one write when it ends), the documented form; else the cache writes each
change msal makes at once."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

import msal

from msal_redis_cache import RedisTokenCache

from .msal_http import ForwardingHttpClient

SNAKE = {"sessionId": "session_id", "homeAccountId": "home_account_id", "tenantId": "tenant_id",
         "userAssertion": "user_assertion"}


def snake(selector: Dict[str, str]) -> Dict[str, str]:
    return {SNAKE[name]: value for name, value in selector.items()}


class PythonServer:
    def __init__(self, tokens: RedisTokenCache, auth: Dict[str, Any], idp_url: str, scoped: bool = False) -> None:
        self.tokens = tokens
        self.auth = auth
        self.http = ForwardingHttpClient(idp_url)
        self.scoped = scoped

    def app(self, selector: Dict[str, str], authority: Optional[str] = None) -> msal.ConfidentialClientApplication:
        """An msal app on a cache that writes each change at once (not in a `with` block)."""
        return self.msal_app(self.tokens.cache_for(**snake(selector), client_id=self.auth["clientId"]), authority)

    def msal_app(self, cache: Any, authority: Optional[str] = None) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            self.auth["clientId"], client_credential=self.auth["clientSecret"],
            authority=authority or self.auth["authority"], http_client=self.http, token_cache=cache,
            )

    @contextmanager
    def request(self, selector: Dict[str, str], authority: Optional[str] = None
                ) -> Iterator[msal.ConfidentialClientApplication]:
        """One request's msal app, in the form this server uses (see the top of this file)."""
        cache = self.tokens.cache_for(**snake(selector), client_id=self.auth["clientId"])
        if not self.scoped:
            yield self.msal_app(cache, authority)
            return
        with cache:
            yield self.msal_app(cache, authority)

    def sign_in(self, selector: Dict[str, str], code: str, scopes: List[str], redirect_uri: str) -> Dict[str, Any]:
        with self.request(selector) as app:
            result = app.acquire_token_by_authorization_code(code, scopes, redirect_uri=redirect_uri)
        return self._token(result) | {"homeAccountId": self._home_account_id(result)}

    def silent(self, selector: Dict[str, str], home_account_id: str, scopes: List[str],
               force_refresh: bool = False) -> Dict[str, Any]:
        with self.request(selector) as app:
            accounts = [a for a in app.get_accounts() if a["home_account_id"] == home_account_id]
            if not accounts:
                raise LookupError(f"no account {home_account_id} in the cache")
            result = app.acquire_token_silent_with_error(scopes, accounts[0], force_refresh=force_refresh)
        if result is None:
            raise LookupError("acquire_token_silent found nothing to use")
        # msal-python 1.21 has no token_source: a cache hit is a bare {access_token, token_type, expires_in}.
        return self._token(result) | {"fromCache": "id_token_claims" not in result}

    def remove_account(self, selector: Dict[str, str], home_account_id: str) -> None:
        """msal-python's own sign-out: app.remove_account(account)."""
        with self.request(selector) as app:
            for account in app.get_accounts():
                if account["home_account_id"] == home_account_id:
                    app.remove_account(account)

    def app_token(self, tenant_id: str, scopes: List[str]) -> Dict[str, Any]:
        authority = re.sub(r"[^/]+$", tenant_id, self.auth["authority"])
        with self.request({"tenantId": tenant_id}, authority) as app:
            # msal-python 1.21's acquire_token_for_client never reads the cache (1.23 does): silent with no account
            # first.
            cached = app.acquire_token_silent(scopes, account=None)
            return (self._token(cached) | {"fromCache": True} if cached
                    else self._token(app.acquire_token_for_client(scopes)))

    def on_behalf_of(self, assertion: str, scopes: List[str]) -> Dict[str, Any]:
        """python/README.md's on-behalf-of pattern (msal-python's own samples'): the per-assertion partition's account
        and acquire_token_silent first, the identity provider only when that finds nothing."""
        with self.request({"userAssertion": assertion}) as app:
            accounts = app.get_accounts()
            cached = app.acquire_token_silent(scopes, accounts[0]) if accounts else None
            if cached:
                return self._token(cached) | {"fromCache": "id_token_claims" not in cached}
            return self._token(app.acquire_token_on_behalf_of(assertion, scopes))

    def remove(self, selector: Dict[str, str]) -> bool:
        return self.tokens.remove_partition(**snake(selector), client_id=self.auth["clientId"])

    def export(self, selector: Dict[str, str]) -> Optional[str]:
        return self.tokens.export_partition(**snake(selector), client_id=self.auth["clientId"])

    @staticmethod
    def _token(result: Dict[str, Any]) -> Dict[str, Any]:
        if "access_token" not in result:
            raise RuntimeError(f"{result.get('error')}: {result.get('error_description')}")
        return {"accessToken": result["access_token"], "fromCache": False}

    @staticmethod
    def _home_account_id(result: Dict[str, Any]) -> str:
        import base64
        import json
        info = result.get("client_info") or ""
        claims = json.loads(base64.urlsafe_b64decode(info + "=" * (-len(info) % 4)))
        return f"{claims['uid']}.{claims['utid']}"
