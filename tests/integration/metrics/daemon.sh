#!/usr/bin/env bash
# hl-metrics as a daemon: flags and --check-config, the HTTP endpoint's
# answers, slow clients that never block collection, reloads that move the
# endpoint or are refused, hl-bus going away and coming back, a clean stop.
set -u
. "$(dirname "$0")/lib.sh"
M=$B/hl-metrics/hl-metrics
FX=$HL_SOURCE_DIR/tests/fixtures/metrics

ok "$M" --version
ok bash -c "'$M' --help | grep -q -- '--path.procfs'"
"$M" --path.procfs 2>/dev/null; ok test $? = 64
"$M" --bogus 2>/dev/null; ok test $? = 64

# --check-config names file and line
mkdir -p "$dir/hl.d"
cat >"$dir/hl.yaml" <<'Y'
hl-metrics:
  listen: "127.0.0.1:0"
  interval: 200ms
  bus: {stats_interval: 200ms, stats_timeout: 100ms}
Y
printf 'hl-metrics:\n  thresholds:\n    load: {above: lots}\n' >"$dir/hl.d/50-bad.yaml"
out=$("$M" --config "$dir/hl.yaml" --check-config 2>&1); rc=$?
ok test $rc = 1
ok grep -q "50-bad.yaml:3: 'above' must be a number" <<<"$out"
rm "$dir/hl.d/50-bad.yaml"
ok "$M" --config "$dir/hl.yaml" --check-config

ok start_bus
# the flags override the config: the fixture's load average
ok start_metrics --path.procfs "$FX/proc" --path.sysfs "$FX/sys"
ok scrape_has 'node_load1 0.04'
ok scrape_has 'hl_service_tasks{service="hl-daemon"} 12'

# HTTP answers
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
ok test "$(code "http://127.0.0.1:$PORT/metrics")" = 200
ok test "$(code -I "http://127.0.0.1:$PORT/metrics")" = 200
ok test "$(code -X POST "http://127.0.0.1:$PORT/metrics")" = 405
ok test "$(code "http://127.0.0.1:$PORT/nope")" = 404
ok bash -c "curl -fsS 'http://127.0.0.1:$PORT/' | grep -q 'href=\"/metrics\"'"
ok bash -c "curl -sI 'http://127.0.0.1:$PORT/metrics' | grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8'"
ok wait_for 10 scrape_has 'hl_metrics_http_requests_total{code="405"} 1'

# 64 clients of this one user that send half a request and never read:
# collection goes on, the ctl endpoint answers; past the per-user cap (8)
# the server closes them at once, and counts them; once they go, scrapes are
# served again. (Another user's scrape during such a flood:
# tests/security/host/test_metrics_flood.c.) A write to a connection the
# server closed must not kill this script.
trap '' PIPE
fds=()
for i in $(seq 64); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" && fds+=($fd)
    printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n' >&$fd 2>/dev/null
done
ok test "${#fds[@]}" = 64
ok wait_cycles 10
ok hlctl ping hl-metrics
for fd in "${fds[@]}"; do exec {fd}>&-; done
trap - PIPE
ok wait_for 10 scrape_has 'node_load1 0.04'
ok scrape_has 'hl_metrics_http_refused_connections_total 56'

# bus events become series
ok hlctl pub recovery.claude-code type=restart outcome=ok
ok hlctl pub alert.flap.claude-code summary=flapping active=true
ok wait_for 10 scrape_has 'hl_recoveries_total{action="restart",outcome="ok",service="claude-code"} 1'
ok wait_for 10 scrape_has 'hl_alerts_total{alert="flap.claude-code",severity=""} 1'
# hl-failure's alert as it publishes it: the reason is a label, which the
# Prometheus rules of deploy/prometheus/alert_rules.yml select on.
ok hlctl pub alert.claude-code target=claude-code severity=critical reason=gave-up active=true
ok wait_for 10 scrape_has 'hl_alert_active{alert="claude-code",reason="gave-up",severity="critical"} 1'
ok wait_for 10 scrape_has 'hl_daemon_info{daemon="hl-bus",state="running",version="0.1.0"} 1'

# hl-bus dies: the endpoint keeps serving, hl_bus_up says so; it comes back.
bus_pid=${pids[0]}
kill -9 "$bus_pid"; wait "$bus_pid" 2>/dev/null; pids[0]=0
ok wait_for 20 scrape_has 'hl_bus_up 0'
ok start_bus
ok wait_for 20 scrape_has 'hl_bus_up 1'

# A reload that moves the endpoint to another port.
old=$PORT
cat >"$dir/hl.yaml" <<'Y'
hl-metrics:
  listen: "127.0.0.1:0"
  metrics_path: /m
  interval: 200ms
  bus: {stats_interval: 200ms, stats_timeout: 100ms}
Y
ok hlctl call hl-metrics reload
PORT=$(hlctl --json call hl-metrics info | grep -o '"port":[0-9]*' | cut -d: -f2)
ok test "$(code "http://127.0.0.1:$PORT/m")" = 200
ok test "$(code "http://127.0.0.1:$PORT/metrics")" = 404
[ "$PORT" != "$old" ] && { curl -s -m 2 "http://127.0.0.1:$old/metrics" >/dev/null; ok test $? != 0; }
# A reload onto a port that is taken is refused; the endpoint stays. The
# port is held by a socat listener of our own.
socat TCP-LISTEN:0,bind=127.0.0.1,fork /dev/null 2>/dev/null &
holder=$!
pids+=($holder)
held() { ss -Hltnp | grep "pid=$holder," | awk '{print $4}' | head -1; }
ok wait_for 10 bash -c "ss -Hltnp | grep -q 'pid=$holder,'"
taken=$(held)
sed -i "s/127.0.0.1:0/$taken/" "$dir/hl.yaml"
out=$(hlctl call hl-metrics reload 2>&1); rc=$?
ok test $rc != 0
ok grep -q "cannot listen on $taken" <<<"$out"
ok test "$(code "http://127.0.0.1:$PORT/m")" = 200

# SIGTERM: a clean stop, exit 0, the port closed.
kill -TERM "$METRICS_PID"; wait "$METRICS_PID"; rc=$?
ok test $rc = 0
curl -s -m 2 "http://127.0.0.1:$PORT/m" >/dev/null; ok test $? != 0
ok grep -q "stopping on signal 15" "$dir/metrics.log"

# The port is taken at start: a clear error and a failed start.
"$M" --runtime-dir "$dir" --config "$dir/hl.yaml" 2>"$dir/busy.log"; rc=$?
ok test $rc != 0
ok grep -q "cannot listen on $taken" "$dir/busy.log"
finish
