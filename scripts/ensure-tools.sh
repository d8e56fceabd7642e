#!/usr/bin/env bash
# Makes sure the Debian packages and npm dependencies a command needs are present: installs them when we can
# (root + apt), otherwise stops with one line saying exactly what to run.
# Usage: ensure-tools.sh [--example | --flask-example] [--with-browser] [--with-fuzzer] [--redis-optional] [--dry-run]
#   (default) what `npm test` needs: the WebAssembly build (emscripten, nlohmann-json3-dev, cmake), the native C++
#     tests (g++, libgtest-dev), redis-server, and the Python package's build and tests (python3-dev, pybind11-dev,
#     python3-setuptools, python3-msal, python3-redis, python3-cryptography, python3-pytest, python3-flask).
#   --example: only what the example needs (`npm start`): the WebAssembly build, and redis-server if it can be
#     installed (without it the example falls back to an in-memory store). Not the C++ test toolchain.
#   --flask-example: only what the Flask example needs (`npm run start:flask`): the Python package's build
#     (python3-dev, pybind11-dev, nlohmann-json3-dev, python3-setuptools, g++), python3-msal, python3-redis,
#     python3-cryptography, python3-flask, python3-requests, redis-server if it can be installed, and the npm
#     packages of the dev identity provider. Not emscripten: the provider is plain JavaScript.
#   --with-fuzzer: also clang-14 and libclang-rt-14-dev for scripts/fuzz.sh (npm test runs it; npm start does not).
#   --with-browser: also chromium, for the browser test.
#   --redis-optional: a missing redis-server that cannot be installed is a warning, not an error.
#   --dry-run: say what is needed, what is missing and what would be installed; change nothing.
set -euo pipefail

example=no
flask_example=no
with_browser=no
with_fuzzer=no
redis_optional=no
dry_run=no
for arg in "$@"; do
  case "$arg" in
    --example) example=yes; redis_optional=yes ;;
    --flask-example) flask_example=yes; redis_optional=yes ;;
    --with-browser) with_browser=yes ;;
    --with-fuzzer) with_fuzzer=yes ;;
    --redis-optional) redis_optional=yes ;;
    --dry-run) dry_run=yes ;;
    *) echo "ensure-tools.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
can_install=no
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then can_install=yes; fi

# Whether a Debian package's tool or header is there.
have() {
  case "$1" in
    emscripten) command -v emcc ;;
    nlohmann-json3-dev) [ -f /usr/include/nlohmann/json.hpp ] ;;
    cmake) command -v cmake ;;
    g++) command -v g++ ;;
    libgtest-dev) [ -f /usr/include/gtest/gtest.h ] ;;
    redis-server) command -v redis-server ;;
    # scripts/fuzz.sh: clang-14 and its runtime libraries (libFuzzer, sanitizers), named by machine architecture.
    clang-14) command -v clang++-14 ;;
    libclang-rt-14-dev) ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-"$(uname -m)".a ;;
    chromium) command -v chromium ;;
    # The Python package and its tests (scripts/build-python.sh, tests/python): Debian's /usr/bin/python3 only.
    python3-dev) ls /usr/include/python3*/Python.h ;;
    pybind11-dev) [ -f /usr/include/pybind11/pybind11.h ] ;;
    python3-msal) /usr/bin/python3 -c 'import msal' ;;
    python3-redis) /usr/bin/python3 -c 'import redis' ;;
    python3-cryptography) /usr/bin/python3 -c 'import cryptography' ;;
    python3-pytest) /usr/bin/python3 -c 'import pytest' ;;
    python3-setuptools) /usr/bin/python3 -c 'import setuptools' ;;
    python3-flask) /usr/bin/python3 -c 'import flask' ;;
    python3-requests) /usr/bin/python3 -c 'import requests' ;;
    *) return 1 ;;
  esac >/dev/null 2>&1
}

packages=(emscripten nlohmann-json3-dev cmake) # the WebAssembly build (scripts/build-wasm.sh)
modules=(@azure/msal-node ioredis express express-session helmet jose) # the example's
if [ "$flask_example" = yes ]; then
  # The Python package built in place, Flask, and the dev identity provider (Node: express, jose).
  packages=(g++ nlohmann-json3-dev python3-dev pybind11-dev python3-setuptools python3-msal python3-redis \
    python3-cryptography python3-flask python3-requests)
  modules=(express jose)
elif [ "$example" = no ]; then
  packages+=(g++ libgtest-dev) # the native C++ tests
  # the Python package and its pytest suite
  packages+=(python3-dev pybind11-dev python3-setuptools python3-msal python3-redis python3-cryptography python3-pytest \
    python3-flask)
  modules+=(ioredis6 jest supertest playwright-core typescript)
fi
if [ "$with_fuzzer" = yes ]; then packages+=(clang-14 libclang-rt-14-dev); fi
if [ "$with_browser" = yes ]; then packages+=(chromium); fi
optional=()
if [ "$redis_optional" = yes ]; then optional+=(redis-server); else packages+=(redis-server); fi

needed=()
for package in "${packages[@]}"; do have "$package" || needed+=("$package"); done
for package in ${optional[@]+"${optional[@]}"}; do
  if have "$package"; then continue; fi
  if [ "$can_install" = yes ]; then
    needed+=("$package")
  else
    echo "$package not found (sudo apt-get install -y $package); continuing without it." >&2
  fi
done

missing_modules=no
for module in "${modules[@]}"; do
  [ -d "node_modules/$module" ] || missing_modules=yes
done
npm_install="npm install --no-audit --no-fund"
[ -f package-lock.json ] && npm_install="npm ci --no-audit --no-fund"

if [ "$dry_run" = yes ]; then
  echo "needs: ${packages[*]}${optional[*]:+; optional: ${optional[*]}}" >&2
  if [ ${#needed[@]} -eq 0 ]; then echo "missing: nothing" >&2
  elif [ "$can_install" = yes ]; then echo "would install Debian packages: ${needed[*]}" >&2
  else echo "missing; would stop with: sudo apt-get install -y ${needed[*]}" >&2
  fi
  if [ "$missing_modules" = yes ]; then echo "would run: $npm_install" >&2; else echo "npm dependencies: installed" >&2; fi
  exit 0
fi

if [ ${#needed[@]} -gt 0 ]; then
  if [ "$can_install" = yes ]; then
    echo "Installing Debian packages: ${needed[*]} (first run: a few minutes)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${needed[@]}" >&2
  else
    echo "Missing tools. Run: sudo apt-get install -y ${needed[*]}" >&2
    exit 1
  fi
fi

if [ "$missing_modules" = yes ]; then
  echo "Installing npm dependencies ($npm_install; first run: about a minute)..." >&2
  $npm_install >&2
fi
