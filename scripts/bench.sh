#!/usr/bin/env bash
# Runs every benchmark (the ctest tests labelled "bench", tests/bench/*) in a
# plain build and prints the README's tables (section "Benchmarks") from
# their figures, with the load they ran under.
#
#   scripts/bench.sh [-R REGEX]     every benchmark, or those matching REGEX
#   scripts/bench.sh --tables-only  the tables from the last run's logs
#
# HL_BENCH_BUILD_DIR picks the build tree (default: build-bench beside this
# script's repository), configured RelWithDebInfo without sanitizers: a
# sanitizer or Debug build measures the instrumentation, so it is refused.
# Each benchmark's whole output is kept in <build>/bench-results/NAME.log.
# The benchmarks that boot systemd in a container (orchestrator, failure)
# need root and scripts/install-deps.sh; set HL_E2E_LOCK to a lock file to
# wait for other container runs on the machine. Figures are never asserted:
# the exit status says only whether every benchmark ran.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${HL_BENCH_BUILD_DIR:-$repo/build-bench}
results=$build/bench-results
regex=. tables_only=false
while [ $# -gt 0 ]; do
  case $1 in
    -R) regex=${2:?-R needs a regular expression}; shift 2 ;;
    --tables-only) tables_only=true; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done

die() { echo "bench.sh: $*" >&2; exit 1; }

run_all() {
  if [ ! -f "$build/CMakeCache.txt" ]; then
    echo "configuring $build (RelWithDebInfo, no sanitizers)"
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHL_SANITIZE=OFF >/dev/null ||
      die "cmake failed"
  fi
  grep -q '^HL_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" &&
    die "$build is a sanitizer build: benchmarks there measure the sanitizer (use another HL_BENCH_BUILD_DIR)"
  grep -q '^CMAKE_BUILD_TYPE:STRING=Debug' "$build/CMakeCache.txt" &&
    die "$build is a Debug build: use RelWithDebInfo or Release"
  echo "building $build"
  cmake --build "$build" -j"$(nproc)" >"$build/bench-build.log" 2>&1 ||
    { tail -30 "$build/bench-build.log"; die "the build failed"; }
  mkdir -p "$results"
  local names
  names=$(cd "$build" && ctest -N -L bench -R "$regex" | sed -n 's/^ *Test *#[0-9]*: //p')
  [ -n "$names" ] || die "no benchmark matches '$regex'"
  local failed=0 n rc
  for n in $names; do
    printf '%-24s ' "$n"
    (cd "$build" && ctest -R "^${n//./\\.}\$" -V) >"$results/$n.log" 2>&1
    rc=$?
    if grep -q "^[0-9/ ]*Test *#[0-9]*: $n .*Passed" "$results/$n.log"; then echo "ran"
    elif grep -q "^[0-9/ ]*Test *#[0-9]*: $n .*Not Run\|\*\*\*Skipped" "$results/$n.log"; then
      echo "skipped ($(grep -m1 -io 'skip[a-z]*: .*' "$results/$n.log" || echo "see $results/$n.log"))"
    else echo "FAILED (rc $rc, see $results/$n.log)"; failed=$((failed + 1)); fi
  done
  return $failed
}

# --- the tables, one function per benchmark, from its log -------------------

log() { [ -r "$results/$1.log" ] && sed 's/^[0-9]*: //' "$results/$1.log"; }
missing() { echo "($1: no figures; run scripts/bench.sh -R $1)"; echo; }
k() { awk -v v="$1" 'BEGIN { printf "%.0fk", v / 1000 }'; }

table_bus() {
  local l; l=$(log bench_bus) || { missing bench_bus; return; }
  grep -q 'throughput (msg/s)' <<<"$l" || { missing bench_bus; return; }
  echo "**Bus** (tests/bench/bus), libhlbus pub → hl-bus → sub against raw libzmq PUB →"
  echo "zmq_proxy → SUB over ipc, $(grep -m1 '^load average before' <<<"$l" | sed 's/ [0-9]*\/[0-9]* [0-9]*//')"
  echo
  echo "| | raw libzmq | libhlbus | ratio | goal |"
  echo "|---|---|---|---|---|"
  awk '
    function size(b) { return b == 1024 ? "1 KiB" : b " B" }
    /B body,/ { printf "| throughput, %s | %.0fk msg/s | %.0fk msg/s | %s | ≥ 0.6x |\n", size($1), $6/1000, $7/1000, $8 }
    / B  p50 \(us\)/ { p50r[$1] = $5; p50h[$1] = $6; p50x[$1] = $7 }
    / B  p99 \(us\)/ { printf "| one-way p50 / p99 at 1 kHz, %s | %.0f / %.0f µs | %.0f / %.0f µs | %s / %s | p99 ≤ 2x |\n",
                       size($1), p50r[$1], $5, p50h[$1], $6, p50x[$1], $7 }
    /^  p50 at 1 kHz/ { r50 = $6; h50 = $7; x50 = $8 }
    /^  p99 at 1 kHz/ { printf "| request/reply p50 / p99 at 1 kHz | %.0f / %.0f µs (REQ/REP) | %.0f / %.0f µs | %s | p50 ≤ 150 µs |\n", r50, $6, h50, $7, x50 }
    /^publisher sends/ { runs = $(NF - 2) }
    /raw PUB, defaults, close/ { rd = $(NF - 5) }
    /raw PUB, SNDHWM 10000, close/ { rh = $(NF - 5) }
    /libhlbus, hlb_pub_destroy/ { hl = $(NF - 5) }
    END { if (hl) printf "| publisher sends 10 000 and exits at once, %s runs | %s complete (defaults), %s (HWM 10 000 + close) | %s | | no loss |\n", runs, rd, rh, hl }
  ' <<<"$l"
  echo
}

