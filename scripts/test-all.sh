#!/usr/bin/env bash
# Runs every test: the core's GoogleTest suite (native), the core's libFuzzer target for a bounded time
# (FUZZ_SECONDS, default 60), then the wasm build, then Jest (unit, integration against a real redis-server,
# end-to-end with msal-node, browser) on ioredis 5, then the suites that talk to Redis again on ioredis 6 (the
# peer range allows both; tests/support/ioredis.js picks by TEST_IOREDIS_MAJOR), then again on a Redis Cluster and
# on a Sentinel group (ioredis 5; TEST_REDIS_TOPOLOGY, see tests/support/redis-client.js), then, when valkey-server
# is installed, on Valkey. Installs what is missing, or says what to run. Arguments go to every Jest run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh --with-browser --with-fuzzer

mkdir -p test-output
echo "== C++ core (GoogleTest)"
cmake -S . -B build/native -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/native -j"$(nproc)" >/dev/null
ctest --test-dir build/native --output-on-failure -j"$(nproc)" | tee test-output/ctest.log | tail -n 3
cpp_total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' test-output/ctest.log)
cpp_failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' test-output/ctest.log)

# The fuzzer counts as one test. FUZZ_SECONDS=0 skips it (counted as neither passed nor failed).
fuzz_seconds="${FUZZ_SECONDS:-60}"
fuzz_passed=0
fuzz_failed=0
if [ "$fuzz_seconds" -gt 0 ]; then
  echo "== C++ core (libFuzzer, ${fuzz_seconds} s)"
  if bash scripts/fuzz.sh "$fuzz_seconds" 2>&1 | tee test-output/fuzz.log | tail -n 5; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    fuzz_passed=1
  else
    fuzz_failed=1
  fi
fi

echo "== WebAssembly build"
bash scripts/build-wasm.sh

# The Python extension, built in place before Jest: the Flask example's tests (tests/js/flask) run it. Its pytest
# suite runs at the end; a failed build fails that pass (and the Flask suites).
echo "== Python extension build"
py_build_status=0
bash scripts/build-python.sh || py_build_status=$?

# "<passed> <failed>" of a Jest JSON report; a run that wrote none counts as one failure.
jest_counts() {
  node -e '
    const fs = require("node:fs");
    if (!fs.existsSync(process.argv[1])) { console.log(0, 1); process.exit(0); }
    const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites);' "$1"
}

echo "== Jest (ioredis 5)"
jest_status=0
rm -f test-output/jest.json
TEST_REDIS_TOPOLOGY=standalone TEST_IOREDIS_MAJOR=5 npx jest --json --outputFile=test-output/jest.json "$@" || jest_status=$?
read -r js_passed js_failed < <(jest_counts test-output/jest.json)

# The second pass leaves out the suites that never load ioredis (the core, the fake identity provider, the
# cluster tracker's rules on a fake driver, the dev services and their exposure), server.test.js (it runs examples/express/server.js, which loads the
# ioredis 5 of package.json) and, for time, the browser tests and the Flask example's (flask/: Python processes whose Redis client is
# redis-py, whatever ioredis major Jest loads). Its ignore list replaces jest.config.js's, so sentinel-failover.test.js
# (a Sentinel group of its own) runs here too: the failover on ioredis 6. Not, for time, the suites that start a
# Cluster of their own: cluster-failover (~35 s; the cluster pass runs it) and local-cache.cluster (~17 s; the first
# pass and the node-redis passes run it), nor race.test (~80 s: its races with real processes run on the first pass,
# node-redis 6, the Cluster and the Sentinel group; race-express runs here). replica-wait.test.js (a master and replica of its own, ~10 s) runs on
# every standalone pass.
echo "== Jest (ioredis 6: the suites that talk to Redis)"
jest6_status=0
rm -f test-output/jest-ioredis6.json
TEST_REDIS_TOPOLOGY=standalone TEST_IOREDIS_MAJOR=6 npx jest --json --outputFile=test-output/jest-ioredis6.json \
  --passWithNoTests --testPathIgnorePatterns '/tests/js/(core|core-merge|fake-identity-provider|local-cache/cluster-tracker|local-cache/local-cache.cluster|redis/cluster-failover|race|express/dev-services|express/dev-exposure|express/server|express/browser|express/browser-cross-site|flask/.*)\.test\.js$' \
  "$@" || jest6_status=$?
read -r js6_passed js6_failed < <(jest_counts test-output/jest-ioredis6.json)

