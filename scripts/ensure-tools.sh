#!/usr/bin/env bash
# Makes sure the Debian packages the build and tests need are present: installs them when we can (root + apt),
# otherwise stops with one line saying exactly what to run.
# Usage: ensure-tools.sh [--with-browser] [--with-fuzzer] [--redis-optional]
#   --with-fuzzer: also clang-14 and libclang-rt-14-dev for scripts/fuzz.sh (npm test runs it; npm start does not).
#   --redis-optional: a missing redis-server that cannot be installed is a warning, not an error (the example's
#   start command falls back to an in-memory store).
set -euo pipefail

with_browser=no
with_fuzzer=no
redis_optional=no
for arg in "$@"; do
  case "$arg" in
    --with-browser) with_browser=yes ;;
    --with-fuzzer) with_fuzzer=yes ;;
    --redis-optional) redis_optional=yes ;;
    *) echo "ensure-tools.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
can_install=no
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then can_install=yes; fi

needed=()
command -v emcc >/dev/null 2>&1 || needed+=(emscripten)
[ -f /usr/include/nlohmann/json.hpp ] || needed+=(nlohmann-json3-dev)
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$redis_optional" = yes ] && [ "$can_install" = no ]; then
    echo "redis-server not found (sudo apt-get install -y redis-server); continuing without it." >&2
  else
    needed+=(redis-server)
  fi
fi
command -v cmake >/dev/null 2>&1 || needed+=(cmake)
command -v g++ >/dev/null 2>&1 || needed+=(g++)
[ -f /usr/include/gtest/gtest.h ] || needed+=(libgtest-dev)
if [ "$with_fuzzer" = yes ]; then
  # scripts/fuzz.sh: clang-14 and its runtime libraries (libFuzzer, sanitizers), named by machine architecture.
  command -v clang++-14 >/dev/null 2>&1 || needed+=(clang-14)
  ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-"$(uname -m)".a >/dev/null 2>&1 ||
    needed+=(libclang-rt-14-dev)
fi
if [ "$with_browser" = yes ]; then
  command -v chromium >/dev/null 2>&1 || needed+=(chromium)
fi

if [ ${#needed[@]} -gt 0 ]; then
  if [ "$can_install" = yes ]; then
    echo "Installing Debian packages: ${needed[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${needed[@]}" >&2
  else
    echo "Missing tools. Run: sudo apt-get install -y ${needed[*]}" >&2
    exit 1
  fi
fi

missing_modules=no
for module in @azure/msal-node ioredis ioredis6 jest express express-session supertest playwright-core; do
  [ -d "node_modules/$module" ] || missing_modules=yes
done
if [ "$missing_modules" = yes ]; then
  echo "Installing npm dependencies" >&2
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
fi
