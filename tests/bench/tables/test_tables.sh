#!/usr/bin/env bash
# scripts/bench.sh --tables-only on logs captured from real runs (logs/: the
# bus benchmark's quick run, the metrics benchmark, the STDIO quick run, at
# load 7-10 on 2 cores): the README's rows come out with the logs' figures;
# a benchmark without a log says how to get one; and every benchmark ctest
# knows has a table in bench.sh (a new benchmark must add one).
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bench-results"
cp "$(dirname "$0")"/logs/*.log "$tmp/bench-results/"
out=$(HL_BENCH_BUILD_DIR=$tmp "$HL_SOURCE_DIR/scripts/bench.sh" --tables-only)
ok test $? = 0
has() { grep -qF -- "$1" <<<"$out" || { echo "missing: $1" >&2; return 1; }; }
ok has '| throughput, 64 B | 541k msg/s | 241k msg/s | 0.44x | ≥ 0.6x |'
ok has '| throughput, 1 KiB | 283k msg/s | 256k msg/s | 0.90x | ≥ 0.6x |'
ok has '| one-way p50 / p99 at 1 kHz, 64 B | 165 / 6286 µs | 83 / 183 µs | 0.50x / 0.03x | p99 ≤ 2x |'
ok has '| request/reply p50 / p99 at 1 kHz | 106 / 4002 µs (REQ/REP) | 73 / 4006 µs | 0.69x | p50 ≤ 150 µs |'
ok has '| publisher sends 10 000 and exits at once, 5 runs | 0/5 complete (defaults), 2/5 (HWM 10 000 + close) | 5/5 | | no loss |'
ok has '| node_exporter (same collectors) | 3.598 ms | 3.404 ms | 20.7 MB | 7.5 MB |'
ok has '| hl-metrics | 0.055 ms (0.015x) | 0.026 ms; 0.826 ms per collection (0.25x) | 11.1 MB (0.53x) | 1.9 MB (0.25x) |'
ok has '| hl-stdio | 0.98 |'
ok has 'hl-stdio to 16 readers: 2.18 GB/s aggregate'
ok has '(bench_failure: no figures; run scripts/bench.sh -R bench_failure)'
ok bash -c "! grep -q 'no figures; run scripts/bench.sh -R bench_\(bus\|metrics\|stdio_quick\))' <<<'$out'"

# Every benchmark has its table.
names=$(cd "${HL_BUILD_DIR:?}" && ctest -N -L bench | sed -n 's/^ *Test *#[0-9]*: //p')
ok test -n "$names"
for n in $names; do
    ok grep -q "log $n)" "$HL_SOURCE_DIR/scripts/bench.sh"
done
checks_done bench-tables
