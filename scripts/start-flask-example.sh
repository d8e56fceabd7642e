#!/usr/bin/env bash
# `npm run start:flask`: the Flask example (examples/flask) on a fresh machine, as `npm start` starts the Express one.
# Installs what it needs (the Python package's build, Flask, msal, redis-py; redis-server if it can), builds the
# Python extension in place, starts a throw-away local Redis unless REDIS_URL is set, the stand-alone dev identity
# provider unless the Entra ID variables are set, then the app, which prints its URL. One line per step.
# Environment: PORT (5000), HOST, REDIS_URL, SESSION_SECRET, ENCRYPTION_KEYS, KEY_NAME_SECRET (the Express example's:
# the same values share its sessions and token caches), DEV_IDP_PORT (3100), and TENANT_ID/CLIENT_ID/CLIENT_SECRET/
# REDIRECT_URI for real Microsoft Entra ID (see examples/flask/config.py).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "==> $*" >&2; }
PYTHON=/usr/bin/python3
PORT="${PORT:-5000}"
children=()
workdir=""
cleanup() {
  for pid in ${children[@]+"${children[@]}"}; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$workdir" ]; then rm -rf "$workdir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "Checking what the Flask example needs (python3-flask, python3-msal, python3-redis, the Python build; redis-server if possible)..."
bash scripts/ensure-tools.sh --flask-example
if ls python/msal_redis_cache/_core*.so >/dev/null 2>&1; then
  step "Checking that the Python extension is up to date..."
else
  step "Building the Python extension (first run, about a minute)..."
fi
build_log=$(mktemp -t flask-example-build.XXXXXX)
if ! bash scripts/build-python.sh >"$build_log" 2>&1; then cat "$build_log" >&2; rm -f "$build_log"; exit 1; fi
rm -f "$build_log"

if [ -z "${REDIS_URL:-}" ]; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-server is not installed and REDIS_URL is not set: the Flask example needs a Redis (apt-get install redis-server)." >&2
    exit 1
  fi
  workdir=$(mktemp -d -t flask-example-redis.XXXXXX)
  redis_port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  step "Starting a throw-away local Redis on 127.0.0.1:$redis_port (set REDIS_URL to use yours)..."
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$workdir" >"$workdir/redis.log" 2>&1 &
  children+=($!)
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export REDIS_URL="redis://127.0.0.1:$redis_port/0"
fi

if [ -z "${TENANT_ID:-}${CLIENT_ID:-}${CLIENT_SECRET:-}${REDIRECT_URI:-}" ]; then
  idp_port="${DEV_IDP_PORT:-3100}"
  export DEV_IDP_URL="http://127.0.0.1:$idp_port"
  step "Starting the dev identity provider (examples/dev-identity-provider/server.js) on $DEV_IDP_URL..."
  origins="http://localhost:$PORT,http://127.0.0.1:$PORT"
  PORT="$idp_port" HOST=127.0.0.1 REDIRECT_ORIGINS="$origins" \
    node examples/dev-identity-provider/server.js >&2 &
  children+=($!)
  for _ in $(seq 100); do
    "$PYTHON" -c "import urllib.request; urllib.request.urlopen('$DEV_IDP_URL/dev-config', timeout=1)" 2>/dev/null && break
    sleep 0.1
  done
fi

step "Starting the example (examples/flask/server.py)..."
PORT="$PORT" "$PYTHON" examples/flask/server.py &
children+=($!)
wait "${children[-1]}"
