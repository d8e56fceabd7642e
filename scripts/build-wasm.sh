#!/usr/bin/env bash
# Builds the core to WebAssembly: js/wasm/msal_cache_core.js (the .wasm is embedded). Incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v emcmake >/dev/null 2>&1 || { echo "emscripten not found. Run: sudo apt-get install -y emscripten nlohmann-json3-dev" >&2; exit 1; }
# Debian's emscripten runs its JS tools with the system node and needs Debian's node modules (acorn).
export NODE_PATH="${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs"
build=build/wasm
emcmake cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
mkdir -p js/wasm
cp "$build/msal_cache_core.js" js/wasm/msal_cache_core.js
echo "built js/wasm/msal_cache_core.js ($(wc -c < js/wasm/msal_cache_core.js) bytes)" >&2
