#!/usr/bin/env bash
# The README's `npm start`: the Express example on a fresh machine. Installs what is missing (or says what to run),
# builds the WebAssembly core, then starts examples/express/server.js, which prints the URL.
# Environment: PORT, REDIS_URL, SESSION_SECRET, TRUST_PROXY, and TENANT_ID/CLIENT_ID/CLIENT_SECRET/REDIRECT_URI for
# real Microsoft Entra ID (see examples/express/server.js).
set -euo pipefail
cd "$(dirname "$0")/.."
# Without redis-server the example falls back to an in-memory store, so it is not required here.
bash scripts/ensure-tools.sh --redis-optional
bash scripts/build-wasm.sh
exec node examples/express/server.js
