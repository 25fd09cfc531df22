#!/usr/bin/env bash
# hl-failure under a real systemd, with the real hl-orchestrator and
# hl-health and the stand-in services (spec 5.1, 5.2):
#   * nothing is recovered while the orchestrator starts up;
#   * a hang (unit active, health failing) is restarted by request;
#   * a service killed again and again is restarted (by systemd, credited),
#     then reset (its state directory emptied), then given up on with a
#     critical alert, and rearmed by `hlctl failure rearm`;
#   * exit 78 is reported, never restarted, and a restart loop into it is
#     stopped;
#   * a network failure runs the network command, not a service restart;
#   * a resource threshold sustained for its window restarts its target.
# Every wait is for an event on the bus or a unit state, with a deadline.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-failure.service hl-orchestrator.service hl-health.service fl-victim.service

DROPIN=$E2E_SYSCONFDIR/hl/hl.d/70-failure-e2e.yaml
EVENTS=$E2E_DIR/failure-events.jsonl
MARK=0
sub_pid=

cleanup() {
  local rc=$?
  [ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null
  e2e_exec rm -f "$DROPIN" /run/hl/hl-failure/fl-network-fixed
  e2e_hlctl pub uplink.status state=online >/dev/null 2>&1
  e2e_exec systemctl stop fl-victim.service fl-cfg.service fl-cfgloop.service >/dev/null 2>&1
  e2e_exec systemctl reset-failed fl-cfg.service fl-cfgloop.service >/dev/null 2>&1
  e2e_hlctl call hl-health reload >/dev/null 2>&1
  e2e_hlctl call hl-failure reload >/dev/null 2>&1
  (exit $rc)
  e2e__finish
}
trap cleanup EXIT

# --- event helpers: the bus, recorded on the host side ---------------------
mark() { MARK=$(wc -l <"$EVENTS"); }
# Whether an event after the mark has every NEEDLE (fixed strings) on one line.
has() {
  local lines
  lines=$(tail -n +"$((MARK + 1))" "$EVENTS") || return 1
  for n in "$@"; do lines=$(grep -F -- "$n" <<<"$lines") || return 1; done
}
wait_ev() { local t=$1; shift; wait_for "$t" has "$@" || { e2e_log "no event with: $*"; return 1; }; }
count() {
  local lines
  lines=$(tail -n +"$((MARK + 1))" "$EVENTS")
  for n in "$@"; do lines=$(grep -F -- "$n" <<<"$lines"); done
  [ -n "$lines" ] && wc -l <<<"$lines" || echo 0
}
fl_state() { e2e_hlctl --json failures "$1" | grep -o "\"target\":\"$1\",\"state\":\"[a-z-]*\"" | sed 's/.*"state":"//; s/"$//'; }
lifecycle_seen() { e2e_hlctl --json failures | grep -q "\"lifecycle\":\"$1\""; }

# --- configuration: the orchestrator's phases (one held by fl-gate), what
# it manages; a fast health check of the victim; hl-failure's policy with
# short back-offs, the victim's ladder restart → reset, the network command.
e2e_exec mkdir -p "$E2E_SYSCONFDIR/hl/hl.d"
e2e_exec tee "$DROPIN" >/dev/null <<'YAML'
hl-orchestrator:
  health: {gate: "off"}
  phases:
    - {name: infrastructure, timeout: 30s, units: [{unit: hl-health.service, optional: true}]}
    - {name: core, timeout: 30s, units: [hl-daemon.service]}
    - {name: application, timeout: 120s, units: [claude-code.service, fl-gate.service]}
    - {name: health, timeout: 30s}
  manage: [fl-victim.service, fl-cfg.service, fl-cfgloop.service]
hl-health:
  services:
    fl-victim:
      unit: fl-victim.service
      grace: 0s
      checks:
        - {name: fl-victim-http, type: http, url: "http://127.0.0.1:18081/health",
           interval: 500ms, timeout: 400ms, retries: 1, failures: 1, successes: 1, critical: true}
hl-failure:
  recovery: {backoff: 1s, verify_timeout: 15s, stable_period: 1h, flap_max: 0}
  services:
    hl-daemon: {}
    claude-code: {}
    fl-victim: {actions: [restart, reset], max_attempts: 2}
    fl-cfg: {}
    fl-cfgloop: {}
  patterns:
    - {name: bad-config-exit, on: exit-status, exit_status: [78]}
    - {name: bad-unit-file, on: unit-config}
    - {name: unit-crash, on: unit-failed}
    - {name: unhealthy, on: unhealthy}
    - {name: victim-memory, on: threshold, metrics: [fl-memory], sustain: 1s, target: fl-victim}
    - {name: uplink-down, on: uplink}
  network:
    # As hl-failure (no root): it may write only its own directories.
    command: [/bin/sh, -c, "echo network fixed; date +%s > /run/hl/hl-failure/fl-network-fixed"]
    recovery: {backoff: 1s, verify_timeout: 15s}
YAML
e2e_ok e2e_hlctl call hl-health reload
e2e_ok e2e_hlctl call hl-failure reload
e2e_ok e2e_exec systemctl start fl-victim.service

: >"$EVENTS"
nsenter -t "$E2E_PID1" -a -- env -i PATH=$E2E_PATH "$E2E_BINDIR/hlctl" sub \
  failure. recovery. alert. lifecycle.state test.fl-sync >"$EVENTS" 2>/dev/null &
sub_pid=$!
# subscribed once a marker published now comes back
synced() { e2e_hlctl pub test.fl-sync x=1 >/dev/null && grep -q '"topic":"test.fl-sync"' "$EVENTS"; }
e2e_ok wait_for 10 synced

# --- 1. no recovery while the orchestrator is starting up -----------------
# The orchestrator takes the new phases when it restarts: killed, as a crash
# would, and restarted by systemd (a `systemctl restart` would first run its
# graceful shutdown of every managed service).
if e2e_is_active hl-orchestrator.service; then
  e2e_ok e2e_kill9 hl-orchestrator.service
else
  e2e_exec systemctl reset-failed hl-orchestrator.service >/dev/null 2>&1
  e2e_ok e2e_exec systemctl start --no-block hl-orchestrator.service
fi
e2e_ok e2e_wait_prop fl-gate.service ActiveState activating 60
e2e_ok wait_for 10 e2e_exec test -p /run/fl-gate.fifo
e2e_ok wait_for 20 lifecycle_seen starting
mark
pid=$(e2e_main_pid fl-victim.service)
e2e_ok e2e_kill9 fl-victim.service
e2e_ok wait_ev 20 '"topic":"failure.service_crash"' '"target":"fl-victim"' 'none: the orchestrator is starting'
e2e_ok test -n "$(e2e_wait_restarted fl-victim.service "$pid")"
e2e_ok test "$(count '"topic":"recovery.fl-victim"' '"source":"hl-orchestrator"')" = 0
e2e_ok test "$(count '"topic":"recovery.fl-victim"' '"step":"started"')" = 0
# the gate opens: the orchestrator finishes its startup
e2e_ok e2e_exec sh -c 'echo go > /run/fl-gate.fifo'
e2e_ok wait_for 60 e2e_hlctl phases
e2e_ok wait_for 20 lifecycle_seen ready
# hl-health knows the unit's state once the orchestrator watches it
e2e_ok wait_for 30 e2e_hlctl health fl-victim

# --- 2. a hang: active, health failing; restarted by request --------------
mark
pid=$(e2e_main_pid fl-victim.service)
e2e_ok e2e_exec kill -USR2 "$pid" # the stand-in hangs: no answers, SIGTERM ignored
e2e_ok wait_ev 20 '"topic":"failure.service_crash"' '"target":"fl-victim"' '"signal":"unhealthy"' 'restart (attempt 1/2)'
e2e_ok wait_ev 30 '"topic":"recovery.fl-victim"' '"source":"hl-orchestrator"' '"type":"restart"' '"outcome":"ok"'
e2e_ok test -n "$(e2e_wait_restarted fl-victim.service "$pid")"
e2e_ok wait_ev 30 '"topic":"recovery.fl-victim"' '"step":"recovered"'
e2e_ok e2e_hlctl failure rearm fl-victim

# --- 3. killed again and again: restart, reset, give up, rearm ------------
mark
pid=$(e2e_main_pid fl-victim.service)
e2e_ok e2e_kill9 fl-victim.service
e2e_ok wait_ev 20 '"topic":"recovery.fl-victim"' '"step":"systemd-restart"'
e2e_ok wait_ev 30 '"topic":"recovery.fl-victim"' '"step":"recovered"'
e2e_ok test "$(count '"source":"hl-orchestrator"' '"topic":"recovery.fl-victim"')" = 0
# second kill: a reset through the orchestrator, which empties its state
e2e_exec sh -c 'echo stale > /var/lib/hl/fl-victim/db'
mark
e2e_ok e2e_kill9 fl-victim.service
e2e_ok wait_ev 20 '"topic":"recovery.fl-victim"' '"step":"scheduled"' '"action":"reset"'
e2e_ok wait_ev 30 '"topic":"recovery.fl-victim"' '"source":"hl-orchestrator"' '"type":"reset"' '"outcome":"ok"'
e2e_ok e2e_exec test ! -e /var/lib/hl/fl-victim/db
e2e_ok wait_ev 30 '"topic":"recovery.fl-victim"' '"step":"recovered"'
# third kill: the budget is spent
mark
e2e_ok e2e_kill9 fl-victim.service
e2e_ok wait_ev 20 '"topic":"alert.fl-victim"' '"severity":"critical"' '"reason":"gave-up"' '"active":true'
e2e_ok test "$(fl_state fl-victim)" = gave-up
e2e_hlctl failures fl-victim >"$E2E_DIR/failures.txt"; rc=$?
e2e_ok test "$rc" = 2
e2e_ok grep -q "GAVE UP after 2 attempts" "$E2E_DIR/failures.txt"
e2e_ok e2e_wait_journal hl-failure.service "Failed to recover fl-victim after 2 attempts" 10
# systemd still restarts it; hl-failure does nothing more
e2e_ok wait_for 30 e2e_hlctl health fl-victim
e2e_ok test "$(count '"source":"hl-orchestrator"' '"topic":"recovery.fl-victim"')" = 0
mark
e2e_ok e2e_hlctl failure rearm fl-victim
e2e_ok wait_ev 10 '"topic":"alert.fl-victim"' '"active":false'
e2e_ok test "$(fl_state fl-victim)" = idle
e2e_ok e2e_wait_journal hl-failure.service "Attempting to recover fl-victim \(attempt 2\)" 10
e2e_ok e2e_wait_journal hl-failure.service "Successfully recovered fl-victim" 10

# --- 4. exit 78: reported, not restarted; a restart loop of it stopped ----
mark
e2e_exec systemctl start fl-cfg.service >/dev/null 2>&1
e2e_ok wait_ev 20 '"topic":"failure.configuration_error"' '"target":"fl-cfg"' 'exited with status 78' 'not restarted'
e2e_ok wait_ev 10 '"topic":"alert.fl-cfg"' '"reason":"configuration-error"' '"active":true'
e2e_ok test "$(fl_state fl-cfg)" = config-error
mark
e2e_ok e2e_exec systemctl start --no-block fl-cfgloop.service
e2e_ok wait_ev 20 '"topic":"failure.configuration_error"' '"target":"fl-cfgloop"'
e2e_ok wait_ev 20 '"topic":"recovery.fl-cfgloop"' '"step":"loop-stopped"' 'unit stopped'
e2e_ok wait_for 10 bash -c "[ \"\$(nsenter -t $E2E_PID1 -a systemctl is-active fl-cfgloop.service)\" != activating ]"
loops=$(e2e_prop fl-cfgloop.service NRestarts)
e2e_ok test "$loops" -le 3
# neither was restarted by hl-failure, and fl-cfg not by systemd either
e2e_ok test "$(e2e_prop fl-cfg.service NRestarts)" = 0
e2e_ok test "$(count '"topic":"recovery.fl-cfg' '"step":"started"')" = 0

# --- 5. the network: the command runs, not a service restart -------------
mark
e2e_ok e2e_hlctl pub uplink.status state=offline "last_error=e2e: the API does not answer"
e2e_ok wait_ev 20 '"topic":"failure.network_failure"' '"target":"network"' 'command (attempt 1/3)'
e2e_ok wait_ev 20 '"topic":"recovery.network"' '"step":"succeeded"' 'network fixed'
e2e_ok e2e_exec test -s /run/hl/hl-failure/fl-network-fixed
e2e_ok test "$(count '"source":"hl-orchestrator"' '"topic":"recovery.')" = 0
e2e_ok e2e_hlctl pub uplink.status state=online
e2e_ok wait_ev 20 '"topic":"recovery.network"' '"step":"recovered"'

# --- 6. resource exhaustion: a threshold firing for its window ------------
mark
pid=$(e2e_main_pid fl-victim.service)
e2e_ok e2e_hlctl pub metrics.threshold.fl-memory name=fl-memory resource=memory state=FIRING value=97 limit=90 unit=percent
e2e_ok wait_ev 20 '"topic":"failure.resource_exhaustion"' '"target":"fl-victim"' 'firing for 1 s'
e2e_ok wait_ev 30 '"topic":"recovery.fl-victim"' '"source":"hl-orchestrator"' '"type":"restart"' '"outcome":"ok"'
e2e_ok test -n "$(e2e_wait_restarted fl-victim.service "$pid")"
e2e_ok e2e_hlctl pub metrics.threshold.fl-memory name=fl-memory state=CLEARED
e2e_ok wait_ev 30 '"topic":"recovery.fl-victim"' '"step":"recovered"'

# the incident list tells the stories
e2e_hlctl failures --limit 50 >"$E2E_DIR/failures.txt"
e2e_ok grep -q "GAVE UP after 2 attempts" "$E2E_DIR/failures.txt"
e2e_ok grep -q "CONFIGURATION ERROR" "$E2E_DIR/failures.txt"
e2e_ok grep -q "network - network_failure" "$E2E_DIR/failures.txt"
e2e_ok grep -q "resource_exhaustion" "$E2E_DIR/failures.txt"
