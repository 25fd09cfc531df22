#!/usr/bin/env bash
# Builds (if needed) and runs the libFuzzer targets of tests/fuzz.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS
#
# BUILD_DIR is a clang build with -DHL_FUZZ=ON; it is configured here when it
# does not exist yet. SECONDS is the total fuzzing time, split evenly between
# the targets; 0 only replays the seeds and the committed corpus (a regression
# run, what ctest -L fuzz does). New corpus entries go to BUILD_DIR/fuzz/corpus,
# crashes to BUILD_DIR/fuzz/artifacts. Exits non-zero if any target crashed,
# leaked, hung (10 s per input) or ran out of memory (2 GiB).
set -euo pipefail
if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
dir=$1
secs=$2
targets=(envelope request conf proxy)

if [ ! -f "$dir/CMakeCache.txt" ]; then
  CC=${CC:-clang} cmake -S "$src" -B "$dir" -DHL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! grep -q '^HL_FUZZ:BOOL=ON' "$dir/CMakeCache.txt"; then
  echo "$dir is not a fuzz build: configure it with CC=clang -DHL_FUZZ=ON" >&2
  exit 2
fi
cmake --build "$dir" -j2 --target fuzz_gen_seeds "${targets[@]/#/fuzz_}" >/dev/null
bin=$dir/tests/fuzz
[ -x "$bin/fuzz_conf" ] || { echo "fuzz targets were not built (is CC clang?)" >&2; exit 2; }

work=$dir/fuzz
# The targets keep their sockets and files in a private directory under
# TMPDIR: tmpfs when there is one (fuzz_conf writes two files per input, ten
# times faster than on ext4).
if [ -z "${TMPDIR:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; else TMPDIR=/tmp; fi
fi
export TMPDIR
per=$(( secs / ${#targets[@]} ))
[ "$secs" -eq 0 ] || [ "$per" -ge 1 ] || per=1
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t" "$work/seeds/$t"
  case $t in envelope|request|proxy) "$bin/fuzz_gen_seeds" "$t" "$work/seeds/$t" ;; esac
  corpora=("$work/seeds/$t")
  [ -d "$here/corpus/$t" ] && corpora+=("$here/corpus/$t")
  dict=()
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  if [ "$secs" -eq 0 ]; then
    args=(-runs=0 "${corpora[@]}")
    echo "== fuzz_$t: replaying the seeds and the committed corpus"
  else
    args=(-max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$work/artifacts/$t/" "${dict[@]}" "$work/corpus/$t" "${corpora[@]}")
    echo "== fuzz_$t: ${per}s"
  fi
  log=$work/fuzz_$t.log
  if "$bin/fuzz_$t" "${args[@]}" >"$log" 2>&1; then
    grep -E '^(#[0-9]+.*(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tail -3 || true
  else
    rc=$?
    failed+=("$t")
    echo "fuzz_$t FAILED (exit $rc); log: $log" >&2
    grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20 >&2 || true
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failures in ${failed[*]}; inputs in $work/artifacts" >&2
  exit 1
fi
echo "fuzz: all targets clean"
