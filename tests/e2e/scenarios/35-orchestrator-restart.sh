#!/usr/bin/env bash
# `systemctl restart hl-orchestrator` (and `stop` of it alone) leaves the
# managed services running: they outlive their supervisor, the new process
# picks them up as they are and is ready again at once. Only a shutdown of
# the whole system runs the graceful shutdown (tests/e2e/orchestrator/
# e2e_shutdown.sh powers a container off for that).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-orchestrator.service hl-daemon.service claude-code.service

managed=(hl-daemon.service claude-code.service)
declare -A pid_before
for u in "${managed[@]}"; do
  e2e_ok e2e_wait_unit_active "$u"
  pid_before[$u]=$(e2e_main_pid "$u")
done
e2e_ok e2e_wait_unit_active hl-orchestrator.service
orch_pid=$(e2e_main_pid hl-orchestrator.service)
cursor=$(e2e_journal_cursor)

# The restart: a deadline far below the old behaviour's 135 s (a stop
# timeout per phase), not a measurement.
t0=$(date +%s.%N)
e2e_ok timeout 60 nsenter -t "$E2E_PID1" -a systemctl restart hl-orchestrator.service
t1=$(date +%s.%N)
e2e_log "systemctl restart hl-orchestrator took $(echo "$t1 - $t0" | bc) s"
e2e_ok test "$(e2e_main_pid hl-orchestrator.service)" != "$orch_pid"
for u in "${managed[@]}"; do
  e2e_ok test "$(e2e_main_pid "$u")" = "${pid_before[$u]}"
  e2e_ok e2e_is_active "$u"
done
e2e_ok e2e_wait_journal hl-orchestrator.service "no graceful shutdown: the system is not shutting down" 10 "$cursor"
# nothing of ours was stopped or started again
e2e_ok bash -c "! nsenter -t $E2E_PID1 -a -- journalctl --no-pager -q --after-cursor='$cursor' |
  grep -E 'hl-daemon.service|claude-code.service' | grep -Eq 'Stopping|Stopped|Starting'"
e2e_ok e2e_hlctl phases
e2e_ok bash -c "nsenter -t $E2E_PID1 -a -- $E2E_BINDIR/hlctl phases | grep -q '^ready'"

# `systemctl stop` of the orchestrator alone: the same, then it comes back.
e2e_ok timeout 60 nsenter -t "$E2E_PID1" -a systemctl stop hl-orchestrator.service
e2e_ok test "$(e2e_exec systemctl is-active hl-orchestrator.service)" = inactive
for u in "${managed[@]}"; do
  e2e_ok test "$(e2e_main_pid "$u")" = "${pid_before[$u]}"
done
e2e_ok timeout 60 nsenter -t "$E2E_PID1" -a systemctl start hl-orchestrator.service
e2e_ok e2e_wait_unit_active hl-orchestrator.service
for u in "${managed[@]}"; do
  e2e_ok test "$(e2e_main_pid "$u")" = "${pid_before[$u]}"
done
