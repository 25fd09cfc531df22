#!/usr/bin/env bash
# The orchestrator killed (SIGKILL) in the middle of the startup is
# restarted by systemd and finishes the sequence without starting anything
# twice: what was up stays up, the unit that was still starting is waited
# for, not started again.
set -euo pipefail
. "$(dirname "$0")/orchlib.sh"

CONFIG='
hl-orchestrator:
  health: {gate: "off"}
  phases:
    - {name: infrastructure, timeout: 60s, units: [t-r-infra.service]}
    - {name: core, timeout: 60s, units: [t-gate.service]}
    - {name: application, timeout: 60s, units: [t-r-app.service]}
    - {name: health, timeout: 60s}
'
ct_boot
orch_setup "$CONFIG" "$HERE"/units-restart/*.service
ct mkfifo /run/t-gate.fifo
: > "$CT_DIR/share/starts"

ct systemctl start --no-block hl-orchestrator.service
ct_wait_for "t-gate to be starting" 30 \
    bash -c "[ \"\$(nsenter -t $CT_PID -a systemctl show -P ActiveState t-gate.service)\" = activating ]"
old=$(orch_pid)
[ "$old" -gt 0 ] || ct_fail "no main PID"   # kill -9 0 would hit our own group
ct_log "killing hl-orchestrator (PID $old in the container) while t-gate.service is starting"
ct kill -KILL "$old"
ct_wait_for "systemd to restart the orchestrator" 30 bash -c "
    p=\$(nsenter -t $CT_PID -a systemctl show -P MainPID hl-orchestrator.service)
    [ \"\$p\" -gt 0 ] && [ \"\$p\" != $old ]"
# The new one must attach to the running start job, not queue another.
ct_wait_for "the new orchestrator to reach phase 2" 30 bash -c "
    jq -e -s 'map(select(.topic == \"lifecycle.phase\" and .body.name == \"core\" and .body.state == \"starting\")) | length >= 2' \
        '$CT_DIR/share/events.jsonl'"
ct_sh 'echo go > /run/t-gate.fifo'
ct_wait_for "the orchestrator to be ready" 60 \
    bash -c "[ \"\$(nsenter -t $CT_PID -a systemctl show -P ActiveState hl-orchestrator.service)\" = active ]"

[ "$(unit_prop hl-orchestrator.service NRestarts)" = 1 ] || ct_fail "NRestarts is not 1"
for u in t-r-infra t-gate t-r-app; do
    n=$(grep -cx "$u" "$CT_DIR/share/starts" || true)
    [ "$n" = 1 ] || ct_fail "$u was started $n times"
done
# The second incarnation saw phase 1 and t-gate already under way: it
# started neither (started=false), and did start t-r-app.
epoch2=$(ev_jq 'map(select(.source == "hl-orchestrator")) | last | .epoch')
ev_jq -e --argjson e "$epoch2" '
    map(select(.epoch == $e and .topic == "lifecycle.phase" and .body.state == "done") | .body.units[]) as $u
    | ($u | map(select(.unit == "t-r-infra.service" or .unit == "t-gate.service")) | all(.started == false))
      and ($u | map(select(.unit == "t-r-app.service")) | all(.started == true))' >/dev/null ||
    ct_fail "the restarted orchestrator started something it should have waited for"
ct_log "PASS"
