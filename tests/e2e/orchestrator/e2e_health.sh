#!/usr/bin/env bash
# Where hl-health runs, a phase waits until its services are healthy: a
# report from before the service started does not count, nor does
# "unhealthy"; a fresh "healthy" lets the next phase begin.
set -euo pipefail
. "$(dirname "$0")/orchlib.sh"

CONFIG='
hl-orchestrator:
  health: {gate: auto, unit: t-hh.service}
  phases:
    - {name: infrastructure, timeout: 60s, units: [t-hh.service]}
    - {name: core, timeout: 60s, units: [{unit: t-h-core.service, health: true}]}
    - {name: application, timeout: 60s, units: [t-h-app.service]}
    - {name: health, timeout: 60s}
'
ct_boot
orch_setup "$CONFIG" "$HERE"/units-health/*.service
pub() { ct /opt/hl/bin/hlctl pub "health.t-h-core" "state=$1" >/dev/null; }
# A "healthy" from before t-h-core runs: it must not count.
pub healthy
ct systemctl start --no-block hl-orchestrator.service
ct_wait_for "phase core to wait for health" 30 bash -c \
    "jq -e -s 'map(select(.topic == \"lifecycle.phase\" and .body.name == \"core\" and .body.state == \"health\")) | length == 1' '$CT_DIR/share/events.jsonl'"
status=$(unit_prop hl-orchestrator.service StatusText)
case "$status" in *"waiting for health.t-h-core"*) ;; *) ct_fail "STATUS= is '$status'" ;; esac
pub unhealthy
# Let the orchestrator see it: a marker published after it has passed through the bus.
ct_wait_for "the tap to see the unhealthy report" 10 bash -c \
    "jq -e -s 'map(select(.topic == \"health.t-h-core\" and .body.state == \"unhealthy\")) | length == 1' '$CT_DIR/share/events.jsonl'"
# (exit status 1: not ready yet)
phases=$(ct /opt/hl/bin/hlctl --json phases || true)
phase=$(jq -r '.phases[1].state' <<<"$phases")
[ "$phase" = health ] || ct_fail "phase core moved on to '$phase' without a healthy report"
[ "$(unit_prop t-h-app.service InactiveExitTimestampMonotonic)" = 0 ] || ct_fail "phase 3 began while t-h-core is unhealthy"
jq -e '.phases[1].units[0].health == "unhealthy"' <<<"$phases" >/dev/null ||
    ct_fail "phases does not show the health"
pub healthy
ct_wait_for "the orchestrator to be ready" 30 \
    bash -c "[ \"\$(nsenter -t $CT_PID -a systemctl show -P ActiveState hl-orchestrator.service)\" = active ]"
[ "$(unit_prop t-h-app.service ActiveState)" = active ] || ct_fail "phase 3 did not run"
ev_jq -e 'map(select(.topic == "lifecycle.phase" and .body.name == "core" and .body.state == "done"))[0]
          | .body.units[0].state == "healthy"' >/dev/null || ct_fail "core done without t-h-core healthy"
ct_log "PASS"
