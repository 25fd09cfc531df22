#!/usr/bin/env bash
# Phases from systemd (#11 item 6): with the default phases (no `units:` in
# the config), each phase's members are what hl-phase-<name>.target
# Requires= (required) and Wants= (optional), read over sd-bus; a unit joins
# with RequiredBy=/WantedBy= in its own [Install] and `systemctl enable`,
# and the orchestrator starts it in that phase, in order. A unit enabled
# later becomes a member at a reload; a missing phase target is a clear
# startup failure.
set -euo pipefail
. "$(dirname "$0")/orchlib.sh"

CONFIG='
hl-orchestrator:
  health: {gate: "off"}
  startup: {timeout: 120s}
'
ct_boot
orch_setup "$CONFIG" "$HERE"/units-targets/*.service
# Nothing of the stack is enabled (orch_setup): the members are these alone,
# plus what the deployed targets list themselves (network-online.target,
# docker.service), and an optional link to a unit that is not installed.
ct systemctl enable --quiet t-tg-infra.service t-tg-core.service t-tg-new.service
ct_sh 'mkdir -p /etc/systemd/system/hl-phase-application.target.wants &&
       ln -s /etc/systemd/system/t-tg-absent.service /etc/systemd/system/hl-phase-application.target.wants/ &&
       systemctl daemon-reload'
[ "$(unit_prop hl-phase-core.target Requires)" = t-tg-core.service ] ||
    ct_fail "hl-phase-core.target Requires: '$(unit_prop hl-phase-core.target Requires)'"

ct systemctl start hl-orchestrator.service   # returns at READY=1
[ "$(unit_prop hl-orchestrator.service ActiveState)" = active ] || ct_fail "orchestrator not active"

# 1. Each phase reports the members its target lists, required or optional.
phase_units() { # PHASE: "unit:optional:state" lines of its last lifecycle.phase
    ev_jq -r --arg p "$1" '[.[] | select(.topic == "lifecycle.phase" and .body.name == $p)] | last
        | .body.units[] | "\(.unit):\(.optional // false):\(.state)"' | sort | tr '\n' ' '
}
infra=$(phase_units infrastructure) core=$(phase_units core) app=$(phase_units application)
ct_log "infrastructure: $infra"
ct_log "core: $core"
ct_log "application: $app"
[[ $infra == *"network-online.target:false:up "* ]] || ct_fail "network-online.target not a required member: $infra"
[[ $infra == *"t-tg-infra.service:true:up "* ]] || ct_fail "t-tg-infra not an optional member: $infra"
[[ $infra == *"docker.service:true:"* ]] || ct_fail "docker.service not an optional member: $infra"
[ "$core" = "t-tg-core.service:false:up " ] || ct_fail "core: '$core'"
[[ $app == *"t-tg-new.service:false:up "* ]] || ct_fail "t-tg-new not a required member: $app"
[[ $app == *"t-tg-absent.service:true:skipped "* ]] || ct_fail "t-tg-absent not skipped: $app"
journal_has 'phase application: t-tg-new.service, t-tg-absent.service (optional)' ||
    ct_fail "the orchestrator did not log the application phase's members"

# 2. The new unit was started by the orchestrator, after the core phase.
journal_has 'phase application: starting t-tg-new.service' || ct_fail "t-tg-new not started by the orchestrator"
core_up=$(unit_prop t-tg-core.service ActiveEnterTimestampMonotonic)
new_start=$(unit_prop t-tg-new.service InactiveExitTimestampMonotonic)
[ "$new_start" -gt "$core_up" ] || ct_fail "t-tg-new started at $new_start, before core was up ($core_up)"
# ... and service.* says which phase it belongs to; the orchestrator manages it.
ct_wait_for "service.t-tg-new with its phase" 10 bash -c \
    "jq -e -s 'map(select(.topic == \"service.t-tg-new\")) | last | .body.phase == \"application\"' '$CT_DIR/share/events.jsonl'"
ct hlctl restart t-tg-new >/dev/null || ct_fail "hlctl restart of a target-read member refused"

# 3. A unit enabled on the running stack joins at a reload: it is managed
#    (and reported in its phase) from then on.
ct hlctl start t-tg-late >/dev/null 2>&1 && ct_fail "t-tg-late is managed before it is enabled"
ct systemctl enable --quiet t-tg-late.service
ct systemctl reload hl-orchestrator.service
ct_wait_for "the reload to read the core phase again" 10 journal_has 'phase core: t-tg-core.service, t-tg-late.service (optional)'
ct hlctl start t-tg-late >/dev/null || ct_fail "t-tg-late is not managed after the reload"
[ "$(unit_prop t-tg-late.service ActiveState)" = active ] || ct_fail "t-tg-late did not start"

# 4. An install without a phase target is a startup failure that says so
#    (exit 3, not restarted), not a phase that silently has no members: the
#    orchestrator is killed, and systemd's restart finds the target gone.
ct_sh 'mv /etc/systemd/system/hl-phase-health.target /root/ && systemctl daemon-reload'
ct systemctl kill --signal=SIGKILL hl-orchestrator.service
orch_failed() { [ "$(unit_prop hl-orchestrator.service ActiveState)" = failed ]; }
ct_wait_for "the restarted orchestrator to fail" 20 orch_failed
[ "$(unit_prop hl-orchestrator.service ExecMainStatus)" = 3 ] ||
    ct_fail "exit status $(unit_prop hl-orchestrator.service ExecMainStatus), not 3"
journal_has 'phase health: hl-phase-health.target is not installed' ||
    ct_fail "no message naming the missing target"
ct_log "PASS"
