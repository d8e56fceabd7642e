#!/usr/bin/env bash
# Runs every test: the core's GoogleTest suite (native), the core's libFuzzer target for a bounded time
# (FUZZ_SECONDS, default 60), then the wasm build, then Jest (unit, integration against a real redis-server,
# end-to-end with msal-node, browser). Installs what is missing, or says what to run.
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

echo "== Jest"
jest_status=0
npx jest --json --outputFile=test-output/jest.json "$@" || jest_status=$?
read -r js_passed js_failed < <(node -e '
  const r = require("./test-output/jest.json");
  console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites);')

passed=$(( cpp_total - cpp_failed + fuzz_passed + js_passed ))
failed=$(( cpp_failed + fuzz_failed + js_failed ))
echo "all: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$jest_status" -eq 0 ]
