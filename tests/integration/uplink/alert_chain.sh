#!/usr/bin/env bash
# Alerts reach the HL cloud API: Debian's real Alertmanager, configured from
# deploy/prometheus/alertmanager.yml (only its receiver's port and the group
# wait changed), notifies hl-uplink's webhook receiver, which sends each
# alert as an event to the reference server (tests/fixtures/uplink); also
# while the API is down (the outbox holds it), with Alertmanager's repeat of
# the same notification carrying the same id. The receiver refuses what is
# not a webhook message. (hl-failure's own alert.* events go upstream
# directly: integration_uplink; the whole chain from a killed service:
# e2e.uplink.)
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
need python3 curl prometheus-alertmanager
B=${HL_BUILD_DIR:?}
S=$HL_SOURCE_DIR
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
hlctl() { "$B/daemons/hlctl/hlctl" --runtime-dir "$dir" "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

(umask 077; echo tok-am > "$dir/token")
exec {rs_fd}< <(exec python3 "$S/tests/fixtures/uplink/refserver.py" --token-file "$dir/token" \
    --heartbeat-interval 1 2>"$dir/rs.log")
pids+=($!)
read -r _ P _ C <&$rs_fd
knob() { curl -s -o /dev/null -XPOST -d "$1" "http://127.0.0.1:$C/control"; }
st() { curl -s "http://127.0.0.1:$C/state" | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
st_true() { [ "$(st "$1")" = True ]; }
am_events() { st "len([e for e in s['events'] if e['source'] == 'alertmanager' and e['topic'] == 'alertmanager.$1'])"; }
am_events_is() { [ "$(am_events "$1")" = "$2" ]; }

"$B/daemons/hl-bus/hl-bus" --runtime-dir "$dir" 2>"$dir/bus.log" &
pids+=($!)
wait_for 30 hlctl --retries 0 --timeout 100 ping hl-bus
AP=$(free_port)
echo 0123456789abcdef0123456789abcdef > "$dir/machine-id"
mkdir -p "$dir/outbox"
cat > "$dir/hl.yaml" <<Y
hl-uplink:
  endpoint: http://127.0.0.1:$P
  token_file: $dir/token
  identity_sources: [machine-id]
  machine_id_path: $dir/machine-id
  outbox_dir: $dir/outbox
  heartbeat_interval: 1s
  backoff_base: 200ms
  backoff_cap: 1s
  batch_linger: 50ms
  alert_listen: 127.0.0.1:$AP
Y
"$B/daemons/hl-uplink/hl-uplink" --runtime-dir "$dir" --config "$dir/hl.yaml" 2>"$dir/uplink.log" &
pids+=($!)
wait_for 30 hlctl --retries 0 --timeout 100 ping hl-uplink
ok wait_for 20 st_true "len(s['instances']) == 1"

# the receiver: webhook messages only
R=http://127.0.0.1:$AP/alertmanager
ok test "$(curl -s -o /dev/null -w '%{http_code}' "$R")" = 405
ok test "$(curl -s -o /dev/null -w '%{http_code}' -XPOST -d '{"alerts": 3' "$R")" = 400
ok test "$(curl -s -o /dev/null -w '%{http_code}' -XPOST -d '{"nothing": []}' "$R")" = 400
head -c 2000000 /dev/zero | tr '\0' ' ' > "$dir/big"
ok test "$(curl -s -o /dev/null -w '%{http_code}' -XPOST --data-binary @"$dir/big" "$R")" = 413
ok test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/other")" = 404

# the shipped Alertmanager config, pointed at this receiver
AMP=$(free_port)
sed -e "s|http://127.0.0.1:9096/alertmanager|$R|" -e 's|group_wait: 10s|group_wait: 1s|' \
    -e 's|group_interval: 10s|group_interval: 2s|' "$S/deploy/prometheus/alertmanager.yml" > "$dir/am.yml"
ok grep -q "$R" "$dir/am.yml"
prometheus-alertmanager --config.file="$dir/am.yml" --storage.path="$dir/am" \
    --web.listen-address="127.0.0.1:$AMP" --cluster.listen-address= 2>"$dir/am.log" &
pids+=($!)
ok wait_for 30 curl -sf "http://127.0.0.1:$AMP/-/ready"
post_alert() { # NAME TARGET
    curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'Content-Type: application/json' \
        "http://127.0.0.1:$AMP/api/v2/alerts" -d "[{\"labels\": {\"alertname\": \"$1\",
        \"severity\": \"critical\", \"alert\": \"$2\", \"reason\": \"gave-up\"},
        \"annotations\": {\"summary\": \"hl-failure gave up recovering $2\"}}]"
}
ok test "$(post_alert RecoveryGaveUp claude-code)" = 200
ok wait_for 30 am_events_is RecoveryGaveUp 1
ok st_true "[e for e in s['events'] if e['topic'] == 'alertmanager.RecoveryGaveUp'][0]['body']['labels']['alert'] == 'claude-code'"
ok st_true "[e for e in s['events'] if e['topic'] == 'alertmanager.RecoveryGaveUp'][0]['id'].startswith('alertmanager:')"
ok st_true "[e for e in s['events'] if e['topic'] == 'alertmanager.RecoveryGaveUp'][0]['body']['status'] == 'firing'"

# the API down: Alertmanager's notification waits in the outbox
knob '{"mode":"refuse"}'
ok test "$(post_alert ServiceFlapping hl-daemon)" = 200
ok wait_for 30 bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir' --json uplink status | grep -q '\"outbox_depth\":[1-9]'"
knob '{"mode":"ok"}'
ok wait_for 30 am_events_is ServiceFlapping 1
# a repeat of the same notification is the same id: a duplicate, not a new event
curl -s -o /dev/null -XPOST -H 'Content-Type: application/json' -d "$(python3 - "$C" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen("http://127.0.0.1:%s/state" % sys.argv[1]))
e = [e for e in s["events"] if e["topic"] == "alertmanager.ServiceFlapping"][0]
print(json.dumps({"version": "4", "status": "firing", "alerts": [e["body"]]}))
PY
)" "$R"
ok wait_for 20 st_true "any(k.startswith('alertmanager:') for k in s['duplicates'])"
ok am_events_is ServiceFlapping 1
checks_done integration_uplink_alert_chain
