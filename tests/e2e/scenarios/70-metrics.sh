#!/usr/bin/env bash
# hl-metrics under a real systemd, with its unit's sandbox, as user hl: it
# comes up (Type=notify), serves /metrics on the container's loopback with the
# system, per-service (the units' cgroups, where the container has them) and
# bus series, and a threshold set by a config drop-in goes out on the bus as
# FIRING after `systemctl reload`, and as CLEARED when the drop-in is removed.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-bus.service hl-metrics.service

e2e_ok e2e_wait_unit_active hl-metrics.service 30
pid=$(e2e_main_pid hl-metrics.service)
e2e_ok test "${pid:-0}" -gt 0
e2e_ok test "$(e2e_proc_status "$pid" Uid | awk '{print $1}')" = "$(e2e_exec id -u hl-metrics)"
scrape() { e2e_exec curl -fsS http://127.0.0.1:8081/metrics; }
# (not `scrape | grep -q`: grep's early exit would fail curl under pipefail)
has() { local t; t=$(scrape) && grep -Eq "$1" <<<"$t"; }
e2e_ok wait_for 20 has '^node_load1 [0-9]'
e2e_ok has '^node_cpu_seconds_total\{cpu="0",mode="idle"\} [0-9]'
e2e_ok has '^node_memory_MemAvailable_bytes [0-9]'
e2e_ok has '^node_network_receive_bytes_total\{device="lo"\} [0-9]'
e2e_ok has '^process_resident_memory_bytes [0-9]'
e2e_ok wait_for 30 has '^hl_bus_up 1$'
e2e_ok wait_for 20 has '^hl_daemon_info\{daemon="hl-bus",state="running",'
# The sandbox leaves /proc/1/mounts readable: PID 1's file systems.
e2e_ok has '^node_filesystem_size_bytes\{device="[^"]*",fstype="[^"]*",mountpoint="/"\} [0-9]'
# Per-service metrics where the container's cgroups provide them.
if has '^node_scrape_collector_success\{collector="services"\} 1$'; then
  e2e_ok has '^hl_service_(cpu_seconds_total|memory_bytes|tasks)\{.*service="hl-bus"'
else
  e2e_log "no per-service cgroup data in this container (collector services: no data)"
fi
scrape >"${E2E_DIR:-/tmp}/hl-metrics.scrape" 2>&1; e2e_ok test "$(e2e_main_pid hl-metrics.service)" = "$pid"

# A threshold that is over its limit at once: memory above 0.001 %.
dropin=$E2E_SYSCONFDIR/hl/hl.d/70-e2e-metrics.yaml
tap=$(mktemp)
e2e_hlctl sub --wait 20000 metrics.threshold. >"$tap" 2>&1 &
tap_pid=$!
tap_ready() { e2e_hlctl pub metrics.threshold.e2e-probe name=e2e-probe >/dev/null; grep -q e2e-probe "$tap"; }
e2e_ok wait_for 10 tap_ready
e2e_exec sh -c "mkdir -p '${dropin%/*}' && printf 'hl-metrics:\n  interval: 1s\n  thresholds:\n    memory: {above: 0.001, for: 0s}\n' >'$dropin'"
cursor=$(e2e_journal_cursor)
e2e_ok e2e_exec systemctl reload hl-metrics.service
e2e_ok e2e_wait_journal hl-metrics.service "threshold memory fired" 30 "$cursor"
fired() { grep -q '"metrics.threshold.memory".*"state":"firing"' "$tap"; }
e2e_ok wait_for 20 fired
e2e_exec rm -f "$dropin"
e2e_ok e2e_exec systemctl reload hl-metrics.service
cleared() { grep -q '"metrics.threshold.memory".*"state":"cleared"' "$tap"; }
e2e_ok wait_for 20 cleared
e2e_ok test "$(grep -c '"metrics.threshold.memory"' "$tap")" = 2
kill "$tap_pid" 2>/dev/null; wait "$tap_pid" 2>/dev/null; rm -f "$tap"
# still the same process: reloads do not restart it
e2e_ok test "$(e2e_main_pid hl-metrics.service)" = "$pid"
