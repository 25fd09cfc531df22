#!/usr/bin/env bash
# hl-compliance vs Lynis on this machine, the same state for both: run time,
# and every Lynis warning or suggestion in the areas hl-compliance covers
# (SSH, sudo, firewall, auditing, certificates) checked against our report.
# sshd runs for the run's length on a loopback port (127.0.0.1:2222, our
# own process), because Lynis skips every SSH check when sshd is not running;
# hl-compliance reads `sshd -T` either way. Figures are printed, never asserted.
set -uo pipefail
C=${HL_BUILD_DIR:?}/daemons/hl-compliance/hl-compliance
PATH=$PATH:/usr/sbin
for t in lynis sshd; do command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }; done
[ "$(id -u)" = 0 ] || { echo "SKIP: Lynis and sshd -T need root"; exit 77; }
dir=$(mktemp -d)
sshd_pid=
cleanup() { [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
made_run_sshd=
[ -d /run/sshd ] || { mkdir -p /run/sshd; made_run_sshd=1; }
trap 'cleanup; [ -n "$made_run_sshd" ] && rmdir /run/sshd 2>/dev/null' EXIT
[ -e /etc/ssh/ssh_host_ed25519_key ] || { echo "SKIP: no sshd host keys (dpkg-reconfigure openssh-server)"; exit 77; }
/usr/sbin/sshd -D -o ListenAddress=127.0.0.1:2222 -o PidFile=none 2>"$dir/sshd.log" &
sshd_pid=$!

ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(ms)
lynis audit system --tests-from-group "ssh authentication firewalls accounting crypto" --quick \
    --no-colors --report-file "$dir/lynis.dat" --log-file "$dir/lynis.log" >"$dir/lynis.out" 2>&1
t1=$(ms)
"$C" --json --timeout 20000 >"$dir/ours.json" 2>"$dir/ours.err"
t2=$(ms)
printf '%-16s %10s\n' tool 'run time'
printf '%-16s %8d ms\n' lynis $((t1 - t0)) hl-compliance $((t2 - t1))

# Lynis's findings in our areas; for SSH-7408 the option it names.
covered='^(SSH|AUTH-925|FIRE|ACCT-9628|ACCT-9630|ACCT-9632|CRYP-7902)'
found=0 missed=0 total=0
while IFS='|' read -r kind_id text detail _; do
    id=${kind_id#*=}
    kind=${kind_id%%[*}
    [[ $id =~ $covered ]] || continue
    total=$((total + 1))
    opt=$(sed -n 's/^\([A-Za-z0-9]*\) (set .*/\1/p' <<<"$detail" | tr 'A-Z' 'a-z')
    if [ -n "$opt" ]; then
        ours=$(jq -r --arg n "ssh.$opt" '.compliance_checks[] | select(.name == $n) | .status' "$dir/ours.json")
    else
        ours=$(jq -r --arg i "$id" '[.compliance_checks[] | select(.id == $i and .status != "PASS") | .status] | unique | join(",")' "$dir/ours.json")
    fi
    if [ -n "$ours" ] && [ "$ours" != PASS ]; then found=$((found + 1)); mark=also; else missed=$((missed + 1)); mark=MISSED; fi
    printf '  %-10s %-9s %-60.60s ours: %s (%s)\n' "$kind" "$id" "${detail:-$text}" "${ours:-none}" "$mark"
done < <(grep -E '^(warning|suggestion)\[\]=' "$dir/lynis.dat")
echo "lynis findings in covered areas: $total; also found by hl-compliance: $found; missed: $missed"
ours_findings=$(jq '[.compliance_checks[] | select(.status == "FAIL" or .status == "WARN")] | length' "$dir/ours.json")
ours_ne=$(jq '[.compliance_checks[] | select(.status == "NOT_EVALUATED")] | length' "$dir/ours.json")
echo "hl-compliance: $(jq '.compliance_checks | length' "$dir/ours.json") checks, $ours_findings findings, $ours_ne not evaluated"
grep -q 'sshd' "$dir/lynis.log" && echo "lynis saw sshd: $(grep -c 'SSH-7408' "$dir/lynis.log") SSH-7408 log lines"
