#!/usr/bin/env bash
# `hlctl call hl-metrics collect` on a real hl-metrics: with an interval of
# an hour nothing but the start and the call collects, so a change in the
# (copied) fixture /proc reaches the endpoint only through the call, whose
# reply counts it; a stopped daemon is a clear error.
set -u
. "$(dirname "$0")/lib.sh"
FX=$HL_SOURCE_DIR/tests/fixtures/metrics
cp -r "$FX/proc" "$dir/proc"
cat >"$dir/hl.yaml" <<'Y'
hl-metrics:
  listen: "127.0.0.1:0"
  interval: 1h
  bus: {stats_interval: 1h, stats_timeout: 100ms}
Y
ok start_bus
ok start_metrics --path.procfs "$dir/proc" --path.sysfs "$FX/sys"
ok wait_for 10 scrape_has 'node_load1 0.04'
c0=$(collections)
ok test -n "$c0"

printf '0.55 0.12 0.07 1/90 7567\n' >"$dir/proc/loadavg"
ok scrape_has 'node_load1 0.04'              # the snapshot is the last cycle's
out=$(hlctl --json call hl-metrics collect); rc=$?
ok test $rc = 0
ok grep -q "\"collections\":$((c0 + 1))" <<<"$out"
ok scrape_has 'node_load1 0.55'
ok test "$(collections)" = $((c0 + 1))

# Twice more: each call is one cycle.
hlctl call hl-metrics collect >/dev/null
out=$(hlctl --json call hl-metrics collect)
ok grep -q "\"collections\":$((c0 + 3))" <<<"$out"

# The method is listed, with its help.
ok bash -c "'$B/hlctl/hlctl' --runtime-dir '$dir' call hl-metrics help | grep -q 'collect.*collection cycle'"

# Not running: a clear error, not a hang.
kill -TERM "$METRICS_PID"; wait "$METRICS_PID"
out=$(hlctl --retries 0 --timeout 500 call hl-metrics collect 2>&1); rc=$?
ok test $rc != 0
ok grep -qi "hl-metrics" <<<"$out"
finish
