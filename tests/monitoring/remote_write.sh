#!/usr/bin/env bash
# Fleet metrics through Prometheus itself: a VM-side Prometheus with
# deploy/prometheus/prometheus-fleet.yml scrapes a real hl-metrics (with
# hl-bus, and health and failure events published on the bus), evaluates
# recording_rules.yml and remote-writes to a second, central Prometheus
# started with --web.enable-remote-write-receiver, both on loopback with
# ports of their own choosing and temporary storage. The central one then
# holds the VM's fleet series with its external labels (instance_id and
# region, expanded from the environment) and none of the raw high-cardinality
# series. promtool checks the fleet config and the recording rules (and their
# unit tests), and the fleet config scrapes exactly what prometheus.yml does.
set -u
: "${HL_BUILD_DIR:?}" "${HL_SOURCE_DIR:?}"
. "$HL_SOURCE_DIR/tests/common/lib.sh"
need prometheus promtool curl ss
PY=/usr/bin/python3
$PY -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed"
P=$HL_SOURCE_DIR/deploy/prometheus
B=$HL_BUILD_DIR/daemons
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do [ "$p" -gt 0 ] 2>/dev/null && kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${HL_DEBUG:-}" ] && tail -n 30 "$dir"/*.log >&2
    rm -rf "$dir"
}
trap cleanup EXIT
hlctl() { "$B/hlctl/hlctl" --runtime-dir "$dir/run" "$@"; }
mkdir -p "$dir/run"

# --- the shipped files, by the real tools
ok promtool check config "$P/prometheus-fleet.yml"
ok promtool check rules "$P/recording_rules.yml"
ok promtool test rules "$P/recording_rules_test.yml"
# every recording rule has a unit test
for r in $(sed -n 's/^ *- record: *//p' "$P/recording_rules.yml"); do
    ok grep -q "^ *- expr: $r\$" "$P/recording_rules_test.yml"
done
# the fleet config is prometheus.yml plus remote-write, nothing less
ok $PY - "$P/prometheus.yml" "$P/prometheus-fleet.yml" <<'PYEOF'
import sys, yaml
base, fleet = (yaml.safe_load(open(p)) for p in sys.argv[1:])
assert fleet["scrape_configs"] == base["scrape_configs"], "scrape_configs differ from prometheus.yml"
assert fleet.get("alerting") == base.get("alerting"), "alerting differs from prometheus.yml"
assert set(base["rule_files"]) <= set(fleet["rule_files"]), "a rule file of prometheus.yml is missing"
for k in ("scrape_interval", "evaluation_interval"):
    assert fleet["global"][k] == base["global"][k], k
assert set(fleet["global"]["external_labels"]) == {"instance_id", "region"}
assert [r["name"] for r in fleet["remote_write"]] == ["fleet"]
PYEOF

# --- a real hl-bus and hl-metrics, with something on the bus to count
cat >"$dir/hl.yaml" <<Y
hl-metrics:
  listen: "127.0.0.1:0"
  interval: 500ms
  bus: {stats_interval: 500ms}
Y
"$B/hl-bus/hl-bus" --runtime-dir "$dir/run" --config "$dir/hl.yaml" 2>"$dir/bus.log" &
pids+=($!)
ok wait_for 10 hlctl --retries 0 --timeout 100 ping hl-bus
"$B/hl-metrics/hl-metrics" --runtime-dir "$dir/run" --config "$dir/hl.yaml" 2>"$dir/metrics.log" &
pids+=($!)
ok wait_for 10 hlctl --retries 0 --timeout 100 ping hl-metrics
MPORT=$(hlctl --json call hl-metrics info | grep -o '"port":[0-9]*' | cut -d: -f2)
ok test -n "$MPORT"
ok hlctl pub health.claude-code state=healthy
ok hlctl pub health.docker state=unhealthy
ok hlctl pub failure.service_crash type=service_crash service=docker
ok wait_for 10 bash -c "curl -fsS http://127.0.0.1:$MPORT/metrics | grep -qxF 'hl_service_health{service=\"docker\"} 0'"

# start_prom NAME CONFIG [FLAGS...]: a Prometheus on 127.0.0.1:<its choice>;
# sets PORT to the port it listens on.
start_prom() {
    local name=$1 config=$2
    shift 2
    mkdir -p "$dir/$name/data"
    prometheus --config.file="$config" --storage.tsdb.path="$dir/$name/data" \
        --web.listen-address=127.0.0.1:0 "$@" >"$dir/$name.log" 2>&1 &
    local pid=$!
    pids+=($pid)
    wait_for 30 bash -c "ss -Hltnp | grep -q 'pid=$pid,'" || return 1
    PORT=$(ss -Hltnp | grep "pid=$pid," | awk '{print $4}' | grep -o '[0-9]*$' | head -1)
    [ -n "$PORT" ]
}

