#!/usr/bin/env bash
# hl-uplink under a real systemd (its unit, its user, its sandbox), against
# the reference server of the HL cloud API contract running in the container
# on its loopback (tests/fixtures/uplink/refserver.py, staged by e2e_stage):
#   * it registers (identity: the machine id) and heartbeats; hl-metrics
#     exports hl_uplink_up 1, 0 during the outage, 1 again;
#   * an hour-long outage (the API refuses connections), compressed by a
#     back-off capped at 1 s instead of 60 s (60 failed attempts at the cap):
#     events wait in the outbox on disk, survive a kill -9 of hl-uplink
#     (systemd brings it back), and are delivered in order with nothing lost
#     when the API comes back; a kill -9 of hl-bus leaves hl-uplink running
#     and forwarding;
#   * a lost reply: the batch is sent again with the same ids, which the
#     server counts as duplicates and stores once;
#   * the alert chain: a managed service (claude-code) killed until
#     hl-failure gives up; its critical alert reaches the server, beside
#     every recovery step (a publisher numbers each topic on its own: with an
#     id of source, epoch and seq only, the alert had the id of the first
#     recovery step and the server dropped it as a duplicate).
# Every wait is for a state of the server or of hl-uplink, with a deadline.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-uplink.service hl-failure.service e2e-refserver.service

API=127.0.0.1:18480
CONTROL=127.0.0.1:18481
TOKEN=$E2E_SYSCONFDIR/hl/e2e-uplink.token
DROPIN=$E2E_SYSCONFDIR/hl/hl.d/60-uplink-e2e.yaml
SVC=claude-code

cleanup() {
  local rc=$?
  e2e_exec rm -f "$DROPIN" "$TOKEN"
  e2e_hlctl failure rearm "$SVC" >/dev/null 2>&1
  e2e_hlctl call hl-failure reload >/dev/null 2>&1
  e2e_exec systemctl restart hl-uplink.service >/dev/null 2>&1
  e2e_exec systemctl stop e2e-refserver.service >/dev/null 2>&1
  e2e_wait_unit_active "$SVC.service" 60 >/dev/null 2>&1
  (exit $rc)
  e2e__finish
}
trap cleanup EXIT

