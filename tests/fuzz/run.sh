#!/usr/bin/env bash
# Builds (if needed) and runs the libFuzzer targets of tests/fuzz.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS
#
# BUILD_DIR is a clang build with -DHL_FUZZ=ON; it is configured here when it
# does not exist yet. The targets are every fuzz_* target of tests/fuzz and its
# subdirectories. SECONDS is the total fuzzing time, split evenly between
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

if [ ! -f "$dir/CMakeCache.txt" ]; then
  CC=${CC:-clang} cmake -S "$src" -B "$dir" -DHL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! grep -q '^HL_FUZZ:BOOL=ON' "$dir/CMakeCache.txt"; then
  echo "$dir is not a fuzz build: configure it with CC=clang -DHL_FUZZ=ON" >&2
  exit 2
fi
cmake -S "$src" -B "$dir" >/dev/null # picks up fuzz targets added since
# Every fuzz_* target: ours in tests/fuzz, and those other directories of
# tests/fuzz add (their seeds: tests/fuzz/<dir>/corpus, tests/fixtures/<dir>).
mapfile -t targets < <(cmake --build "$dir" --target help |
  grep -oE '(^|[^A-Za-z0-9_])fuzz_[A-Za-z0-9_]+' | sed 's/^[^f]*//' |
  grep -vE '^fuzz_(gen_seeds|.*_replay)$' | sort -u)
[ ${#targets[@]} -gt 0 ] || { echo "no fuzz targets (is CC clang?)" >&2; exit 2; }
cmake --build "$dir" -j2 --target fuzz_gen_seeds "${targets[@]}" >/dev/null
bin=$dir/tests/fuzz

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
for target in "${targets[@]}"; do
  exe=$(find "$bin" -name "$target" -type f -perm -u+x | head -1)
  [ -n "$exe" ] || { echo "fuzz: $target was not built" >&2; failed+=("$target"); continue; }
  t=${target#fuzz_}
  sub=$(dirname "${exe#"$bin"/}") # "." for ours, the directory for the others
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t" "$work/seeds/$t"
  case $t in envelope|request|proxy) "$bin/fuzz_gen_seeds" "$t" "$work/seeds/$t" ;; esac
  corpora=("$work/seeds/$t")
  if [ "$sub" = . ]; then
    [ -d "$here/corpus/$t" ] && corpora+=("$here/corpus/$t")
  else
    [ -d "$here/$sub/corpus" ] && corpora+=("$here/$sub/corpus")
    [ -d "$src/tests/fixtures/$sub" ] && corpora+=("$src/tests/fixtures/$sub")
  fi
  dict=()
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  if [ "$secs" -eq 0 ]; then
    args=(-runs=0 "${corpora[@]}")
    echo "== $target: replaying the seeds and the committed corpus"
  else
    args=(-max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$work/artifacts/$t/" "${dict[@]}" "$work/corpus/$t" "${corpora[@]}")
    echo "== $target: ${per}s"
  fi
  log=$work/$target.log
  if "$exe" "${args[@]}" >"$log" 2>&1; then
    grep -E '^(#[0-9]+.*(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tail -3 || true
  else
    rc=$?
    failed+=("$target")
    echo "$target FAILED (exit $rc); log: $log" >&2
    grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20 >&2 || true
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failures in ${failed[*]}; inputs in $work/artifacts" >&2
  exit 1
fi
echo "fuzz: all targets clean"