# node-redis (TEST_REDIS_CLIENT=node-redis: the package gets a node-redis client, the tests' own calls ioredis; see
# tests/support/node-redis.js), standalone, on 6 then 5: the suites that pass through the driver layer on both
# (js/redis/). Chosen for time on 2 cores: on 6, the token cache, in-process cache (with the outage policy under load:
# local-cache.faults, ~20 s), admin, session store,
# connect-redis's own semantics, the races with real processes, the in-process cache on a Cluster of its own with
# failovers and a slot migration (local-cache.cluster, ~17 s); on 5, what differs between the majors (replies and
# types: the partition scripts, the session store and its Cluster of its own, encryption, the plugin, and
# local-cache.cluster: node-redis 5 rediscovers a Cluster only on MOVED, so following a failover rests on the
# package's role check there). Not
# connect-redis's lifecycleTest: the first pass runs it on both clients already, and its 1,000 sessions that expire
# after 1 s must all be stored within that second, which a pass running the races beside it cannot promise. The
# Cluster and Sentinel passes on node-redis 6 follow the topology passes.
node_redis_passed=0
node_redis_failed=0
node_redis_status=0
for major in 6 5; do
  echo "== Jest (node-redis ${major}, standalone)"
  rm -f "test-output/jest-node-redis${major}.json"
  TEST_REDIS_TOPOLOGY=standalone TEST_REDIS_CLIENT=node-redis TEST_NODE_REDIS_MAJOR="$major" npx jest --json \
    --outputFile="test-output/jest-node-redis${major}.json" --passWithNoTests \
    tests/js/session/session-store tests/js/msal/plugin tests/js/storage/encryption tests/js/local-cache/local-cache.cluster \
    $([ "$major" = 6 ] && echo tests/js/local-cache/local-cache.test tests/js/local-cache/local-cache.coherence tests/js/local-cache/local-cache.faults \
      tests/js/local-cache/local-cache.same-cycle \
      tests/js/admin/admin tests/js/metrics tests/js/redis-server tests/js/race.test) \
    "$@" || node_redis_status=$?
  read -r n_passed n_failed < <(jest_counts "test-output/jest-node-redis${major}.json")
  node_redis_passed=$(( node_redis_passed + n_passed ))
  node_redis_failed=$(( node_redis_failed + n_failed ))
done

# node-redis 6 on the run's own Cluster (createCluster) and Sentinel group (createSentinel): on a Cluster the suites
# whose commands route by slot or span the masters (the session store's SCANs, admin's, the transactions), about 20 s;
# on Sentinel the session store and encryption (transactions through the Sentinel client; sign-outs wait for the
# replica, the tombstone and its WAIT through one client of the master pool). On both, the in-process
# cache (a tracking connection per Cluster master; on Sentinel one to the master the client has, following its
# failovers): the coherence suite between two processes (~20 s each), on Sentinel also admin and plugin (they expect
# the in-process cache, ~25 s) and the SIGKILLed master of sentinel-failover (a group of its own, ~25 s). Not
# race.test (some 100 s on a Cluster; its races run on the standalone passes).
for topology in cluster sentinel; do
  echo "== Jest (node-redis 6, Redis ${topology})"
  rm -f "test-output/jest-node-redis-${topology}.json"
  TEST_REDIS_TOPOLOGY="$topology" TEST_REDIS_CLIENT=node-redis TEST_NODE_REDIS_MAJOR=6 npx jest --json \
    --outputFile="test-output/jest-node-redis-${topology}.json" --passWithNoTests tests/js/session/session-store \
    tests/js/storage/encryption tests/js/admin/admin tests/js/msal/plugin tests/js/local-cache/local-cache.coherence \
    $([ "$topology" = cluster ] && echo tests/js/local-cache/local-cache.same-cycle) \
    $([ "$topology" = sentinel ] && echo tests/js/redis/sentinel-failover) "$@" || node_redis_status=$?
  read -r n_passed n_failed < <(jest_counts "test-output/jest-node-redis-${topology}.json")
  node_redis_passed=$(( node_redis_passed + n_passed ))
  node_redis_failed=$(( node_redis_failed + n_failed ))
done

# The topology passes: jest-global-setup.js starts a 3-master Cluster, or a master, a replica and 3 sentinels, and
# jest.config.js leaves out the suites that run on the standalone server only (it says which, and why).
topology_passed=0
topology_failed=0
topology_status=0
for topology in cluster sentinel; do
  echo "== Jest (Redis ${topology}, ioredis 5: the suites that talk to Redis)"
  rm -f "test-output/jest-${topology}.json"
  TEST_IOREDIS_MAJOR=5 TEST_REDIS_TOPOLOGY="$topology" npx jest --json --outputFile="test-output/jest-${topology}.json" \
    --passWithNoTests "$@" || topology_status=$?
  read -r t_passed t_failed < <(jest_counts "test-output/jest-${topology}.json")
  topology_passed=$(( topology_passed + t_passed ))
  topology_failed=$(( topology_failed + t_failed ))
