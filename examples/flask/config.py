"""The Flask example's settings, from the same environment variables as the Express example:
  - Entra mode: TENANT_ID, CLIENT_ID, CLIENT_SECRET and REDIRECT_URI (API_URL, API_SCOPES optional): Microsoft
    Entra ID, and Microsoft Graph /me as the API;
  - dev mode (none of them): the stand-alone development identity provider (examples/dev-identity-provider/
    server.js) at DEV_IDP_URL (default http://127.0.0.1:3100), which also serves the local API;
  - REDIS_URL (default redis://127.0.0.1:6379), SESSION_SECRET, ENCRYPTION_KEYS (comma-separated, current first),
    KEY_NAME_SECRET: the same secrets as an Express instance to share its Redis, sessions and token caches;
    TOKEN_CACHE_PREFIX ("msal:") and SESSION_PREFIX ("sess:"): the key prefixes, the Express example's defaults."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import urllib.request
from dataclasses import dataclass, field
from typing import List, Mapping, Optional

ENTRA_VARIABLES = ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET", "REDIRECT_URI")
DEFAULT_DEV_IDP_URL = "http://127.0.0.1:3100"
DEFAULT_SESSION_SECONDS = 24 * 3600  # = the token cache's default sliding window: both expire together


@dataclass
class Identity:
    mode: str  # "entra" or "dev"
    client_id: str
    client_secret: str
    authority: str
    api_scopes: List[str]
    api_url: str
    redirect_uri: Optional[str]  # None in dev mode: the origin the browser uses
    dev_idp_url: Optional[str] = None  # dev mode: where the browser signs in and msal's requests go
    entra_host: str = "login.microsoftonline.com"


@dataclass
class Settings:
    identity: Identity
    redis_url: str
    session_secret: List[str]
    encryption_keys: List[str]
    key_name_secret: str
    token_cache_prefix: str = "msal:"
    session_prefix: str = "sess:"
    session_seconds: int = DEFAULT_SESSION_SECONDS
    warnings: List[str] = field(default_factory=list)


def _random_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def identity_from_environment(env: Mapping[str, str]) -> Identity:
    present = [name for name in ENTRA_VARIABLES if env.get(name)]
    if present and len(present) < len(ENTRA_VARIABLES):
        missing = [name for name in ENTRA_VARIABLES if not env.get(name)]
        raise ValueError(f"Entra ID mode needs {', '.join(ENTRA_VARIABLES)}; missing: {', '.join(missing)}")
    if present:
        scopes = [scope for scope in env.get("API_SCOPES", "User.Read").replace(",", " ").split() if scope]
        return Identity("entra", env["CLIENT_ID"], env["CLIENT_SECRET"],
                        f"https://login.microsoftonline.com/{env['TENANT_ID']}", scopes,
                        env.get("API_URL") or "https://graph.microsoft.com/v1.0/me", env["REDIRECT_URI"])
    idp_url = env.get("DEV_IDP_URL", DEFAULT_DEV_IDP_URL).rstrip("/")
    try:
        with urllib.request.urlopen(f"{idp_url}/dev-config", timeout=5) as reply:
            dev = json.loads(reply.read())
    except OSError as error:
        raise RuntimeError(f"the development identity provider does not answer at {idp_url} ({error}): start it with "
                           "node examples/dev-identity-provider/server.js, or set the Entra ID variables") from None
    return Identity("dev", dev["clientId"], dev["clientSecret"], dev["authority"], dev["apiScopes"],
                    f"{idp_url}{dev['apiPath']}", None, idp_url, dev["entraHost"])


def settings_from_environment(env: Mapping[str, str] = os.environ) -> Settings:
    warnings: List[str] = []
    keys, name_secret = env.get("ENCRYPTION_KEYS"), env.get("KEY_NAME_SECRET")
    if bool(keys) != bool(name_secret):
        raise ValueError("set both ENCRYPTION_KEYS and KEY_NAME_SECRET, or neither")
    if not keys:
        warnings.append("ENCRYPTION_KEYS and KEY_NAME_SECRET are not set: using random development keys (cached tokens "
                        "are unreadable after a restart and not shared between instances).")
        keys, name_secret = _random_key(), _random_key()
    session_secret = env.get("SESSION_SECRET")
    if not session_secret:
        warnings.append("SESSION_SECRET is not set: using a random one (sessions end on restart and are not shared "
                        "between instances).")
        session_secret = secrets.token_urlsafe(32)
    return Settings(identity=identity_from_environment(env),
                    redis_url=env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                    session_secret=[s for s in session_secret.split(",") if s],
                    encryption_keys=[k.strip() for k in keys.split(",") if k.strip()],
                    key_name_secret=str(name_secret), token_cache_prefix=env.get("TOKEN_CACHE_PREFIX", "msal:"),
                    session_prefix=env.get("SESSION_PREFIX", "sess:"), warnings=warnings)


def log_warnings(settings: Settings, logger: logging.Logger) -> None:
    for warning in settings.warnings:
        logger.warning(warning)
