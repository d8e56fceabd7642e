#!/usr/bin/env bash
# Builds the Python package's extension (msal_redis_cache._core, from core/ and bindings/python/) in place, and copies
# the Lua scripts from js/redis/lua, so that `PYTHONPATH=python /usr/bin/python3 -c 'import msal_redis_cache'` works from
# the repository's root. Objects go to build/python. Debian: apt-get install python3-dev pybind11-dev
# nlohmann-json3-dev python3-setuptools.
set -euo pipefail
cd "$(dirname "$0")/../python"
PYTHON="${PYTHON:-/usr/bin/python3}"
"$PYTHON" setup.py -q build_ext --inplace --parallel 2 --build-temp ../build/python/temp
rm -rf msal_redis_cache.egg-info
echo "built $(ls msal_redis_cache/_core*.so)"