table_health() {
  local l; l=$(log bench_health) || { missing bench_health; return; }
  grep -q '^hang=0%' <<<"$l" || { missing bench_health; return; }
  echo "**Health checks** (tests/bench/health), $(grep -m1 '^hl-health vs monit' <<<"$l")"
  echo
  echo "| | hl-health | Monit | ratio | goal |"
  echo "|---|---|---|---|---|"
  awk '
    /^hang=0%:/ { r = $10; sub(",", "", r); printf "| CPU per check | %s µs | %s µs | %.2fx | ≤ 0.2x |\n", $3, $7, r }
    /^hang=/ { h = $1; sub(":", "", h); printf "| schedule kept, %s of endpoints hanging | %s | %s | | every answering check on time |\n", substr(h, 6), $(NF - 2), $NF }
  ' <<<"$l"
  echo
}

table_orchestrator() {
  local l; l=$(log bench_orchestrator) || { missing bench_orchestrator; return; }
  grep -q '^service.\* latency' <<<"$l" || { missing bench_orchestrator; return; }
  echo "**systemd → bus latency** (tests/bench/orchestrator), $(grep -m1 '^load average' <<<"$l")"
  echo
  echo "| unit state change → service.* event | p50 | p99 | orchestrator CPU per change | the peer: one \`systemctl is-active\` |"
  echo "|---|---|---|---|---|"
  awk '
    /^service.\* latency/ { n = $4; p50 = $8; p99 = $14 }
    /^hl-orchestrator CPU:/ { per = $7 }
    /^systemctl is-active:/ { poll = $3 }
    END { printf "| %s changes | %s ms | %s ms (goal < 20 ms) | %s µs | %s ms CPU |\n", n, p50, p99, per, poll }
  ' <<<"$l" | sed 's/,//g'
  echo
}

table_metrics() {
  local l; l=$(log bench_metrics) || { missing bench_metrics; return; }
  grep -q '^hl-metrics / node_exporter-same-collectors' <<<"$l" || { missing bench_metrics; return; }
  echo "**Metrics** (tests/bench/metrics), $(grep -m1 '^hl-metrics vs' <<<"$l"), $(grep -m1 '^load average at start' <<<"$l")"
  echo
  echo "| | median scrape | CPU per scrape | RSS | USS |"
  echo "|---|---|---|---|---|"
  awk '
    $1 == "node_exporter-same-collectors" && $2 ~ /^[0-9.]+$/ { ne = 1; nm = $2; nc = $3; nr = $4; nu = $6 }
    $1 == "hl-metrics" && $2 ~ /^[0-9.]+$/ { hm = $2; hc = $3; hr = $4; hu = $6 }
    /^hl-metrics collection cycle:/ { cyc = $4 }
    /^hl-metrics \/ node_exporter-same-collectors:/ {
      xs = $6; xc = $10; xcc = $16; xr = $18; xu = $22
      gsub(/[;,)]/, "", xs); gsub(/[;,)]/, "", xc); gsub(/[;,)]/, "", xcc); gsub(/[;,)]/, "", xr); gsub(/[;,)]/, "", xu)
    }
    END {
      if (!ne) exit
      printf "| node_exporter (same collectors) | %s ms | %s ms | %.1f MB | %.1f MB |\n", nm, nc, nr / 1024, nu / 1024
      printf "| hl-metrics | %s ms (%.3fx) | %s ms; %s ms per collection (%.2fx) | %.1f MB (%.2fx) | %.1f MB (%.2fx) |\n",
             hm, xs, hc, cyc, xcc, hr / 1024, xr, hu / 1024, xu
    }' <<<"$l"
  echo
}

table_stdio() {
  local l; l=$(log bench_stdio_quick) || { missing bench_stdio_quick; return; }
  grep -q 'GB/s' <<<"$l" || { missing bench_stdio_quick; return; }
  echo "**STDIO relay** (tests/bench/stdio, the quick run ctest makes; docs/stdio.md has the full one),"
  echo "$(grep -m1 '^# hl-stdio throughput' <<<"$l" | sed 's/^# //')"
  echo
  echo "| to 1 reader | GB/s |"
  echo "|---|---|"
  awk -F '  +' '/GB\/s/ && $2 == 1 { printf "| %s | %s |\n", $1, $3 }' <<<"$l" | sed 's/ GB\/s |$/ |/'
  awk -F '  +' '/^hl-stdio  / && $2 > 1 { printf "\nhl-stdio to %s readers: %s aggregate", $2, $4 }' <<<"$l"
  echo; echo
}

