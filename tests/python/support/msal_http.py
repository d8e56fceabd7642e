"""msal-python's http_client for the tests: the dev identity provider's own (examples/dev-identity-provider/
msal_network.py), forwarding every request to the shared provider (tests/python/support/idp_server.js), so
msal-python gets the very answers msal-node gets."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples" / "dev-identity-provider"))

from msal_network import MsalNetworkClient as ForwardingHttpClient  # noqa: E402

__all__ = ["ForwardingHttpClient"]
