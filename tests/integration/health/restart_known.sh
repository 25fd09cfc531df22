#!/usr/bin/env bash
# #11: after a restart of hl-health every check runs once at start (spread
# over at most a second), so health is known within one check timeout, with
# no "unknown" left: not after the check's interval, and not after a start-up
# grace that began with hl-health rather than with the service. The checks
# here run every hour and their services have a 10-minute grace: on the old
# tree the failing one stayed "unknown" for those 10 minutes. The time from
# the restart to "all known" is printed, not asserted.
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
B=${HL_BUILD_DIR:?}/daemons
dir=$(mktemp -d)
bus_pid= health_pid=
cleanup() {
    for p in $bus_pid $health_pid; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
hlctl() { "$B/hlctl/hlctl" --runtime-dir "$dir" "$@"; }

cat >"$dir/hl.yaml" <<'Y'
hl-health:
  builtin: false
  spread: 1h
  defaults: {interval: 1h, timeout: 2s, retries: 1, failures: 1, successes: 1, grace: 10m}
  services:
    good: {unit: "", checks: [{name: good-exec, type: exec, argv: [/bin/true]}]}
    bad: {unit: "", checks: [{name: bad-exec, type: exec, argv: [/bin/sh, -c, "exit 2"], critical: true}]}
    slowish: {unit: "", checks: [{name: slowish-exec, type: exec, argv: [/bin/sh, -c, "sleep 0.3"]}]}
Y
"$B/hl-bus/hl-bus" --config "$dir/hl.yaml" --runtime-dir "$dir" 2>"$dir/bus.log" &
bus_pid=$!
ok wait_for 30 hlctl --retries 0 --timeout 200 ping hl-bus

start_health() {
    "$B/hl-health/hl-health" --config "$dir/hl.yaml" --runtime-dir "$dir" 2>>"$dir/health.log" &
    health_pid=$!
    wait_for 30 hlctl --retries 0 --timeout 200 ping hl-health
}
all_known() {
    local out
    out=$(hlctl health 2>&1)
    ! grep -q "unknown" <<<"$out" && grep -q "CRITICAL bad" <<<"$out" && grep -q "OK       good" <<<"$out"
}

for round in first restart; do
    [ "$round" = restart ] && { kill -TERM "$health_pid"; wait "$health_pid" 2>/dev/null; }
    t0=$(date +%s%N)
    ok start_health
    if wait_for 20 all_known; then
        pass=$((pass + 1))
        echo "$round: every service known $((($(date +%s%N) - t0) / 1000000)) ms after the start"
    else
        fail_check "$round: still unknown after 20 s: $(hlctl health 2>&1 | tr '\n' '|')"
    fi
done
# The spec's exit status: a critical check failing is 2.
ok rc_is 2 hlctl health

checks_done restart_known || { tail -n 20 "$dir"/*.log >&2; exit 1; }
