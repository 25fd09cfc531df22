#!/usr/bin/env bash
# deploy/grafana/hl-freestyle.json against a real Prometheus (loopback,
# ephemeral port, temp storage, stopped at the end) scraping a real
# hl-metrics, fed by a real hl-bus and hl-health and by events published on
# the bus as hl-orchestrator and hl-failure publish them: the dashboard is
# well formed, its instance variable's query finds the target, and every
# panel's every query is valid PromQL (Grafana's $instance and
# $__rate_interval filled in as Grafana would) and returns data. With the
# deploy rules loaded, hl-failure's gave-up alert fires (RecoveryGaveUp).
set -u
. "$(dirname "$0")/lib.sh"
need prometheus jq
DASH=$HL_SOURCE_DIR/deploy/grafana/hl-freestyle.json
FX=$HL_SOURCE_DIR/tests/fixtures/metrics

# --- the JSON model: ids unique, every panel on the data source variable,
# every target an expression with a refId, the grid 24 wide.
ok jq -e . "$DASH" >/dev/null
ok test "$(jq '[.panels[].id] | length' "$DASH")" = "$(jq '[.panels[].id] | unique | length' "$DASH")"
ok test "$(jq '[.panels[] | select(.type != "row")] | length' "$DASH")" -ge 20
ok jq -e '[.panels[] | select(.type != "row") | .datasource.uid == "${datasource}"] | all' "$DASH" >/dev/null
ok jq -e '[.panels[] | select(.type != "row") | (.targets | length > 0) and
          ([.targets[] | (.expr | length > 0) and (.refId | length > 0)] | all)] | all' "$DASH" >/dev/null
ok jq -e '[.panels[] | .gridPos.x + .gridPos.w <= 24] | all' "$DASH" >/dev/null
ok jq -e '[.templating.list[].name] == ["datasource", "instance"]' "$DASH" >/dev/null

# --- the stack: hl-bus, hl-health with an exec check, hl-metrics on the real
# /proc and the fixture cgroup tree (this host's services have none).
cat >"$dir/hl.yaml" <<Y
hl-metrics:
  listen: "127.0.0.1:0"
  interval: 500ms
  bus: {stats_interval: 500ms}
hl-health:
  spread: 0s
  defaults: {interval: 500ms, timeout: 400ms}
  services:
    web:
      unit: ""
      checks:
        - {name: web-exec, type: exec, argv: [/bin/true]}
Y
ok start_bus
"$B/hl-health/hl-health" --runtime-dir "$dir" --config "$dir/hl.yaml" 2>"$dir/health.log" &
pids+=($!)
ok wait_for 10 hlctl --retries 0 --timeout 100 ping hl-health
ok start_metrics --path.sysfs "$FX/sys"
ok hlctl pub service.web unit=web.service active_state=active n_restarts=2
ok hlctl pub failure.service_crash service=web
ok hlctl pub recovery.web type=restart outcome=ok
ok hlctl pub recovery.web step=recovered action=restart duration_ms=4200
ok hlctl pub alert.web target=web severity=critical reason=gave-up active=true
ok wait_for 20 scrape_has 'hl_alert_active{alert="web",reason="gave-up",severity="critical"} 1'
ok wait_for 20 bash -c "curl -fsS 'http://127.0.0.1:$PORT/metrics' | grep -q '^hl_check_up{check=\"web-exec\"'"

# --- Prometheus, scraping every second, with the deploy rules.
mkdir -p "$dir/prom/data"
cp "$HL_SOURCE_DIR/deploy/prometheus/alert_rules.yml" "$dir/prom/"
cat >"$dir/prom/prometheus.yml" <<Y
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [alert_rules.yml]
scrape_configs:
  - job_name: hl-metrics
    static_configs: [{targets: ['127.0.0.1:$PORT']}]
Y
prometheus --config.file="$dir/prom/prometheus.yml" --storage.tsdb.path="$dir/prom/data" \
    --web.listen-address=127.0.0.1:0 >"$dir/prom.log" 2>&1 &
prom_pid=$!
pids+=($prom_pid)
listening() { ss -Hltnp | grep -q "pid=$prom_pid,"; }
ok wait_for 30 listening
PP=$(ss -Hltnp | grep "pid=$prom_pid," | awk '{print $4}' | grep -o '[0-9]*$' | head -1)
ok test -n "$PP"
api() { curl -fsS "http://127.0.0.1:$PP/api/v1/$1" "${@:2}"; }
q() { api query --data-urlencode "query=$1"; }
up() { q 'up{job="hl-metrics"}' | jq -e '.data.result[0].value[1] == "1"' >/dev/null; }
ok wait_for 60 up

# The instance variable, as Grafana asks for it.
inst=$(api label/instance/values --data-urlencode 'match[]=up{job="hl-metrics"}' -G | jq -r '.data[0]')
ok test "$inst" = "127.0.0.1:$PORT"

# Every query, with the variables filled in. Rates need two scrapes in the
# window: wait until every one has data (or the deadline), then say which not.
jq -r '.panels[] | select(.type != "row") | .title as $t | .targets[] | "\($t)\t\(.expr)"' "$DASH" \
    >"$dir/queries"
ok test "$(wc -l <"$dir/queries")" -ge 30
fill() { sed -e 's/\$__rate_interval/10s/g' -e 's/\$instance/.+/g' <<<"$1"; }
has_data() { # has_data EXPR: valid, and at least one sample
    q "$(fill "$1")" | jq -e '.status == "success" and (.data.result | length > 0)' >/dev/null
}
all_have_data() {
    local t e
    while IFS=$'\t' read -r t e; do has_data "$e" || return 1; done <"$dir/queries"
}
wait_for 60 all_have_data
while IFS=$'\t' read -r t e; do
    if has_data "$e"; then
        pass=$((pass + 1))
    else
        fail_check "panel '$t': $e: $(q "$(fill "$e")" 2>&1 | head -c 300)"
    fi
done <"$dir/queries"

# hl-failure's alert reaches Prometheus's rules.
firing() { api alerts | jq -e '[.data.alerts[] | select(.labels.alertname == "RecoveryGaveUp" and
                                  .labels.alert == "web" and .state == "firing")] | length == 1' >/dev/null; }
ok wait_for 30 firing

kill "$prom_pid"; wait "$prom_pid" 2>/dev/null
ok bash -c "! kill -0 $prom_pid 2>/dev/null"
finish
