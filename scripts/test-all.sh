#!/usr/bin/env bash
# Runs every test: the core's GoogleTest suite (native), the core's libFuzzer target for a bounded time
# (FUZZ_SECONDS, default 60), then the wasm build, then Jest (unit, integration against a real redis-server,
# end-to-end with msal-node, browser) on ioredis 5, then the suites that talk to Redis again on ioredis 6 (the
# peer range allows both; tests/support/ioredis.js picks by TEST_IOREDIS_MAJOR). Installs what is missing, or says
# what to run. Arguments go to both Jest runs.
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
TEST_IOREDIS_MAJOR=5 npx jest --json --outputFile=test-output/jest.json "$@" || jest_status=$?
read -r js_passed js_failed < <(jest_counts test-output/jest.json)

# The second pass leaves out the suites that never load ioredis (the core, the fake identity provider, the dev
# services), server.test.js (it runs examples/express/server.js, which has its own ioredis 5 dependency) and, for
# time, the browser test.
echo "== Jest (ioredis 6: the suites that talk to Redis)"
jest6_status=0
rm -f test-output/jest-ioredis6.json
TEST_IOREDIS_MAJOR=6 npx jest --json --outputFile=test-output/jest-ioredis6.json \
  --passWithNoTests --testPathIgnorePatterns '/tests/js/(core|core-merge|fake-identity-provider|express/dev-services|express/server|express/browser)\.test\.js$' \
  "$@" || jest6_status=$?
read -r js6_passed js6_failed < <(jest_counts test-output/jest-ioredis6.json)

passed=$(( cpp_total - cpp_failed + fuzz_passed + js_passed + js6_passed ))
failed=$(( cpp_failed + fuzz_failed + js_failed + js6_failed ))
echo "all: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$jest_status" -eq 0 ] && [ "$jest6_status" -eq 0 ]