table_failure() {
  local l; l=$(log bench_failure) || { missing bench_failure; return; }
  grep -q '^hl-failure detect' <<<"$l" || { missing bench_failure; return; }
  echo "**Failure detection and recovery** (tests/bench/failure), $(grep -m1 '^hl-failure vs' <<<"$l")"
  echo
  echo "| from kill -9 to | p50 | p99 |"
  echo "|---|---|---|"
  awk '
    /^hl-failure detect /    { printf "| `failure.service_crash` on the bus (hl-failure) | %s ms | %s ms (goal < 50 ms) |\n", $5, $11 }
    /^monit detect /         { printf "| Monit notices the process missing | %s ms | %s ms |\n", $5, $11 }
    /^hl-failure recovered / { printf "| healthy again, verified by hl-health (`recovery.<service>` recovered) | %s ms | %s ms |\n", $5, $11 }
    /^monit running /        { printf "| Monit: process running again | %s ms | %s ms |\n", $5, $11 }
  ' <<<"$l"
  echo
}

table_logs() {
  local l; l=$(log bench_logs) || { missing bench_logs; return; }
  grep -q '^hl-logs against rsyslog' <<<"$l" || { missing bench_logs; return; }
  echo "**Logs** (tests/bench/logs), $(grep -m1 '^hl-logs against rsyslog' <<<"$l")"
  echo
  grep -E '^\|' <<<"$l"
  echo
}

table_backup() {
  local l; l=$(log bench_backup) || { missing bench_backup; return; }
  grep -q '^| \*\*hl-backup\*\*' <<<"$l" || { missing bench_backup; return; }
  echo "**Backups** (tests/bench/backup, docs/backup.md), $(grep -m1 ' files, .* rounds; restic' <<<"$l")"
  echo
  grep -E '^\|' <<<"$l"
  echo
  grep -m1 '^hl-backup / restic:' <<<"$l"
  echo
}

table_compliance() {
  local l; l=$(log bench_compliance) || { missing bench_compliance; return; }
  grep -q '^lynis ' <<<"$l" || { missing bench_compliance; return; }
  echo "**Compliance report against Lynis** (tests/bench/compliance)"
  echo
  echo "| | run time |"
  echo "|---|---|"
  awk '/^(lynis|hl-compliance) +[0-9]+ ms$/ { printf "| %s | %.2f s |\n", $1, $2 / 1000 }' <<<"$l"
  echo
  grep -E '^(lynis findings|hl-compliance:)' <<<"$l"
  grep 'MISSED' <<<"$l" | sed 's/^ */  missed: /'
  echo
}

table_git() {
  local l; l=$(log bench_git) || { missing bench_git; return; }
  grep -q '^BENCH git ' <<<"$l" || { missing bench_git; return; }
  echo "**Workspace git sync** (tests/bench/git), $(grep -m1 '^repository:' <<<"$l")"
  echo
  echo "| | hl-git-sync | git-sync approach |"
  echo "|---|---|---|"
  grep -m1 '^BENCH git ' <<<"$l" | tr ' ' '\n' | awk -F= '
    { v[$1] = $2 }
    END {
      printf "| no-op cycle, wall | %s ms | %s ms |\n", v["gs_noop_ms"], v["peer_noop_ms"]
      printf "| no-op cycle, CPU | %s ms | %s ms |\n", v["gs_noop_cpu_ms"], v["peer_noop_cpu_ms"]
      printf "| push to workspace, %s s interval | %s ms | %s ms |\n", v["interval_s"], v["gs_latency_ms"], v["peer_latency_ms"]
    }'
  echo
}

table_pty() {
  local l; l=$(log bench_pty) || { missing bench_pty; return; }
  grep -q '^hl-pty ' <<<"$l" || { missing bench_pty; return; }
  echo "**The agent's terminal** (tests/bench/pty, docs/pty.md), $(grep -m1 '^# keystroke' <<<"$l" | sed 's/^# //'):"
  echo
  echo "| keystroke to echo, µs | p50 | p99 | max |"
  echo "|---|---|---|---|"
  awk '$1 ~ /^(hl-pty|tmux|dtach|direct)$/ && NF == 5 {
    name = $1 == "hl-pty" ? "hlctl attach → hl-stdio → hl-pty" : $1 == "tmux" ? "tmux attach" : $1 == "dtach" ? "dtach -a" : "the program on the terminal itself"
    printf "| %s | %s | %s | %s |\n", name, $2, $3, $4 }' <<<"$l"
  echo
}

tables() {
  echo
  echo "## Benchmarks ($(date -u +%Y-%m-%d), $(nproc) cores; logs in $results)"
  echo
  table_bus; table_health; table_orchestrator; table_metrics; table_stdio; table_failure
  table_compliance; table_git; table_logs; table_pty; table_backup
}

rc=0
if ! $tables_only; then
  if [ -n "${HL_E2E_LOCK:-}" ]; then
    exec 8>"$HL_E2E_LOCK"
    echo "waiting for $HL_E2E_LOCK"
    flock 8
  fi
  run_all
  rc=$?
fi
tables
exit $rc