# --- the central Prometheus: a receiver only, it scrapes nothing
printf 'global:\n  evaluation_interval: 1s\n' >"$dir/central.yml"
ok start_prom central "$dir/central.yml" --web.enable-remote-write-receiver
CPORT=$PORT

# --- the VM's: the shipped fleet config, pointed at this hl-metrics and the
# central one, with test-sized intervals
mkdir -p "$dir/vm"
cp "$P/alert_rules.yml" "$dir/vm/"
sed 's/^    interval: 30s$/    interval: 1s/' "$P/recording_rules.yml" >"$dir/vm/recording_rules.yml"
ok bash -c "! cmp -s '$P/recording_rules.yml' '$dir/vm/recording_rules.yml'"
sed -e "s|localhost:8081|127.0.0.1:$MPORT|" \
    -e "s|https://prometheus.fleet.example/api/v1/write|http://127.0.0.1:$CPORT/api/v1/write|" \
    -e 's/^\(  *\)\(scrape\|evaluation\)_interval: .*/\1\2_interval: 1s/' \
    -e 's/batch_send_deadline: 5s/batch_send_deadline: 1s/' \
    "$P/prometheus-fleet.yml" >"$dir/vm/prometheus.yml"
ok grep -q "127.0.0.1:$CPORT/api/v1/write" "$dir/vm/prometheus.yml"
ok promtool check config "$dir/vm/prometheus.yml"
export HL_INSTANCE_ID=i-test-$$ HL_REGION=test-region-1
ok start_prom vm "$dir/vm/prometheus.yml" --enable-feature=expand-external-labels
VPORT=$PORT

q() { # q PORT PROMQL: the query API's JSON
    curl -fsS "http://127.0.0.1:$1/api/v1/query" --data-urlencode "query=$2"
}
val() { q "$1" "$2" | grep -o '"value":\[[^]]*\]' | head -1 | sed 's/.*,"\(.*\)"\]/\1/'; }
is() { [ "$(val "$@" | head -c 40)" = "$3" ]; }
has() { q "$1" "$2" | grep -q '"value":'; }
vm_labels="instance_id=\"$HL_INSTANCE_ID\",region=\"$HL_REGION\""

# The VM's own Prometheus scrapes and records.
ok wait_for 60 is "$VPORT" 'up{job="hl-metrics"}' 1
ok wait_for 60 has "$VPORT" 'hl:service_health'

# The central one has the VM's series, with its labels, by remote-write.
ok wait_for 90 is "$CPORT" "hl:service_health{service=\"docker\",$vm_labels}" 0
ok is "$CPORT" "hl:service_health{service=\"claude-code\",$vm_labels}" 1
ok wait_for 30 is "$CPORT" "hl:services_unhealthy:count{$vm_labels}" 1
ok wait_for 30 is "$CPORT" "hl:bus_up{$vm_labels}" 1
ok wait_for 30 is "$CPORT" "hl:daemon_contract_version:min{$vm_labels}" 1
ok wait_for 30 is "$CPORT" "up{job=\"hl-metrics\",$vm_labels}" 1
ok wait_for 30 has "$CPORT" "instance:node_memory_utilisation:ratio{$vm_labels}"
ok wait_for 60 has "$CPORT" "instance:node_cpu_utilisation:rate5m{$vm_labels}"
ok wait_for 60 has "$CPORT" "hl:failures:increase1h{type=\"service_crash\",$vm_labels}"
ok wait_for 60 has "$CPORT" "hl:bus_messages:rate5m{$vm_labels}"
# and only those: none of the raw series crossed, and everything that did
# carries the VM's labels
ok has "$VPORT" 'node_cpu_seconds_total'
nok has "$CPORT" node_cpu_seconds_total
names=$(q "$CPORT" 'count by (__name__) ({__name__=~".+"})' | grep -o '"__name__":"[^"]*"' | cut -d'"' -f4 | sort -u)
ok test -n "$names"
bad=$(grep -Ev '^(instance:.+|hl:.+|up|ALERTS)$' <<<"$names")
ok test -z "$bad"
[ -n "$bad" ] && echo "series that should not have left the VM: $bad" >&2
ok is "$CPORT" "count({__name__=~\".+\",instance_id!=\"$HL_INSTANCE_ID\"})" ""
echo "central holds $(wc -l <<<"$names") metric names from the VM, which itself has" \
     "$(q "$VPORT" 'count(count by (__name__) ({__name__=~".+"}))' | grep -o '"value":\[[^]]*\]' | sed 's/.*,"\(.*\)"\]/\1/')"

for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
for p in "${pids[@]}"; do ok bash -c "! kill -0 $p 2>/dev/null"; done
pids=()
checks_done integration_prometheus_remote_write
