#!/usr/bin/env bash
# A real Prometheus server (loopback, ephemeral port, temp storage, killed at
# the end) scrapes hl-metrics and loads deploy/prometheus/alert_rules.yml:
# its query API returns the system, per-service and bus-derived series, every
# rule evaluates without error, and ServiceDown goes pending for the service
# reported unhealthy on the bus. A live scrape passes promtool check metrics.
set -u
. "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null || { echo "FAILED: prometheus not installed (scripts/install-deps.sh)" >&2; exit 1; }

cat >"$dir/hl.yaml" <<Y
hl-metrics:
  listen: "127.0.0.1:0"
  interval: 500ms
  bus: {stats_interval: 500ms}
Y
ok start_bus
ok start_metrics
ok hlctl pub health.claude-code state=healthy
ok hlctl pub health.docker state=unhealthy
ok hlctl pub service.hl-daemon active_state=active n_restarts=2
ok hlctl pub failure.service_crash service=docker
ok wait_for 10 scrape_has 'hl_service_health{service="docker"} 0'
ok wait_for 10 scrape_has 'hl_bus_up 1'

# promtool on a live scrape; the only findings allowed are node_exporter's
# camelCase meminfo names (kept for compatibility, see docs/metrics.md).
scrape >"$dir/scrape.txt"
promtool check metrics <"$dir/scrape.txt" >"$dir/lint" 2>&1
ok bash -c "! grep -v \"^node_memory_[A-Za-z0-9_]* metric names should be written in 'snake_case' not 'camelCase'\$\" '$dir/lint'"
grep -v '^node_memory_' "$dir/scrape.txt" | promtool check metrics
ok test $? = 0

# Prometheus with the deploy rules, scraping every second.
mkdir -p "$dir/prom/data"
cp "$HL_SOURCE_DIR/deploy/prometheus/alert_rules.yml" "$dir/prom/"
cat >"$dir/prom/prometheus.yml" <<Y
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [alert_rules.yml]
scrape_configs:
  - job_name: hl-metrics
    static_configs: [{targets: ['127.0.0.1:$PORT']}]
Y
prometheus --config.file="$dir/prom/prometheus.yml" --storage.tsdb.path="$dir/prom/data" \
    --web.listen-address=127.0.0.1:0 >"$dir/prom.log" 2>&1 &
prom_pid=$!
pids+=($prom_pid)
prom_port() { ss -Hltnp | grep "pid=$prom_pid," | awk '{print $4}' | grep -o '[0-9]*$' | head -1; }
ok wait_for 30 bash -c "ss -Hltnp | grep -q 'pid=$prom_pid,'"
PP=$(prom_port)
ok test -n "$PP"
api() { curl -fsS "http://127.0.0.1:$PP/api/v1/$1" "${@:2}"; }
q() { api query --data-urlencode "query=$1"; }
# the value of a one-element instant vector
val() { q "$1" | grep -o '"value":\[[^]]*\]' | head -1 | sed 's/.*,"\(.*\)"\]/\1/'; }
is() { [ "$(val "$1")" = "$2" ]; }
nonempty() { q "$1" | grep -q '"value":'; }

ok wait_for 60 is 'up{job="hl-metrics"}' 1
ok nonempty 'node_cpu_seconds_total{mode="idle",cpu="0"}'
ok is 'count(node_load1)' 1
mem_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo)
ok is 'node_memory_MemTotal_bytes' "$(awk -v k="$mem_kb" 'BEGIN{printf "%.0f", k*1024}')"
ok nonempty 'node_filesystem_avail_bytes{mountpoint="/"}'
ok nonempty 'node_network_receive_bytes_total{device="lo"}'
ok is 'hl_service_health{service="claude-code"}' 1
ok is 'hl_service_health{service="docker"}' 0
ok is 'hl_service_restarts{service="hl-daemon"}' 2
ok is 'hl_failures_total{type="service_crash",service="docker"}' 1
ok is 'hl_bus_up' 1
ok nonempty 'hl_bus_messages_total{prefix="health."}'
ok is 'hl_threshold_limit{name="memory"}' 85
ok nonempty 'process_resident_memory_bytes{job="hl-metrics"}'
# a rate needs two scrapes: the counters really move between them
# (all modes together: on a loaded machine one CPU may be idle for no second)
ok wait_for 30 nonempty 'sum(rate(node_cpu_seconds_total{cpu="0"}[10s])) > 0'
ok wait_for 30 nonempty 'increase(hl_metrics_collections_total[10s]) > 0'

# Every rule of deploy/prometheus/alert_rules.yml loads and evaluates cleanly.
rules_ok() { r=$(api rules) && grep -q '"name":"HighCPUUsage"' <<<"$r" &&
             [ "$(grep -o '"health":"[a-z]*"' <<<"$r" | sort -u)" = '"health":"ok"' ]; }
ok wait_for 30 rules_ok
ok test "$(api rules | grep -o '"type":"alerting"' | wc -l)" = "$(grep -c -- '- alert:' "$HL_SOURCE_DIR/deploy/prometheus/alert_rules.yml")"
# ServiceDown (for: 1m) is pending for docker, not for claude-code.
pending() { a=$(api alerts) && grep -q '"alertname":"ServiceDown"[^}]*"service":"docker"' <<<"$a" &&
            grep -q '"state":"pending"' <<<"$a" && ! grep -q '"service":"claude-code"' <<<"$a"; }
ok wait_for 30 pending

kill "$prom_pid"; wait "$prom_pid" 2>/dev/null
ok bash -c "! kill -0 $prom_pid 2>/dev/null"
finish
