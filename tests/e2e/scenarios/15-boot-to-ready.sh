#!/usr/bin/env bash
# Boot to ready (#21 item 16): `hlctl phases` reports the time from systemd's
# userspace start to the orchestrator's last phase, and where it went (before
# the phases, then each phase); the same figures as hl-metrics series. Both
# agree with systemd's own record of the same moments: the manager's
# UserspaceTimestamp and the orchestrator's READY=1 (ActiveEnterTimestamp).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-orchestrator.service hl-metrics.service

e2e_ok e2e_wait_unit_active hl-orchestrator.service 60
out=$(e2e_hlctl phases); rc=$?
echo "$out" | sed 's/^/  /'
e2e_ok test $rc = 0
line=$(grep '^boot to ready ' <<<"$out")
e2e_ok test -n "$line"
e2e_ok grep -Eq '^ready: 4 phases in [0-9.]+ s, [0-9.]+ s after boot$' <<<"$out"
for p in infrastructure core application health; do
  e2e_ok grep -Eq ", $p [0-9]+\.[0-9]{2} s" <<<"$line"
done

# The figures, from the reply, against systemd's record (us; the orchestrator
# reads UserspaceTimestampMonotonic and sends READY=1 right after its last
# phase, so the two spans differ by the scheduling between them).
json=$(e2e_hlctl --json call hl-orchestrator phases)
num() { jq -r "$1 | tonumber" <<<"$json"; }
boot=$(num .lifecycle.boot_us) began=$(num .lifecycle.startup_began_us) ready=$(num .lifecycle.ready_us)
e2e_ok test "$boot" -gt 0
e2e_ok test "$began" -ge "$boot"
e2e_ok test "$ready" -ge "$began"
ours=$((ready - boot))
sd_userspace=$(e2e_exec systemctl show -P UserspaceTimestampMonotonic)
sd_ready=$(e2e_prop hl-orchestrator.service ActiveEnterTimestampMonotonic)
theirs=$((sd_ready - sd_userspace))
echo "  boot to ready: ${ours} us (orchestrator), ${theirs} us (systemd: userspace start to READY=1)"
# Where the time before the phases went, by systemd's clock (for the README):
# the container's boot, then the install (tests/e2e/container-install.sh),
# then our daemons' start, then the orchestrator's own.
sd_finish=$(e2e_exec systemctl show -P FinishTimestampMonotonic)
sd_orch=$(e2e_prop hl-orchestrator.service ExecMainStartTimestampMonotonic)
echo "  systemd: boot finished +$(( (sd_finish - sd_userspace) / 1000 )) ms, orchestrator started +$(( (sd_orch - sd_userspace) / 1000 )) ms, phases began +$(( (began - boot) / 1000 )) ms, ready +$(( ours / 1000 )) ms"
diff=$((ours > theirs ? ours - theirs : theirs - ours))
e2e_ok test "$diff" -lt 1000000
# The phases lie inside the startup, in order.
e2e_ok jq -e --argjson b "$began" --argjson r "$ready" '
  [.phases[] | {s: (.started_us | tonumber), f: (.finished_us | tonumber)}] as $p
  | ($p | length) == 4 and all($p[]; .s >= $b and .f <= $r and .f >= .s)
  and ([range(1; 4) | $p[.].s >= $p[. - 1].f] | all)' <<<"$json"

# hl-metrics exports the same.
scrape() { e2e_exec curl -fsS http://127.0.0.1:8081/metrics; }
has_series() { scrape >"$E2E_DIR/startup.scrape" && grep -q '^hl_startup_boot_to_ready_seconds ' "$E2E_DIR/startup.scrape"; }
e2e_ok wait_for 20 has_series
got=$(awk '$1 == "hl_startup_boot_to_ready_seconds" { print $2 }' "$E2E_DIR/startup.scrape")
want=$(awk -v us="$ours" 'BEGIN { printf "%.6f", us / 1e6 }')
e2e_ok awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }'
e2e_ok test "$(grep -c '^hl_startup_phase_duration_seconds{' "$E2E_DIR/startup.scrape")" = 4
grep '^hl_startup_' "$E2E_DIR/startup.scrape" | sed 's/^/  /'
