#!/usr/bin/env bash
# Thresholds end to end: hl-metrics reads a fixture /proc whose loadavg the
# test rewrites; a crossing sustained past `for` publishes exactly one
# FIRING on metrics.threshold.<name>, the way back exactly one CLEARED;
# values between the clear level and the limit change nothing; a reload
# with the same thresholds neither re-fires nor forgets.
set -u
. "$(dirname "$0")/lib.sh"

cp -r "$HL_SOURCE_DIR/tests/fixtures/metrics/proc" "$dir/proc"
set_load() { printf '%s 0.10 0.10 1/90 7567\n' "$1" >"$dir/proc/loadavg.new" && mv "$dir/proc/loadavg.new" "$dir/proc/loadavg"; }
set_load 0.50
cat >"$dir/hl.yaml" <<Y
hl-metrics:
  listen: "127.0.0.1:0"
  interval: 100ms
  bus: {stats_interval: 0}
  collectors: {disable: [services]}
  thresholds:
    cpu: {enabled: false}
    memory: {enabled: false}
    disk: {enabled: false}
    load: {above: 4, for: 500ms, clear_for: 500ms}
    load-hyst: {resource: load, above: 4, clear_below: 2, for: 0s, clear_for: 0s}
Y
ok start_bus

# The subscriber is connected once it sees a probe on the same prefix.
# The binary itself in the background (not the hlctl function, whose
# subshell would be killed at the end and leave the child running).
"$B/hlctl/hlctl" --runtime-dir "$dir" sub metrics.threshold. >"$dir/events" 2>"$dir/sub.err" &
sub_pid=$!
pids+=($sub_pid)
probe() { hlctl pub metrics.threshold.probe name=probe && grep -q '"metrics.threshold.probe"' "$dir/events"; }
ok wait_for 10 probe

ok start_metrics --path.procfs "$dir/proc"
ok wait_cycles 3
ok scrape_has 'hl_threshold_firing{name="load",resource="load"} 0'
count() { grep -c "\"topic\":\"metrics.threshold.$1\".*\"state\":\"$2\"" "$dir/events"; }

# Over the limit: both fire, "load" only after its 500 ms.
set_load 9.00
ok wait_for 10 bash -c "grep -q '\"metrics.threshold.load\".*firing' '$dir/events'"
ok grep -q '"metrics.threshold.load-hyst".*firing' "$dir/events"
# A reload that keeps the thresholds keeps their state: nothing new.
kill -HUP "$METRICS_PID"
ok wait_for 10 grep -q "configuration reloaded" "$dir/metrics.log"
ok wait_cycles 10
ok scrape_has 'hl_threshold_firing{name="load",resource="load"} 1'
ok scrape_has 'hl_threshold_value{name="load",resource="load"} 9'

# Between the levels: "load" clears (its clear level is its limit),
# "load-hyst" (clear_below 2) stays firing.
set_load 3.00
ok wait_for 10 bash -c "grep -q '\"metrics.threshold.load\".*cleared' '$dir/events'"
ok wait_cycles 10
ok test "$(count load-hyst cleared)" = 0
ok scrape_has 'hl_threshold_firing{name="load-hyst",resource="load"} 1'

# Under both.
set_load 0.10
ok wait_for 10 bash -c "grep -q '\"metrics.threshold.load-hyst\".*cleared' '$dir/events'"
ok wait_cycles 10

# Exactly one of each, per threshold, over the whole run.
ok test "$(count load firing)" = 1
ok test "$(count load cleared)" = 1
ok test "$(count load-hyst firing)" = 1
ok test "$(count load-hyst cleared)" = 1
ok test "$(grep -c '"metrics.threshold.load' "$dir/events")" = 4
ok scrape_has 'hl_threshold_events_total{name="load",state="firing"} 1'
ok scrape_has 'hl_threshold_events_total{name="load",state="cleared"} 1'
# The event carries what hl-failure needs.
fire=$(grep '"metrics.threshold.load".*firing' "$dir/events")
ok grep -q '"type":"hl.Threshold"' <<<"$fire"
ok grep -q '"resource":"load"' <<<"$fire"
ok grep -q '"value":9' <<<"$fire"
ok grep -q '"limit":4' <<<"$fire"
ok grep -q '"window_ms":"\{0,1\}500' <<<"$fire"
since=$(grep -o '"since_us":"\{0,1\}[0-9]*' <<<"$fire" | grep -o '[0-9]*$')
ts=$(grep -o '"ts_us":"\{0,1\}[0-9]*' <<<"$fire" | grep -o '[0-9]*$')
ok test -n "$since" -a -n "$ts"
ok test "$((ts - since))" -ge 500000   # fired only after its window
ok hlctl call hl-metrics thresholds

# A threshold that is firing when a reload removes (or changes) it publishes
# CLEARED: it starts over under the new settings.
set_load 9.00
ok wait_for 10 bash -c "[ \$(grep -c '\"metrics.threshold.load-hyst\".*firing' '$dir/events') = 2 ]"
sed -i '/load-hyst/d' "$dir/hl.yaml"
ok hlctl call hl-metrics reload
ok wait_for 10 bash -c "[ \$(grep -c '\"metrics.threshold.load-hyst\".*cleared' '$dir/events') = 2 ]"
ok grep -q "threshold load-hyst reconfigured while firing" "$dir/metrics.log"
ok bash -c "! '$B/hlctl/hlctl' --runtime-dir '$dir' call hl-metrics thresholds | grep -q load-hyst"

[ -n "${HL_DEBUG:-}" ] && cat "$dir/events" "$dir/metrics.log" >&2
finish
