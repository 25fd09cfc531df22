#!/usr/bin/env bash
# Chaos: kill -9 of every daemon and managed service, at random, then the
# stack comes back by itself within 30 s of the last kill: every unit active,
# `hlctl health` exit 0, `hlctl phases` ready. No manual step.
#
# First, on purpose, the orchestrator killed until systemd gives up on it
# (its start limit): hl-revive@.timer must bring it back after its pause,
# and meanwhile hl-failure must not report a stale "ready" of a peer that is
# gone. Then HL_E2E_CHAOS_SECONDS (default 60) of random kills, one every
# HL_E2E_CHAOS_INTERVAL_MS (default 1500) give or take half.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-orchestrator.service hl-failure.service hl-health.service hl-bus.service \
  hl-daemon.service claude-code.service
chaos_s=${HL_E2E_CHAOS_SECONDS:-60}
interval_ms=${HL_E2E_CHAOS_INTERVAL_MS:-1500}
converge_s=30

# The victims: our daemons (every enabled service) and the managed services;
# not the tier's own stand-ins (e2e-gitd: nothing restarts a test's remote).
victims=()
for u in $(e2e_exec cat /run/e2e-enabled-units); do
  [[ $u == *.service && $u != e2e-* ]] && victims+=("$u")
done
victims+=(hl-daemon.service claude-code.service)
e2e_log "victims: ${victims[*]}"
must_be_active=("${victims[@]}" hl-bus-pub.socket hl-bus-sub.socket hl.target)

kill9() { # the unit's main process, if it has one now
  local pid
  pid=$(e2e_main_pid "$1")
  [ -n "$pid" ] && [ "$pid" -gt 1 ] && e2e_exec kill -9 "$pid" 2>/dev/null
}
all_active() {
  local u
  for u in "${must_be_active[@]}"; do e2e_is_active "$u" || return 1; done
}
converged() {
  all_active && e2e_hlctl health >/dev/null 2>&1 && e2e_hlctl phases >/dev/null 2>&1
}
# What is not there yet, when it does not converge.
report() {
  local u
  for u in "${must_be_active[@]}"; do
    e2e_is_active "$u" || e2e_log "$u: $(e2e_exec systemctl is-active "$u") ($(e2e_prop "$u" Result))"
  done
  e2e_hlctl health || true
  e2e_hlctl phases || true
  e2e_hlctl failures || true
  e2e_hlctl --json sub --count 1 --wait 2000 service.docker || true
  e2e_exec systemctl show -p LoadState,ActiveState docker.service || true
}

# (Scenarios before this one may leave the stack recovering: wait for it.)
e2e__poll 60 converged || { e2e_log "not converged before the chaos:"; report; }
# --- the supervisor killed until systemd gives up on it
cursor=$(e2e_journal_cursor)
burst=$(e2e_prop hl-orchestrator.service StartLimitBurst)
for _ in $(seq $((burst + 1))); do
  pid=$(e2e_main_pid hl-orchestrator.service)
  kill9 hl-orchestrator.service
  # until a new process runs (MainPID is 0 between the two), or systemd gave up
  e2e__poll 15 bash -c 'p=$(nsenter -t '"$E2E_PID1"' -a systemctl show -P MainPID hl-orchestrator.service)
    [ "$p" -gt 0 ] && [ "$p" != '"$pid"' ] ||
    [ "$(nsenter -t '"$E2E_PID1"' -a systemctl is-failed hl-orchestrator.service)" = failed ]'
done
e2e_ok e2e_wait_journal hl-orchestrator.service "Start request repeated too quickly|start-limit-hit" 30 "$cursor"
e2e_ok e2e_wait_prop hl-orchestrator.service ActiveState failed 30
# hl-failure sees the orchestrator gone, not a cached "ready".
e2e_ok e2e__poll 20 bash -c "! nsenter -t $E2E_PID1 -a -- $E2E_BINDIR/hlctl failures | grep -q 'orchestrator: ready'"
e2e_hlctl failures | head -3
# ...and systemd's give-up is not for good.
e2e_ok e2e_wait_prop hl-orchestrator.service ActiveState active 40
e2e_ok e2e_wait_journal hl-revive@hl-orchestrator.service.service "Finished|Deactivated successfully" 40 "$cursor"
e2e_ok e2e__poll 60 converged

# --- random kills
e2e_log "chaos: ${chaos_s} s of kill -9, one every ~${interval_ms} ms"
end=$((SECONDS + chaos_s))
kills=0
while [ $SECONDS -lt $end ]; do
  v=${victims[RANDOM % ${#victims[@]}]}
  kill9 "$v" && kills=$((kills + 1))
  ms=$((interval_ms / 2 + RANDOM % interval_ms))
  sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
done
last_kill=$SECONDS
e2e_log "chaos: $kills kills; waiting for the stack to converge"
if e2e__poll "$converge_s" converged; then
  e2e_log "converged $((SECONDS - last_kill)) s after the last kill"
  E2E_PASS=$((E2E_PASS + 1))
else
  report
  e2e_ok false "the stack did not converge within ${converge_s} s of the last kill"
fi
