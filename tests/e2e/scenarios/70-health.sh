#!/usr/bin/env bash
# hl-health under a real systemd, with hl-orchestrator publishing unit state:
# the stand-ins' failing health, hang and crash each give the right state
# within one interval plus the timeout (plus the loop's 100 ms slack and the
# bus), and recovery brings them back to healthy. hlctl health exits 0/1/2.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-health.service hl-orchestrator.service hl-daemon.service claude-code.service
control() { e2e_exec curl -sf -o /dev/null -X POST "http://127.0.0.1:$1/control/$2"; }
health_rc() { rc_is "$2" e2e_hlctl health "$1"; }

# Unit state comes only from hl-orchestrator's service.* events: without it
# every service stays unknown, which this scenario cannot test.
if ! e2e_exec systemctl cat hl-orchestrator.service >/dev/null 2>&1; then
  echo "!!! SKIPPED: hl-orchestrator is not installed (hl-health's unit state comes from it)"
  trap - EXIT
  exit 77
fi
e2e_ok e2e_wait_unit_active hl-health.service
pid=$(e2e_main_pid hl-health.service)
e2e_ok test "$(e2e_exec ps -o user= -p "$pid")" = hl-health
# CAP_SETGID and CAP_SETUID only (0xc0): to start exec checks as hl-check.
e2e_ok test "$(e2e_proc_status "$pid" CapEff)" = 00000000000000c0
e2e_ok test "$(e2e_proc_status "$pid" Seccomp)" = 2

# Short timings for the test, by a drop-in and a reload: one attempt a run,
# every second, 500 ms timeout, no debounce, no start period.
confdir=$(dirname "$E2E_CONFIG_FILE")
e2e_exec install -d "$confdir/hl.d"
e2e_sh "cat > $confdir/hl.d/70-health-e2e.yaml" <<'Y'
hl-health:
  defaults: {interval: 1s, timeout: 500ms, retries: 1, failures: 1, successes: 1, grace: 0s}
Y
e2e_ok e2e_exec systemctl reload hl-health.service
bound=3 # seconds: interval 1 s + timeout 0.5 s + slack, bus and hlctl, rounded up

# The spec's services come up healthy (the orchestrator's phases wait for it).
e2e_ok wait_for 60 health_rc hl-daemon 0
e2e_ok wait_for 60 health_rc claude-code 0
out=$(e2e_hlctl health hl-daemon)
e2e_ok grep -q "^OK  *hl-daemon  *healthy .*unit hl-daemon.service is active (running), 1 check(s) passing" <<<"$out"
e2e_ok grep -q "hl-daemon-http  *http  *healthy  *HTTP 200" <<<"$out"

# Failing health: the unit stays active, the check fails → degraded (1).
e2e_ok control 8080 fail-health
e2e_ok wait_for $bound health_rc hl-daemon 1
out=$(e2e_hlctl health --why hl-daemon-http)
e2e_ok grep -q "HTTP 503, expected 200-399" <<<"$out"
e2e_ok grep -q "service    degraded: check hl-daemon-http failing" <<<"$out"
e2e_ok control 8080 heal
e2e_ok wait_for $bound health_rc hl-daemon 0

# A crash (SIGABRT): the unit leaves "active" → unhealthy (2) at once, then
# systemd restarts it (RestartSec=5) and it is healthy again.
cpid=$(e2e_main_pid claude-code.service)
e2e_ok control 3000 crash
e2e_ok wait_for $bound health_rc claude-code 2
out=$(e2e_hlctl sub --count 1 --wait 3000 health.claude-code)
e2e_ok grep -q '"state":"unhealthy"' <<<"$out"
e2e_ok test -n "$(e2e_wait_restarted claude-code.service "$cpid" 30)"
e2e_ok wait_for 30 health_rc claude-code 0

# A hang: the process stops answering; the check times out → degraded
# within the bound, and nothing else is delayed: hl-daemon stays healthy.
e2e_ok control 3000 hang
e2e_ok wait_for $bound health_rc claude-code 1
e2e_ok health_rc hl-daemon 0
out=$(e2e_hlctl health --why claude-code-http)
e2e_ok grep -q "timed out after 500 ms" <<<"$out"
# Whatever systemd does about the hung process (its watchdog), a restart
# brings it back.
e2e_exec systemctl restart claude-code.service
e2e_ok wait_for 30 health_rc claude-code 0

e2e_exec rm -f "$confdir/hl.d/70-health-e2e.yaml"
e2e_exec systemctl reload hl-health.service
