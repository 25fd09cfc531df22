#!/usr/bin/env bash
# A broken optional unit does not block startup (#21 item 3). Seen on a VM:
# docker.service installed but broken (its start job ended 'dependency'),
# phase 1 failed, the orchestrator exited 3, hl-daemon and Claude Code never
# started. Here two units of the test join phase 1 as optional members
# (Wants= of hl-phase-infrastructure.target, as a WantedBy= install would
# make): e2e-optdep, whose start job ends 'dependency', and e2e-optexit,
# which fails with Result=exit-code. With hl-daemon and claude-code stopped,
# the orchestrator starts afresh (killed, as a crash would): the startup
# goes on to ready, hl-daemon and claude-code are started, and each failure
# is reported: a warning on the bus (log.hl-orchestrator.*) and in `hlctl
# phases`, its service.* state, hl-health's unhealthy state, and the series
# the ServiceDown alert rule fires on (hl_service_health 0 in hl-metrics).
# Independent of what the host has: the units are the test's own.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-orchestrator.service hl-health.service e2e-optdep.service e2e-optexit.service

WANTS=/etc/systemd/system/hl-phase-infrastructure.target.wants
DROPIN=$E2E_SYSCONFDIR/hl/hl.d/70-optional-broken.yaml
EVENTS=$E2E_DIR/optional-events.jsonl
sub_pid=

cleanup() {
  local rc=$?
  [ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null
  e2e_exec rm -f "$WANTS/e2e-optdep.service" "$WANTS/e2e-optexit.service" "$DROPIN"
  e2e_exec systemctl daemon-reload
  e2e_exec systemctl stop e2e-optdep.service e2e-optexit.service e2e-optdep-broken.service >/dev/null 2>&1
  e2e_exec systemctl reset-failed e2e-optdep.service e2e-optexit.service \
    e2e-optdep-broken.service >/dev/null 2>&1
  # the orchestrator reads its phase targets again; hl-health forgets the two
  e2e_exec systemctl reload hl-orchestrator.service >/dev/null 2>&1
  e2e_hlctl call hl-health reload >/dev/null 2>&1
  e2e_exec systemctl start hl-daemon.service claude-code.service >/dev/null 2>&1
  (exit $rc)
  e2e__finish
}
trap cleanup EXIT

has() { grep -F -- "$1" "$EVENTS" | grep -qF -- "$2"; }

# --- the broken units join phase 1, optional; hl-health watches them ------
e2e_ok e2e_exec mkdir -p "$WANTS"
e2e_ok e2e_exec ln -sf /etc/systemd/system/e2e-optdep.service "$WANTS/e2e-optdep.service"
e2e_ok e2e_exec ln -sf /etc/systemd/system/e2e-optexit.service "$WANTS/e2e-optexit.service"
e2e_ok e2e_exec systemctl daemon-reload
e2e_exec tee "$DROPIN" >/dev/null <<'YAML'
hl-health:
  services:
    e2e-optdep: {unit: e2e-optdep.service, grace: 0s}
    e2e-optexit: {unit: e2e-optexit.service, grace: 0s}
YAML
e2e_ok e2e_hlctl call hl-health reload

: >"$EVENTS"
nsenter -t "$E2E_PID1" -a -- env -i PATH=$E2E_PATH "$E2E_BINDIR/hlctl" sub \
  log.hl-orchestrator. service.e2e-opt health.e2e-opt lifecycle.state test.opt-sync \
  >"$EVENTS" 2>/dev/null &
sub_pid=$!
synced() { e2e_hlctl pub test.opt-sync x=1 >/dev/null && grep -q '"topic":"test.opt-sync"' "$EVENTS"; }
e2e_ok wait_for 10 synced

# --- a fresh startup with hl-daemon and claude-code down -------------------
e2e_ok e2e_exec systemctl stop claude-code.service hl-daemon.service
e2e_ok e2e_kill9 hl-orchestrator.service
e2e_ok wait_for 120 e2e_hlctl phases
e2e_ok e2e_wait_unit_active hl-daemon.service 30
e2e_ok e2e_wait_unit_active claude-code.service 30
e2e_ok wait_for 20 has '"topic":"lifecycle.state"' '"state":"ready"'

# --- each failure is reported ----------------------------------------------
e2e_ok test "$(e2e_prop e2e-optdep.service ActiveState)" != active
e2e_ok test "$(e2e_prop e2e-optexit.service Result)" = exit-code
e2e_hlctl phases >"$E2E_DIR/optional-phases.txt"
e2e_ok grep -Eq 'e2e-optdep.service +skipped.*\(optional\)' "$E2E_DIR/optional-phases.txt"
e2e_ok grep -Eq 'e2e-optexit.service +skipped.*\(optional\)' "$E2E_DIR/optional-phases.txt"
e2e_ok e2e_wait_journal hl-orchestrator.service \
  'optional unit e2e-optdep.service failed \(job-failed\).*the startup goes on without it' 10
e2e_ok e2e_wait_journal hl-orchestrator.service \
  'optional unit e2e-optexit.service failed.*the startup goes on without it' 10
# on the bus: the warning, and the units' state
e2e_ok wait_for 10 has '"topic":"log.hl-orchestrator.' 'optional unit e2e-optdep.service failed'
e2e_ok wait_for 10 has '"topic":"log.hl-orchestrator.' 'optional unit e2e-optexit.service failed'
e2e_ok wait_for 10 has '"topic":"service.e2e-optexit"' '"active_state":"failed"'
e2e_ok wait_for 10 has '"topic":"service.e2e-optdep"' '"unit":"e2e-optdep.service"'
# hl-health: unhealthy, each (exit 2)
e2e_ok wait_for 20 has '"topic":"health.e2e-optdep"' '"state":"unhealthy"'
e2e_ok wait_for 20 has '"topic":"health.e2e-optexit"' '"state":"unhealthy"'
e2e_hlctl health e2e-optexit >/dev/null 2>&1; rc=$?
e2e_ok test "$rc" = 2
# the alert's series: ServiceDown fires on hl_service_health == 0 (its rule
# and promtool cases: deploy/prometheus)
down() { e2e_exec curl -fsS http://127.0.0.1:8081/metrics >"$E2E_DIR/optional-metrics.txt" &&
  grep -q '^hl_service_health{service="e2e-optexit"} 0$' "$E2E_DIR/optional-metrics.txt"; }
e2e_ok wait_for 30 down
# and what is required is healthy
e2e_ok wait_for 60 e2e_hlctl health hl-daemon
e2e_ok wait_for 60 e2e_hlctl health claude-code
