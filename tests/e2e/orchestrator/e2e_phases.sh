#!/usr/bin/env bash
# The phases come up in order: every unit of phase N is active before any
# unit of phase N+1 starts, seen both from the order of the service.* events
# on the bus and from systemd's own timestamps; READY=1 (the unit active)
# only after the last phase; lifecycle.phase reports each phase done.
set -euo pipefail
. "$(dirname "$0")/orchlib.sh"

CONFIG='
hl-orchestrator:
  health: {gate: "off"}
  watch: [hl-bus.service, t-late.service]
  phases:
    - {name: infrastructure, timeout: 30s, units: [t-dep.target, t-infra-a.service, t-infra-b.service, {unit: absent.service, optional: true}]}
    - {name: core, timeout: 30s, units: [t-core-a.service, t-core-b.service]}
    - {name: application, timeout: 30s, units: [t-app-a.service, t-app-b.service]}
    - {name: health, timeout: 30s, checks: [[/bin/true], [/bin/sh, -c, "test -e /run/hl/bus/pub"]]}
'
ct_boot
orch_setup "$CONFIG" "$HERE"/units-phases/*.service "$HERE"/units-phases/*.target

t0=$(date +%s%N)
ct systemctl start hl-orchestrator.service   # returns at READY=1
ct_log "hl-orchestrator ready after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$(unit_prop hl-orchestrator.service ActiveState)" = active ] || ct_fail "orchestrator not active"
status=$(unit_prop hl-orchestrator.service StatusText)
case "$status" in ready:*) ;; *) ct_fail "STATUS= is '$status'" ;; esac

phases=(t-infra-a.service,t-infra-b.service t-core-a.service,t-core-b.service t-app-a.service,t-app-b.service)

# 1. From systemd: each phase's units became active before the next phase's
#    units left the inactive state (monotonic timestamps).
for i in 0 1; do
    last_active=0
    for u in ${phases[$i]//,/ }; do
        t=$(unit_prop "$u" ActiveEnterTimestampMonotonic)
        [ "$t" -gt 0 ] || ct_fail "$u never became active"
        [ "$t" -gt "$last_active" ] && last_active=$t
    done
    for u in ${phases[$((i + 1))]//,/ }; do
        t=$(unit_prop "$u" InactiveExitTimestampMonotonic)
        [ "$t" -gt "$last_active" ] ||
            ct_fail "$u started at $t, before phase $((i + 1)) was active ($last_active)"
    done
done

# 2. From the bus: the first service.* event of each unit of phase N+1
#    comes after the "active" events of every unit of phase N.
ct_wait_for "the tap to see t-app-b running" 10 \
    grep -q '"unit":"t-app-b.service","active_state":"active"' "$CT_DIR/share/events.jsonl"
for i in 0 1; do
    a=${phases[$i]}; b=${phases[$((i + 1))]}
    ev_jq -e --arg a "$a" --arg b "$b" '
        [to_entries[] | select(.value.topic | startswith("service.")) | {i: .key, u: .value.body.unit, s: .value.body.active_state}] as $ev
        | ($a | split(",")) as $A | ($b | split(","))  as $B
        | ([$ev[] | select((.u as $u | $A | index($u)) and .s == "active") | .i] | max) as $done
        | ([$ev[] | select((.u as $u | $B | index($u)) and .s != "inactive") | .i] | min) as $next
        | $done != null and $next != null and $done < $next' >/dev/null ||
        ct_fail "service.* events: phase $((i + 2)) began before phase $((i + 1)) was active"
done

# A unit that refuses manual starts was waited for, not started.
[ "$(unit_prop t-dep.target ActiveState)" = active ] || ct_fail "t-dep.target is not active"
journal_has 't-dep.target may only be started by dependency: waiting for it' ||
    ct_fail "t-dep.target: no note that it is waited for"

# 3. lifecycle.phase: all four done, in order; the optional absent unit skipped.
done_order=$(ev_jq -r '[.[] | select(.topic == "lifecycle.phase" and .body.state == "done") | .body.name] | join(",")')
[ "$done_order" = infrastructure,core,application,health ] || ct_fail "phases done: '$done_order'"
ev_jq -e '[.[] | select(.topic == "lifecycle.phase" and .body.name == "infrastructure" and .body.state == "done")][0]
          | .body.units[] | select(.unit == "absent.service") | .state == "skipped"' >/dev/null ||
    ct_fail "absent.service was not reported as skipped"
ev_jq -e 'map(select(.topic == "lifecycle.state")) | last | .body.state == "ready"' >/dev/null ||
    ct_fail "lifecycle.state is not ready"

# 4. The read-only methods answer, for anyone in group hl.
ct /opt/hl/bin/hlctl --json call hl-orchestrator phases | jq -e '.phases | length == 4' >/dev/null ||
    ct_fail "phases method"
ct /opt/hl/bin/hlctl --json call hl-orchestrator services |
    jq -e '[.services[] | select(.unit == "t-app-b.service" and .active_state == "active")] | length == 1' >/dev/null ||
    ct_fail "services method"
# 5. A unit installed later (a package, then daemon-reload) is picked up.
ev_jq -e 'map(select(.topic == "service.t-late")) | last | .body.load_state == "not-found"' >/dev/null ||
    ct_fail "t-late.service should be reported as not installed"
printf '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n' | ct_put /etc/systemd/system/t-late.service
ct systemctl daemon-reload
ct_wait_for "t-late to be reported as installed" 10 bash -c \
    "jq -e -s 'map(select(.topic == \"service.t-late\")) | last | .body.load_state == \"loaded\"' '$CT_DIR/share/events.jsonl'"

# 6. The bus daemon restarts: the orchestrator reconnects, re-subscribes and
#    goes on reporting.
ct systemctl restart dbus.service
ct_wait_for "the orchestrator to reconnect" 30 journal_has 'reconnected to systemd'
inv=$(unit_prop t-app-b.service InvocationID)
ct systemctl restart t-app-b.service
inv2=$(unit_prop t-app-b.service InvocationID)
ct_wait_for "service.t-app-b from the new invocation" 10 \
    grep -q "\"invocation_id\":\"$inv2\"" "$CT_DIR/share/events.jsonl"
[ "$inv" != "$inv2" ] || ct_fail "t-app-b was not restarted"
ct_log "PASS"
