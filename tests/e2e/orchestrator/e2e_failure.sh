#!/usr/bin/env bash
# A managed service that fails to start stops the sequence with a clear
# report: which unit, why (Result, exit status), but not its journal lines,
# which only admins get (`hlctl journal`, issue #12 item 4); the later
# phases are never started; the orchestrator exits with status 3 and
# systemd does not restart it.
set -euo pipefail
. "$(dirname "$0")/orchlib.sh"

CONFIG='
hl-orchestrator:
  health: {gate: "off"}
  phases:
    - {name: infrastructure, timeout: 30s, units: [t-infra-a.service]}
    - {name: core, timeout: 30s, units: [t-core-a.service, t-bad.service]}
    - {name: application, timeout: 30s, units: [t-app-a.service, t-app-b.service]}
    - {name: health, timeout: 30s}
'
ct_boot
orch_setup "$CONFIG" "$HERE"/units-phases/*.service "$HERE"/units-failure/*.service

if ct systemctl start hl-orchestrator.service 2>/dev/null; then
    ct_fail "the orchestrator became ready although t-bad.service fails"
fi
ct_wait_for "the orchestrator to be down" 20 \
    bash -c "[ \"\$(nsenter -t $CT_PID -a systemctl show -P ActiveState hl-orchestrator.service)\" = failed ]"
[ "$(unit_prop hl-orchestrator.service ExecMainStatus)" = 3 ] || ct_fail "exit status is not 3"
[ "$(unit_prop hl-orchestrator.service NRestarts)" = 0 ] || ct_fail "systemd restarted it"

# The report on the bus.
ev_jq -e 'map(select(.topic == "lifecycle.phase" and .body.state == "failed")) | length == 1' >/dev/null ||
    ct_fail "no (single) failed lifecycle.phase"
report=$(ev_jq -c 'map(select(.topic == "lifecycle.phase" and .body.state == "failed"))[0].body')
ct_log "report: $(jq -r .failure.summary <<<"$report")"
jq -e '.name == "core" and .failure.unit == "t-bad.service"
       and (.failure.reason == "job-failed" or .failure.reason == "unit-failed")
       and .failure.state.result == "exit-code" and .failure.state.exit_status == 78
       and .failure.state.exit_kind == "exited"
       and (.failure.summary | test("^t-bad.service failed.*Result=exit-code, exited with status 78"))
       and (.failure | has("journal") | not)' \
    <<<"$report" >/dev/null || ct_fail "the report lacks unit, result or status, or quotes the journal: $report"
# The unit's journal is not on the bus, in no event of any topic.
if grep -q 'cannot parse /etc/t-bad.conf' "$CT_DIR/share/events.jsonl"; then
    ct_fail "the unit's journal lines went on the bus"
fi
ev_jq -e 'map(select(.topic == "lifecycle.state")) | last | .body.state == "failed"
          and (.body.status | test("phase 2/4 \\(core\\)"))' >/dev/null || ct_fail "lifecycle.state"

# Nothing of the later phases was started.
for u in t-app-a.service t-app-b.service; do
    [ "$(unit_prop $u InactiveExitTimestampMonotonic)" = 0 ] || ct_fail "$u was started"
done
# And the same report in the journal, for people.
journal_has 'startup failed in phase 2/4 (core): t-bad.service' ||
    ct_fail "no failure line in the journal"
journal_has 'admins: hlctl journal t-bad.service' ||
    ct_fail "the failure line does not say where the unit's journal is"
# The orchestrator's log is published on the bus (log.*): no journal lines
# in it either.
if journal_has 'cannot parse /etc/t-bad.conf'; then
    ct_fail "the orchestrator logged the unit's journal lines (its log goes on the bus)"
fi
# A failing check (phase 4's integration test) stops the sequence the same
# way, with the check's own output in the report.
printf '%s\n' '
hl-orchestrator:
  health: {gate: "off"}
  phases:
    - {name: infrastructure, timeout: 30s, units: [t-infra-a.service]}
    - {name: health, timeout: 30s, checks: [[/bin/true], [/bin/sh, -c, "echo probe says no >&2; exit 2"]]}
' | ct_put "$E2E_CONFIG_FILE"
if ct systemctl start hl-orchestrator.service 2>/dev/null; then ct_fail "ready despite a failing check"; fi
ct_wait_for "the second failure report" 20 bash -c \
    "jq -e -s 'map(select(.topic == \"lifecycle.phase\" and .body.state == \"failed\")) | length == 2' '$CT_DIR/share/events.jsonl'"
report=$(ev_jq -c 'map(select(.topic == "lifecycle.phase" and .body.state == "failed"))[1].body')
ct_log "check report: $(jq -r .failure.summary <<<"$report")"
jq -e '.name == "health" and .failure.reason == "check-failed"
       and (.failure.summary | test("check `/bin/sh -c .echo probe says no >&2; exit 2.` did not pass: .*exited with status 2"))
       and (.failure | has("journal") | not)' <<<"$report" >/dev/null ||
    ct_fail "check failure report: $report"
ct_log "PASS"
