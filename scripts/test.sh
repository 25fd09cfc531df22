#!/usr/bin/env bash
# Builds hl-freestyle twice (plain, and ASan+UBSan) and runs every test tier:
# unit, integration, static unit checks, the end-to-end tier under a real
# systemd, and the fuzz targets. Benchmarks are separate: scripts/bench.sh.
#   scripts/test.sh            everything
#   HL_FUZZ_SECONDS=0 ...      skip fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz_seconds=${HL_FUZZ_SECONDS:-60}

section() { printf '\n=== %s ===\n' "$*"; }

section "plain build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

section "sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DHL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"

section "tests under ASan + UBSan (unit, integration, security)"
# (the security tests that need the e2e container run once, in the plain build)
(cd build-asan && ctest --output-on-failure -j"$jobs" -L 'unit|integration|security' -LE e2e)

if [ "$fuzz_seconds" -gt 0 ] && [ -x tests/fuzz/run.sh ]; then
  section "fuzzing, ${fuzz_seconds} s"
  tests/fuzz/run.sh build-fuzz "$fuzz_seconds"
fi

section "all tests, plain build (unit, integration, static, e2e)"
(cd build && ctest --output-on-failure -LE bench)