# rs JQ: the server's state (GET /state) passes the jq filter
rs() { e2e_exec curl -sf "http://$CONTROL/state" | jq -e "$1" >/dev/null; }
knob() { e2e_exec curl -sf -o /dev/null -XPOST -d "$1" "http://$CONTROL/control"; }
# ul JQ: hl-uplink's status (hlctl uplink status) passes the jq filter
# (hlctl exits 1 or 2 while hl-uplink is offline: what it printed still counts)
ul() { { e2e_hlctl --json uplink status 2>/dev/null || :; } | jq -e "(.body // .) | $1" >/dev/null; }
# hl-metrics' figure (hl-uplink's uplink.status, exported as hl_uplink_up)
uplink_up_is() { e2e_exec curl -fsS http://127.0.0.1:8081/metrics | grep -qx "hl_uplink_up{link=\"status\"} $1"; }
# evs TOPIC JQ: the array of the events of TOPIC the server stored passes
# the jq filter (which sees the whole state as $s)
evs() { rs ". as \$s | [.events[] | select(.topic == \"$1\")] | $2"; }

# --- the server, and hl-uplink pointed at it ---------------------------------
e2e_ok e2e_exec sh -c "umask 027; echo e2e-token-$RANDOM > $TOKEN; chgrp hl $TOKEN"
e2e_ok e2e_exec systemd-run --unit=e2e-refserver --quiet -p Type=simple \
  python3 /opt/hl-e2e/stage/e2e/refserver.py --token-file "$TOKEN" \
  --port "${API##*:}" --control-port "${CONTROL##*:}" --heartbeat-interval 1
e2e_ok wait_for 20 rs '.mode == "ok"'
e2e_exec tee "$DROPIN" >/dev/null <<YAML
hl-uplink:
  endpoint: http://$API
  token_file: $TOKEN
  identity_sources: [machine-id]
  heartbeat_interval: 1s
  backoff_base: 200ms
  backoff_cap: 1s
  batch_linger: 50ms
  status_interval: 1s
hl-failure:
  recovery: {backoff: 1s, verify_timeout: 30s, stable_period: 1h, flap_max: 0}
  services:
    hl-daemon: {}
    $SVC: {actions: [restart], max_attempts: 1}
YAML
e2e_ok e2e_exec systemctl restart hl-uplink.service
e2e_ok e2e_wait_unit_active hl-uplink.service 30

# --- 1. registration and heartbeats ------------------------------------------
MID=$(e2e_exec cat /etc/machine-id)
e2e_ok wait_for 30 rs "(.instances | length) == 1 and .instances[\"$MID\"] != null"
e2e_ok wait_for 30 rs ".instances[\"$MID\"].heartbeats >= 2"
e2e_ok wait_for 20 ul '.state == "online" and .registered == true and .identity_source == "machine-id"'
e2e_ok wait_for 20 uplink_up_is 1
# the token is never logged
e2e_ok test -z "$(e2e_journal hl-uplink.service -n 200 | grep -F "$(e2e_exec cat "$TOKEN")")"

# --- 2. an hour-long outage, compressed: the back-off capped at 1 s instead
# of the default 60 s, so 60 failed attempts at the cap stand for the hour.
# Events wait in the outbox on disk, through a kill -9 of hl-uplink, and
# arrive in order afterwards with nothing lost.
e2e_ok knob '{"mode":"refuse"}'
e2e_ok wait_for 20 ul '.state != "online"'
e2e_ok wait_for 20 uplink_up_is 0
outage_event() {
  e2e_hlctl pub alert.e2e-outage target=e2e-outage severity=warning reason=flapping \
    active=true "summary=o$1" >/dev/null
}
for i in $(seq 1 10); do outage_event "$i"; done
# (10 or more: hl-failure's network_failure report waits there too)
e2e_ok wait_for 20 ul '.outbox_depth >= 10'
# killed, as a crash would (the outbox is a file, not memory): systemd
# brings it back by itself
ul_pid=$(e2e_main_pid hl-uplink.service)
e2e_ok e2e_kill9 hl-uplink.service
e2e_ok test -n "$(e2e_wait_restarted hl-uplink.service "$ul_pid" 30)"
e2e_ok wait_for 20 ul '.outbox_depth >= 10'
for i in $(seq 11 20); do outage_event "$i"; done
e2e_ok wait_for 20 ul '.outbox_depth >= 20'
e2e_ok wait_for 120 ul '.failures >= 60 and .backoff_window_ms == 1000'
e2e_ok evs alert.e2e-outage 'length == 0'
e2e_ok knob '{"mode":"ok"}'
e2e_ok wait_for 30 evs alert.e2e-outage 'length == 20'
e2e_ok evs alert.e2e-outage 'map(.body.summary) == [range(1; 21) | "o\(.)"]'
e2e_ok rs '.out_of_order == 0'
e2e_ok wait_for 20 ul '.outbox_depth == 0 and .state == "online"'
e2e_ok wait_for 20 uplink_up_is 1

# --- 2b. kill -9 of hl-bus: hl-uplink is not restarted, resubscribes, and
# what is published afterwards still reaches the API (published until one
# arrives: a subscription renewed in the same moment may miss a message,
# which is the bus's at-most-once, not the uplink's)
ul_pid=$(e2e_main_pid hl-uplink.service)
bus_pid=$(e2e_main_pid hl-bus.service)
e2e_ok e2e_kill9 hl-bus.service
e2e_ok test -n "$(e2e_wait_restarted hl-bus.service "$bus_pid" 30)"
n_after_bus=0
after_bus_kill() {
  n_after_bus=$((n_after_bus + 1))
  e2e_hlctl pub alert.e2e-bus target=e2e-bus severity=warning reason=flapping active=true \
    "summary=b$n_after_bus" >/dev/null
  evs alert.e2e-bus 'length >= 1'
}
e2e_ok wait_for 30 after_bus_kill
e2e_ok test "$(e2e_main_pid hl-uplink.service)" = "$ul_pid"

# --- 3. a lost reply: the same ids again, stored once -------------------------
e2e_ok knob '{"mode":"drop-reply","fail_next":1,"fault_path":"/events"}'
e2e_hlctl pub alert.e2e-lost target=e2e-lost severity=warning reason=flapping active=true summary=once >/dev/null
e2e_ok wait_for 30 rs '.dropped_replies >= 1'
e2e_ok wait_for 30 evs alert.e2e-lost 'length == 1 and $s.duplicates[.[0].id] >= 1'
e2e_ok wait_for 20 ul '.outbox_depth == 0'

# --- 4. the alert chain: killed until hl-failure gives up ---------------------
e2e_ok e2e_hlctl call hl-failure reload
e2e_ok wait_for 60 e2e_hlctl health "$SVC"
e2e_hlctl failure rearm "$SVC" >/dev/null 2>&1 || true
pid=$(e2e_main_pid "$SVC.service")
e2e_ok e2e_kill9 "$SVC.service"          # attempt 1 of 1: systemd's restart, credited
e2e_ok wait_for 90 evs "recovery.$SVC" 'map(.body.step) | index("recovered") != null'
e2e_ok test -n "$(e2e_wait_restarted "$SVC.service" "$pid" 30)"
e2e_ok e2e_kill9 "$SVC.service"          # the budget is spent
e2e_ok wait_for 60 evs "alert.$SVC" 'map(select(.body.reason == "gave-up" and
  .body.severity == "critical" and .body.active == true and .source == "hl-failure")) | length == 1'
# every event hl-failure sent is stored, none taken for another one
e2e_ok rs '[.duplicates | keys[] | select(startswith("hl-failure:"))] | length == 0'
e2e_ok evs "recovery.$SVC" 'length >= 2'
e2e_ok rs '.out_of_order == 0'
e2e_ok wait_for 20 ul '.outbox_depth == 0'
