#!/usr/bin/env bash
# hl-orchestrator's benchmark (see orch_bench.c), under a real systemd in a
# container: the latency of service.* events (p50/p99 over 2×CYCLES state
# changes) and the orchestrator's CPU per event, beside the CPU that
# `systemctl is-active` polling costs per call, measured in the same run.
#   bench_latency.sh ORCH_BENCH [CYCLES]
set -euo pipefail
BENCH=$1
CYCLES=${2:-${HL_BENCH_CYCLES:-150}}
. "$HL_SOURCE_DIR/tests/e2e/orchestrator/orchlib.sh"

ct_boot "$BENCH"
orch_setup '
hl-orchestrator:
  health: {gate: "off"}
  phases:
    - {name: one, timeout: 30s, units: []}
  watch: [t-bench.service]
' 
printf '[Unit]\nDescription=bench stand-in\n[Service]\nType=exec\nExecStart=/bin/sleep infinity\n' |
    ct_put /etc/systemd/system/t-bench.service
ct systemctl daemon-reload
ct systemctl start hl-orchestrator.service
# The tap is not needed here, and would only add a subscriber.
ct systemctl stop t-tap.service
pid=$(unit_prop hl-orchestrator.service MainPID)
cpu() { ct cat "/proc/$1/stat" | awk '{print $14 + $15}'; }
ticks=$(getconf CLK_TCK)
c0=$(cpu "$pid"); b0=$(cpu "$(unit_prop hl-bus.service MainPID)")
out=$(ct /opt/hl/bin/orch-bench t-bench.service "$CYCLES" /usr/bin/systemctl)
c1=$(cpu "$pid"); b1=$(cpu "$(unit_prop hl-bus.service MainPID)")
load=$(cut -d' ' -f1-3 /proc/loadavg)
jq -n --argjson r "$out" --argjson oc "$(( (c1 - c0) * 1000000 / ticks ))" \
      --argjson bc "$(( (b1 - b0) * 1000000 / ticks ))" --arg load "$load" '
  $r + {orchestrator_cpu_us: $oc, bus_cpu_us: $bc, load: $load,
        orchestrator_cpu_per_event_us: (if $r.changes > 0 then ($oc / $r.changes | floor) else null end)}'
jq -r -n --argjson r "$out" --argjson oc "$(( (c1 - c0) * 1000000 / ticks ))" '
  "service.* latency over \($r.changes) state changes: p50 \($r.p50_us / 1000) ms, p90 \($r.p90_us / 1000) ms, p99 \($r.p99_us / 1000) ms, max \($r.max_us / 1000) ms",
  "  of which systemd → the orchestrator publishing: p50 \($r.systemd_to_publish_p50_us / 1000) ms, p99 \($r.systemd_to_publish_p99_us / 1000) ms; through the bus: p50 \($r.bus_p50_us / 1000) ms, p99 \($r.bus_p99_us / 1000) ms",
  "hl-orchestrator CPU: \($oc / 1000) ms in all, \(($oc / $r.changes) | floor) us per change (10 ms clock ticks)",
  "systemctl is-active: \(($r.poll_cpu_us / 1000 * 100 | floor) / 100) ms CPU per call (\(($r.poll_wall_us / 1000 * 100 | floor) / 100) ms wall)",
  "polling every \($r.p99_us / 1000) ms (to match that p99) would cost \((1000000 / $r.p99_us * $r.poll_cpu_us / 10000 | floor)) % of a core per unit"'
echo "load average: $load"
jq -e -n --argjson r "$out" '$r.changes >= 100 and $r.missing == 0' >/dev/null ||
    ct_fail "fewer than 100 changes measured, or events missing"
