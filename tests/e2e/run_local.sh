#!/usr/bin/env bash
# scripts/run-local.sh as a user runs it: start, status, hlctl inside, stop;
# then nothing of it is left: no container process, no state, and the host's
# /run/systemd (and /run/hl*) exactly as before (e2e__run_snapshot, the same
# check as e2e_cleanup's; nspawn/ and systemd-units-load were seen left
# there). Its state goes to a directory of its own, so a user's run-local
# in the same build tree is not touched.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init
why=$(e2e_can_run) || skip "$why"
RL=$HL_SOURCE_DIR/scripts/run-local.sh
export HL_RUN_LOCAL_DIR
HL_RUN_LOCAL_DIR=$(mktemp -d "$HL_BUILD_DIR/tests/e2e/run-local.XXXXXX")
trap '"$RL" stop >/dev/null 2>&1; rm -rf "$HL_RUN_LOCAL_DIR"' EXIT
log=$HL_RUN_LOCAL_DIR.log

e2e__run_snapshot >"$HL_RUN_LOCAL_DIR.before"
ok bash -c "'$RL' start >'$log' 2>&1"
ok grep -q "hl-freestyle runs under systemd in container hl-local-" "$log"
. "$HL_RUN_LOCAL_DIR/state"
ok test "$(e2e__comm "$E2E_NSPAWN")" = systemd-nspawn
ok bash -c "'$RL' status >>'$log' 2>&1"
ok bash -c "'$RL' hlctl ping hl-bus >>'$log' 2>&1"
ok bash -c "'$RL' exec systemctl is-active hl.target >>'$log' 2>&1"
out=$("$RL" stop 2>&1); rc=$?
ok test $rc = 0
ok grep -q "stopped; the host's /run is as it was" <<<"$out"

# Nothing left: processes, state, stage, /run.
ok bash -c "! kill -0 $E2E_NSPAWN 2>/dev/null"
ok bash -c "! kill -0 $E2E_PID1 2>/dev/null"
ok test ! -e "$HL_RUN_LOCAL_DIR/state"
ok test ! -e "$HL_RUN_LOCAL_DIR/stage"
e2e__run_snapshot >"$HL_RUN_LOCAL_DIR.after"
ok diff "$HL_RUN_LOCAL_DIR.before" "$HL_RUN_LOCAL_DIR.after"
out=$("$RL" stop 2>&1)
ok grep -q "nothing is running" <<<"$out"
rm -f "$HL_RUN_LOCAL_DIR.before" "$HL_RUN_LOCAL_DIR.after"
[ "$fail" = 0 ] && rm -f "$log" || { echo "--- run-local's output:" >&2; cat "$log" >&2; }
checks_done run-local
