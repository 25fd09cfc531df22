#!/usr/bin/env bash
# The shipped default recovery ladder, for real (#21 item 1): with nothing
# but the shipped configuration, a managed service killed again and again
# (claude-code, as a user saw it) walks every default rung of hl-failure
# (deploy/config/hl-failure.yaml.example: restart -> reset -> rebuild, the
# restart being systemd's own, credited) and each rung works: the reset and
# the rebuild go through the orchestrator and come back "ok", the rebuild
# being the built-in one (no recovery.rebuild_command by default). Nothing
# gives up. Every wait is for an event on the bus, with a deadline.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-failure.service hl-orchestrator.service claude-code.service

SVC=claude-code
EVENTS=$E2E_DIR/ladder-events.jsonl
MARK=0
sub_pid=

cleanup() {
  local rc=$?
  [ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null
  # the next scenarios find a whole budget
  e2e_hlctl failure rearm "$SVC" >/dev/null 2>&1
  (exit $rc)
  e2e__finish
}
trap cleanup EXIT

mark() { MARK=$(wc -l <"$EVENTS"); }
has() {
  local lines
  lines=$(tail -n +"$((MARK + 1))" "$EVENTS") || return 1
  for n in "$@"; do lines=$(grep -F -- "$n" <<<"$lines") || return 1; done
}
wait_ev() { local t=$1; shift; wait_for "$t" has "$@" || { e2e_log "no event with: $*"; return 1; }; }
count_all() {
  local lines
  lines=$(cat "$EVENTS")
  for n in "$@"; do lines=$(grep -F -- "$n" <<<"$lines"); done
  [ -n "$lines" ] && wc -l <<<"$lines" || echo 0
}

# --- the shipped defaults: no drop-in of ours configures recovery ---------
dropins=$(e2e_exec sh -c "grep -l -E 'hl-failure|recovery' $E2E_SYSCONFDIR/hl/hl.d/*.yaml 2>/dev/null")
e2e_ok test -z "$dropins"
e2e_ok wait_for 60 e2e_hlctl phases
e2e_ok wait_for 60 e2e_hlctl health "$SVC"
# a whole budget, whatever ran before (refused when nothing has failed yet)
e2e_hlctl failure rearm "$SVC" >/dev/null 2>&1 || true

: >"$EVENTS"
nsenter -t "$E2E_PID1" -a -- env -i PATH=$E2E_PATH "$E2E_BINDIR/hlctl" sub \
  failure. recovery. alert. test.ladder-sync >"$EVENTS" 2>/dev/null &
sub_pid=$!
synced() { e2e_hlctl pub test.ladder-sync x=1 >/dev/null && grep -q '"topic":"test.ladder-sync"' "$EVENTS"; }
e2e_ok wait_for 10 synced

# --- rung 1: restart (systemd's own Restart=, credited) -------------------
mark
pid=$(e2e_main_pid "$SVC.service")
e2e_ok e2e_kill9 "$SVC.service"
e2e_ok wait_ev 20 "\"topic\":\"recovery.$SVC\"" '"step":"systemd-restart"'
e2e_ok test -n "$(e2e_wait_restarted "$SVC.service" "$pid" 30)"
e2e_ok wait_ev 90 "\"topic\":\"recovery.$SVC\"" '"step":"recovered"'

# --- rung 2: reset, through the orchestrator (after the default back-off) -
e2e_exec sh -c "mkdir -p /var/lib/hl/$SVC && echo stale > /var/lib/hl/$SVC/ladder-stale"
mark
e2e_ok e2e_kill9 "$SVC.service"
e2e_ok wait_ev 20 "\"topic\":\"recovery.$SVC\"" '"step":"scheduled"' '"action":"reset"'
e2e_ok wait_ev 60 "\"topic\":\"recovery.$SVC\"" '"source":"hl-orchestrator"' '"type":"reset"' '"outcome":"ok"'
e2e_ok e2e_exec test ! -e "/var/lib/hl/$SVC/ladder-stale"
e2e_ok wait_ev 90 "\"topic\":\"recovery.$SVC\"" '"step":"recovered"'

# --- rung 3: rebuild, the built-in one -----------------------------------
e2e_exec sh -c "echo stale > /var/lib/hl/$SVC/ladder-stale"
mark
e2e_ok e2e_kill9 "$SVC.service"
e2e_ok wait_ev 20 "\"topic\":\"recovery.$SVC\"" '"step":"scheduled"' '"action":"rebuild"'
e2e_ok wait_ev 60 "\"topic\":\"recovery.$SVC\"" '"source":"hl-orchestrator"' '"type":"rebuild"' \
  '"outcome":"ok"' 'rebuild: built in' 'reset-failed claude-code.service: done' 'daemon-reload: done'
e2e_ok e2e_exec test ! -e "/var/lib/hl/$SVC/ladder-stale"
e2e_ok wait_ev 90 "\"topic\":\"recovery.$SVC\"" '"step":"recovered"'
e2e_ok e2e_is_active "$SVC.service"
e2e_ok wait_for 30 e2e_hlctl health "$SVC"

# --- and nothing failed or gave up on the way -----------------------------
e2e_ok test "$(count_all "\"topic\":\"recovery.$SVC\"" '"outcome":"failed"')" = 0
e2e_ok test "$(count_all "\"topic\":\"alert.$SVC\"" '"reason":"gave-up"')" = 0
e2e_ok test "$(count_all 'no rebuild command')" = 0
e2e_ok test "$(e2e_hlctl --json failures "$SVC" | grep -c '"state":"gave-up"')" = 0
