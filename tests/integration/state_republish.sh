#!/usr/bin/env bash
# #11: after a kill -9 of hl-bus and its restart (a new epoch on
# daemon.hl-bus), every daemon republishes its state topics, so that a new
# subscriber sees the whole current state, not only what changed since. Real
# hl-bus, hl-health and hl-metrics on a private runtime dir; hl-health's
# periodic snapshot is an hour away, so nothing but the republish can bring
# its health.* back. The time from the restart to the complete state is
# printed, not asserted (the issue's target is 1 s).
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
B=${HL_BUILD_DIR:?}/daemons
dir=$(mktemp -d)
bus_pid= health_pid= metrics_pid=
cleanup() {
    for p in $bus_pid $health_pid $metrics_pid; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
hlctl() { "$B/hlctl/hlctl" --runtime-dir "$dir" "$@"; }

cat >"$dir/hl.yaml" <<'Y'
hl-health:
  builtin: false
  snapshot_interval: 1h
  spread: 0s
  defaults: {interval: 1h, timeout: 1s, retries: 1, failures: 1, successes: 1, grace: 0s}
  services:
    alpha: {unit: "", checks: [{name: alpha-ok, type: exec, argv: [/bin/true]}]}
    beta: {unit: "", checks: [{name: beta-bad, type: exec, argv: [/bin/sh, -c, "exit 2"]}]}
    gamma: {unit: "", checks: [{name: gamma-ok, type: exec, argv: [/bin/true]}]}
hl-metrics:
  listen: "127.0.0.1:0"
  interval: 1h
Y
start_bus() {
    "$B/hl-bus/hl-bus" --config "$dir/hl.yaml" --runtime-dir "$dir" 2>>"$dir/bus.log" &
    bus_pid=$!
    wait_for 30 hlctl --retries 0 --timeout 200 ping hl-bus
}
ok start_bus
"$B/hl-health/hl-health" --config "$dir/hl.yaml" --runtime-dir "$dir" 2>"$dir/health.log" &
health_pid=$!
"$B/hl-metrics/hl-metrics" --config "$dir/hl.yaml" --runtime-dir "$dir" 2>"$dir/metrics.log" &
metrics_pid=$!
ok wait_for 30 hlctl --retries 0 --timeout 200 ping hl-health
ok wait_for 30 hlctl --retries 0 --timeout 200 ping hl-metrics

# What a new subscriber is handed by hl-bus's cache: one topic a line.
want="daemon.hl-bus daemon.hl-health daemon.hl-metrics health.alpha health.beta health.gamma"
state_topics() { hlctl sub --wait 300 daemon. health. | sed -n 's/^{"topic":"\([^"]*\)".*/\1/p' | sort -u; }
complete() {
    local have
    have=$(state_topics)
    for t in $want; do grep -qx "$t" <<<"$have" || return 1; done
    # and the states are the current ones, not only the first "unknown"
    hlctl sub --wait 300 health.beta | grep -q '"service":"beta","state":"degraded"'
}
ok wait_for 30 complete

# kill -9: the cache goes with the process.
kill -9 "$bus_pid"; wait "$bus_pid" 2>/dev/null
t0=$(date +%s%N)
ok start_bus
t1=$(date +%s%N)
if wait_for 20 complete; then
    pass=$((pass + 1))
    t2=$(date +%s%N)
    echo "state complete $(((t2 - t1) / 1000000)) ms after hl-bus answered again" \
         "($(((t2 - t0) / 1000000)) ms after the kill)"
else
    fail_check "a new subscriber after hl-bus's restart sees only: $(state_topics | tr '\n' ' ')"
fi
ok grep -q "hl-bus restarted: republished" "$dir/health.log"
ok grep -q "hl-bus restarted: republished" "$dir/metrics.log"
# hlctl health agrees: beta is degraded (its one check is not critical)
hlctl health >"$dir/health.out" 2>&1; rc=$?
[ "$rc" = 1 ] || cat "$dir/health.out" >&2
ok test "$rc" = 1

checks_done state_republish || { tail -n 20 "$dir"/*.log >&2; exit 1; }