done

# Valkey (Debian 12 has it in bookworm-backports): the suites that talk to Redis, on a standalone valkey-server (and
# a Sentinel group of valkey-servers: sentinel-failover.test.js), run under the name redis-server through a PATH
# shim, since every launcher starts `redis-server`, on iovalkey (ioredis 5's fork for Valkey: TEST_IOVALKEY=1, the
# package and the tests' own calls). Left out besides the ioredis 6 pass's list: the suites without Redis, the Flask
# example's (flask/, as on ioredis 6), tls-acl and the example's (express/), whose documented ACL user lacks
# +client|setinfo: ioredis sends CLIENT SETINFO, which Valkey (and Redis 7.2+) has, and the ACL log records its
# refusal; ioredis-major (about ioredis's majors); and connect-redis's lifecycleTest (the first pass runs it; its 1,000 one-second sessions beside the races here).
valkey_passed=0
valkey_failed=0
valkey_status=0
if command -v valkey-server >/dev/null && command -v valkey-cli >/dev/null; then
  echo "== Jest ($(valkey-server --version | cut -d' ' -f1-3), standalone, iovalkey: the suites that talk to Redis)"
  shim=$(mktemp -d)
  ln -s "$(command -v valkey-server)" "$shim/redis-server"
  ln -s "$(command -v valkey-cli)" "$shim/redis-cli"
  rm -f test-output/jest-valkey.json
  PATH="$shim:$PATH" TEST_REDIS_SERVER=valkey TEST_REDIS_TOPOLOGY=standalone TEST_IOREDIS_MAJOR=5 TEST_IOVALKEY=1 npx jest \
    --json --outputFile=test-output/jest-valkey.json --passWithNoTests \
    --testPathIgnorePatterns '/tests/js/(core|core-merge|cache-fixtures|fake-identity-provider|msal/msal-memory|local-cache/cluster-tracker|local-cache/local-cache.cluster|redis/cluster-failover|race|options|package|redis/tls-acl|redis/ioredis-major|session/connect-redis-lifecycle|express/.*|flask/.*)\.test\.js$' \
    "$@" || valkey_status=$?
  rm -rf "$shim"
  read -r valkey_passed valkey_failed < <(jest_counts test-output/jest-valkey.json)
else
  echo "== Valkey: valkey-server is not installed, pass skipped (Debian 12: apt-get install -t bookworm-backports valkey-server)"
fi

# The Python package (python/, the same core through pybind11): built in place, then its pytest suite against a
# redis-server of its own, with Node worker processes for the mixed-language tests. Counted from pytest's JUnit
# report; no report, or pytest's exit 5 (no tests collected), counts as one failure.
echo "== Python package (pytest)"
py_passed=0
py_failed=0
py_status=0
rm -f test-output/pytest.xml
if [ "$py_build_status" -eq 0 ]; then
  /usr/bin/python3 -m pytest tests/python -q -p no:cacheprovider --junitxml=test-output/pytest.xml || py_status=$?
else
  py_status=1
fi
if [ -f test-output/pytest.xml ] && [ "$py_status" -ne 5 ]; then
  read -r py_passed py_failed < <(/usr/bin/python3 -c '
import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
tests, skipped = int(suite.get("tests")), int(suite.get("skipped"))
failed = int(suite.get("failures")) + int(suite.get("errors"))
print(tests - skipped - failed, failed + (1 if tests == 0 else 0))' test-output/pytest.xml)
else
  py_failed=1
fi

passed=$(( cpp_total - cpp_failed + fuzz_passed + js_passed + js6_passed + node_redis_passed + topology_passed \
  + valkey_passed + py_passed ))
failed=$(( cpp_failed + fuzz_failed + js_failed + js6_failed + node_redis_failed + topology_failed + valkey_failed \
  + py_failed ))
echo "all: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$jest_status" -eq 0 ] && [ "$jest6_status" -eq 0 ] && [ "$node_redis_status" -eq 0 ] \
  && [ "$topology_status" -eq 0 ] \
  && [ "$valkey_status" -eq 0 ] && [ "$py_status" -eq 0 ]
