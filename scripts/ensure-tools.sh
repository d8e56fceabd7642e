#!/usr/bin/env bash
# Makes sure the Debian packages the build and tests need are present: installs them when we can (root + apt),
# otherwise stops with one line saying exactly what to run. Usage: ensure-tools.sh [--with-browser]
set -euo pipefail

needed=()
command -v emcc >/dev/null 2>&1 || needed+=(emscripten)
[ -f /usr/include/nlohmann/json.hpp ] || needed+=(nlohmann-json3-dev)
command -v redis-server >/dev/null 2>&1 || needed+=(redis-server)
command -v cmake >/dev/null 2>&1 || needed+=(cmake)
command -v g++ >/dev/null 2>&1 || needed+=(g++)
[ -f /usr/include/gtest/gtest.h ] || needed+=(libgtest-dev)
if [ "${1:-}" = "--with-browser" ]; then
  command -v chromium >/dev/null 2>&1 || needed+=(chromium)
fi

if [ ${#needed[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages: ${needed[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${needed[@]}" >&2
  else
    echo "Missing tools. Run: sudo apt-get install -y ${needed[*]}" >&2
    exit 1
  fi
fi

if [ ! -d node_modules/@azure/msal-node ] || [ ! -d node_modules/ioredis ]; then
  echo "Installing npm dependencies" >&2
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
fi
