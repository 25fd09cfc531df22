#!/usr/bin/env bash
# CPU per check and checks per second: N HTTP checks against loopback
# endpoints, run by hl-health (the real daemon, on a private bus) and by
# Debian's Monit (foreground, its own control file in a temp dir), one after
# the other in the same run against the same hl-test-httpd. Two scenarios:
# every endpoint answers, and 10% of them hang. CPU is the scheduler's own
# account of run time, se.sum_exec_runtime summed over every thread in
# /proc/<pid>/task/*/sched (ns precision; utime/stime are sampled at clock
# ticks, which a process that wakes on timers and sleeps again dodges);
# checks are counted by the server, so both tools are measured alike.
#
#   bench_health.sh [N] [INTERVAL_S] [WINDOW_S]     defaults 500 2 30
set -u
B=${HL_BUILD_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)/build}
N=${1:-500}
IV=${2:-2}
WIN=${3:-30}
TIMEOUT=1
command -v monit >/dev/null || { echo "monit is not installed (apt-get install monit)"; exit 1; }
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

exec {hfd}< <(exec "$B/tests/integration/health/hl-test-httpd" --port 0)
pids+=($!)
read -r _ port <&$hfd

cpu_ms() { # CPU time of PID, all threads, in ms
  cat /proc/"$1"/task/*/sched 2>/dev/null | awk '/se.sum_exec_runtime/ {t += $3} END {printf "%.3f", t}'; }
stat_of() { curl -s "http://127.0.0.1:$port/stats" | awk -v k="$1" '$1 == k {print $2}'; }
path_of() { # endpoint i: every 10th hangs when HANG=1
  if [ "$HANG" = 1 ] && [ $(( $1 % 10 )) = 9 ]; then echo "/hang/$1"; else echo "/ok/$1"; fi; }

# measure NAME PID: the window's CPU and the server-side counts
measure() {
  local name=$1 pid=$2
  local ok0 hang0 c0 t0 ok1 hang1 c1 t1
  ok0=$(stat_of ok); hang0=$(stat_of hang); c0=$(cpu_ms "$pid"); t0=$(date +%s.%N)
  sleep "$WIN"   # the measurement window itself, not a wait for an event
  ok1=$(stat_of ok); hang1=$(stat_of hang); c1=$(cpu_ms "$pid"); t1=$(date +%s.%N)
  awk -v name="$name" -v ok=$(( ${ok1:-0} - ${ok0:-0} )) -v hang=$(( ${hang1:-0} - ${hang0:-0} )) \
      -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v n="$N" -v iv="$IV" -v h="$HANG" '
    BEGIN {
      t = t1 - t0; cpu = c1 - c0
      checks = ok + hang; nok = h ? n - int(n / 10) : n
      cpu_s = cpu / 1000
      per = checks ? cpu_s / checks * 1e6 : 0
      want = nok * t / iv          # answering endpoints, each every interval
      printf "%-10s hang=%d%%  checks %6d in %4.1f s = %7.1f/s  CPU %6.2f s (%4.1f%% of a core)  %7.1f us/check  answering endpoints checked %5.1f%% of schedule\n",
             name, h ? 10 : 0, checks, t, checks / t, cpu_s, 100 * cpu_s / t, per, want ? 100 * ok / want : 0
      printf "RESULT %s %d %.1f %.2f %.1f %.1f\n", name, h, checks / t, cpu_s, per, want ? 100 * ok / want : 0
    }' | tee -a "$dir/results"
}

run_hl() {
  local rt=$dir/hl-rt; mkdir -p "$rt/etc"
  {
    echo "hl-health:"
    echo "  builtin: false"
    echo "  snapshot_interval: 30s"
    echo "  spread: ${BENCH_SPREAD:-${IV}s}"
    echo "  defaults: {interval: ${IV}s, timeout: ${TIMEOUT}s, retries: 1, failures: 2, successes: 1, grace: 0s}"
    echo "  services:"
    echo "    bench:"
    echo "      unit: \"\""
    echo "      checks:"
    for i in $(seq 0 $((N - 1))); do
      echo "        - {name: c$i, type: http, url: \"http://127.0.0.1:$port$(path_of "$i")\"}"
    done
  } > "$rt/etc/hl.yaml"
  "$B/daemons/hl-bus/hl-bus" --runtime-dir "$rt" 2>"$dir/bus.log" &
  local bpid=$!; pids+=($bpid)
  for _ in $(seq 300); do "$B/daemons/hlctl/hlctl" -r "$rt" --retries 0 -t 100 ping hl-bus >/dev/null 2>&1 && break; done
  "$B/daemons/hl-health/hl-health" --config "$rt/etc/hl.yaml" --runtime-dir "$rt" 2>"$dir/health.log" &
  local hpid=$!; pids+=($hpid)
  for _ in $(seq 300); do "$B/daemons/hlctl/hlctl" -r "$rt" --retries 0 -t 100 ping hl-health >/dev/null 2>&1 && break; done
  sleep "$IV"; sleep "$IV"  # warm-up: two full intervals (connections opened) before measuring
  measure hl-health "$hpid"
  # Schedule accuracy, from the daemon's own counters: worst start lateness and
  # runs skipped, over the answering checks.
  local late=0 skipped=0 i j
  for i in $(seq 0 $((N - 1))); do
    case $(path_of "$i") in /hang/*) continue;; esac
    j=$("$B/daemons/hlctl/hlctl" -r "$rt" --json health --why "c$i")
    l=$(grep -o '"late_max_us":[0-9]*' <<<"$j" | cut -d: -f2); s=$(grep -o '"skipped":[0-9]*' <<<"$j" | cut -d: -f2)
    [ "${l:-0}" -gt "$late" ] && late=${l:-0}
    skipped=$((skipped + ${s:-0}))
  done
  echo "hl-health  hang=$((HANG * 10))%  answering checks: worst start lateness $(awk -v l=$late 'BEGIN{printf "%.1f", l/1000}') ms, runs skipped $skipped" | tee -a "$dir/results"
  kill -TERM "$hpid" "$bpid"; wait "$hpid" "$bpid" 2>/dev/null
  rm -rf "$rt"
}

run_monit() {
  local md=$dir/monit; mkdir -p "$md"
  {
    echo "set daemon $IV"
    echo "set logfile $md/monit.log"
    echo "set pidfile $md/monit.pid"
    echo "set idfile $md/monit.id"
    echo "set statefile $md/monit.state"
    for i in $(seq 0 $((N - 1))); do
      echo "check host c$i with address 127.0.0.1"
      echo "    if failed port $port protocol http request \"$(path_of "$i")\" with timeout $TIMEOUT seconds then alert"
    done
  } > "$md/monitrc"
  chmod 600 "$md/monitrc"
  monit -t -c "$md/monitrc" >/dev/null || { echo "monit rejected its control file"; exit 1; }
  monit -I -c "$md/monitrc" >/dev/null 2>&1 &
  local mpid=$!; pids+=($mpid)
  sleep "$IV"; sleep "$IV"
  measure monit "$mpid"
  kill -TERM "$mpid"; wait "$mpid" 2>/dev/null
  rm -rf "$md"
}

echo "hl-health vs monit $(monit -V | head -1 | awk '{print $NF}'): $N HTTP checks every ${IV}s (timeout ${TIMEOUT}s), ${WIN}s windows; load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
# BENCH_ONLY=hl-health or monit runs one side (for profiling); the
# comparison needs both.
for HANG in ${BENCH_HANG:-0 1}; do
  [ "${BENCH_ONLY:-}" != monit ] && run_hl
  [ "${BENCH_ONLY:-}" != hl-health ] && run_monit
done
echo "--- summary"
awk '/^RESULT/ {k = $2 "/" $3; cps[k] = $4; per[k] = $6; sched[k] = $7}
     END {
       for (h = 0; h <= 1; h++) {
         a = "hl-health/" h; m = "monit/" h
         if (per[m] > 0)
           printf "hang=%d%%: hl-health %.1f us/check vs monit %.1f us/check (ratio %.3f, goal <= 0.2); checks/s %.1f vs %.1f; schedule kept %.1f%% vs %.1f%%\n",
                  h * 10, per[a], per[m], per[a] / per[m], cps[a], cps[m], sched[a], sched[m]
       }
     }' "$dir/results"
