#!/usr/bin/env bash
# hl-failure's benchmark, under a real systemd in a container (the e2e
# tier's), with the real hl-orchestrator, hl-health and hl-failure and a
# stand-in service, beside Debian's Monit watching the same service with a
# 1 s cycle in the same run: kill -9 of the service N times (fl-bench), and
# from each kill the time to
#   * failure.service_crash on the bus (hl-failure's detection),
#   * health.<service> healthy again (hl-health, check every 1 s),
#   * recovery.<service> "recovered" (hl-failure's verdict),
#   * Monit's "does not exist" / "changed pid" (its detection) and its seeing
#     the process again.
# systemd restarts the service (Restart=on-failure, RestartSec=200ms) and
# hl-failure credits that as the restart; its policy here allows every kill
# (no budget, no flap guard), so that each one is measured the same way.
#   bench.sh FL_BENCH [KILLS]       (ctest -L bench -R bench_failure -V)
set -euo pipefail
FL_BENCH=$1
KILLS=${2:-${HL_BENCH_KILLS:-60}}
. "$HL_SOURCE_DIR/tests/e2e/lib.sh"
e2e_init
E2E_DIR=$HL_BUILD_DIR/tests/bench/failure/run # not the e2e tier's: it may run
E2E_STATE=$E2E_DIR/state
if ! why=$(e2e_can_run); then echo "skipped: $why"; exit 77; fi
command -v monit >/dev/null || { echo "monit is not installed (apt-get install monit)"; exit 1; }

e2e_stage
install -D -m 0755 "$FL_BENCH" "$E2E_DIR/stage$E2E_BINDIR/fl-bench"
e2e_boot 1800
trap 'e2e_stop' EXIT
e2e_install --with-test-units

e2e_exec mkdir -p "$E2E_SYSCONFDIR/hl/hl.d"
e2e_exec tee "$E2E_SYSCONFDIR/hl/hl.d/90-bench.yaml" >/dev/null <<'YAML'
hl-orchestrator:
  manage: [fl-victim.service]
hl-health:
  services:
    fl-victim:
      unit: fl-victim.service
      grace: 0s
      checks:
        - {name: fl-victim-http, type: http, url: "http://127.0.0.1:18081/health",
           interval: 1s, timeout: 500ms, retries: 1, failures: 1, successes: 1, critical: true}
hl-failure:
  services:
    fl-victim: {actions: [restart], max_attempts: 10, stable_period: 0s, flap_max: 0}
YAML
e2e_hlctl call hl-health reload >/dev/null
e2e_hlctl call hl-failure reload >/dev/null
# the orchestrator watches fl-victim from its next start: a kill, restarted by systemd
e2e_kill9 hl-orchestrator.service
e2e_wait_restarted hl-orchestrator.service 0 30 >/dev/null
wait_for 60 e2e_hlctl phases || e2e_die "the orchestrator did not get ready again"
e2e_exec systemctl start fl-victim.service
wait_for 30 e2e_hlctl health fl-victim || e2e_die "fl-victim is not healthy"

# Monit, 1 s cycle, on the same process; its hooks put the time they run on
# the bus, where fl-bench reads them beside hl-failure's events.
e2e_exec mkdir -p /run/fl-bench
e2e_exec tee /run/fl-bench/hook >/dev/null <<EOF
#!/bin/sh
at=\$(date +%s%6N)
exec $E2E_BINDIR/hlctl pub bench.monit "event=\$1" "at_us=\$at"
EOF
e2e_exec chmod 0755 /run/fl-bench/hook
e2e_exec tee /run/fl-bench/monitrc >/dev/null <<'EOF'
set daemon 1
set logfile /run/fl-bench/monit.log
set pidfile /run/fl-bench/monit.pid
set idfile /run/fl-bench/monit.id
set statefile /run/fl-bench/monit.state
check process fl-victim matching "hl-daemon --port 18081"
  if does not exist then exec "/run/fl-bench/hook down"
    else if succeeded then exec "/run/fl-bench/hook up"
  if changed pid then exec "/run/fl-bench/hook pid"
EOF
e2e_exec chmod 0600 /run/fl-bench/monitrc
e2e_exec monit -t -c /run/fl-bench/monitrc >/dev/null || e2e_die "monit rejected its control file"
e2e_exec systemd-run --quiet --unit=fl-monit /usr/bin/monit -I -c /run/fl-bench/monitrc
e2e_wait_unit_active fl-monit.service 10 || e2e_die "monit did not start"

load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "hl-failure vs $(monit -V | head -1 | sed 's/.*version /monit /'): $KILLS kills of fl-victim; load $load0, $(nproc) cores"
e2e_exec "$E2E_BINDIR/fl-bench" --kills "$KILLS" --service fl-victim | tee "$E2E_DIR/figures.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
e2e_exec systemctl stop fl-monit.service
grep -q '^hl-failure detect *n=' "$E2E_DIR/figures.txt"
