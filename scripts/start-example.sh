#!/usr/bin/env bash
# The README's `npm start`: the Express example on a fresh machine. Installs only what the example needs (the
# WebAssembly build's Debian packages, redis-server if it can, the npm dependencies: not the C++ test toolchain),
# builds the WebAssembly core, then starts examples/express/server.js, which prints the URL. One line per step, so a
# first run (a few minutes) does not look stuck; later runs take a second or two.
# Environment: PORT, REDIS_URL, SESSION_SECRET, TRUST_PROXY, and TENANT_ID/CLIENT_ID/CLIENT_SECRET/REDIRECT_URI for
# real Microsoft Entra ID (see examples/express/server.js).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "==> $*" >&2; }

step "Checking what the example needs (emscripten, nlohmann-json, cmake, npm packages; redis-server if possible)..."
# Without redis-server the example falls back to an in-memory store, so it is not required here.
bash scripts/ensure-tools.sh --example
if [ -f js/wasm/msal_cache_core.js ]; then
  step "Checking that the WebAssembly core is up to date..."
else
  step "Building the WebAssembly core (first run, about a minute)..."
fi
bash scripts/build-wasm.sh
step "Starting the example (examples/express/server.js)..."
exec node examples/express/server.js
