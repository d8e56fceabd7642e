#!/usr/bin/env bash
# Builds the libFuzzer target (tests/fuzz/fuzz_core.cpp) with clang-14, AddressSanitizer and UndefinedBehaviorSanitizer
# in build/fuzz, and runs it for a bounded time. Exit status non-zero on a crash, a sanitizer report, a leak, a
# broken invariant or a unit slower than the timeout; the input that did it is written to build/fuzz/artifacts/.
# Usage: scripts/fuzz.sh [seconds]   (default 60)
# The corpus found so far is kept in build/fuzz/corpus, so each run goes on from the last one; the seeds are
# regenerated from tests/cpp/fixtures.hpp.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: seconds must be a whole number, got '$seconds'" >&2; exit 2 ;; esac
if ! command -v clang++-14 >/dev/null 2>&1; then
  echo "clang-14 not found. Run: sudo apt-get install -y clang-14 libclang-rt-14-dev" >&2
  exit 1
fi

build=build/fuzz
export CC=clang-14 CXX=clang++-14
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DMSALCACHE_FUZZ=ON \
  -DMSALCACHE_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_core make_fuzz_corpus >/dev/null

mkdir -p "$build/corpus" "$build/artifacts"
rm -rf "$build/seeds" && mkdir -p "$build/seeds"
"$build/make_fuzz_corpus" "$build/seeds"

# Runs add to the corpus; when it has grown large, keep only inputs that add coverage, so that reloading it does not
# eat the time budget.
if [ "$(ls "$build/corpus" | wc -l)" -gt 3000 ]; then
  rm -rf "$build/corpus.min" && mkdir -p "$build/corpus.min"
  "$build/fuzz_core" -merge=1 "$build/corpus.min" "$build/corpus" 2> "$build/merge.log"
  rm -rf "$build/corpus" && mv "$build/corpus.min" "$build/corpus"
fi

# New inputs go to the first directory. -timeout: a unit this slow means a quadratic (or worse) path.
status=0
"$build/fuzz_core" "$build/corpus" "$build/seeds" \
  -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
  -dict=tests/fuzz/core.dict -artifact_prefix="$build/artifacts/" 2> "$build/fuzz.log" || status=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz.log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/fuzz.log")
if [ "$status" -ne 0 ]; then
  grep -E "ERROR|SUMMARY|invariant|runtime error|Test unit written" "$build/fuzz.log" >&2 ||
    tail -n 40 "$build/fuzz.log" >&2
  echo "fuzz_core: FAILED (exit $status) after ${runs:-?} runs; full log: $build/fuzz.log" >&2
  exit 1
fi
echo "fuzz_core: ${runs} runs in ${seconds} s (${rate} exec/s), no crash; corpus $(ls "$build/corpus" | wc -l) inputs"
