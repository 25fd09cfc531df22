#!/usr/bin/env bash
# hl-logs under a real systemd and journald: the orchestrator's phase 1
# starts it (not "not-found"), it runs as its own user, and /var/log/hl holds
# the spec's JSON lines for our daemons (asctime, name, levelname, message,
# unit, pid, boot_id, seq, id). A unit that logs invalid UTF-8 and control
# characters, and a line far over the record limit, give valid JSON with the
# bytes escaped and a truncation marker. A config error is file:line, exit 78.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-logs.service

e2e_ok e2e_wait_unit_active hl-logs.service 30
pid=$(e2e_main_pid hl-logs.service)
e2e_ok test "$(e2e_proc_status "$pid" Uid | awk '{print $1}')" = "$(e2e_exec id -u hl-logs)"
phases=$(e2e_hlctl phases)
e2e_ok grep -Eq '^ +hl-logs.service +[a-z]' <<<"$phases"
e2e_ok bash -c "! grep -E 'hl-logs.service.*not-found' <<<'$phases'"

# Our daemons' lines, in the spec's fields.
for d in hl-bus hl-logs; do
  has_log() { e2e_exec test -s "/var/log/hl/$d.log"; }
  e2e_ok wait_for 20 has_log
  line=$(e2e_exec head -n 1 "/var/log/hl/$d.log")
  echo "  $line"
  e2e_ok jq -e --arg u "$d.service" 'has("asctime") and has("name") and has("levelname") and
    has("message") and .unit == $u and (.pid > 0) and (.boot_id | length == 32) and .seq == 1 and
    (.id | length == 32)' <<<"$line"
done

# A unit of ours writing invalid UTF-8, controls and a 10 KB line, over a
# record limit of 4 KiB set by a reload (journald itself cuts lines at 48 KiB,
# below the default limit).
dropin=$E2E_SYSCONFDIR/hl/hl.d/72-e2e-logs.yaml
e2e_exec sh -c "printf 'hl-logs:\n  record_max: 4KiB\n' >'$dropin'"
cursor=$(e2e_journal_cursor)
e2e_ok e2e_exec systemctl reload hl-logs.service
e2e_ok e2e_wait_journal hl-logs.service "configuration reloaded" 20 "$cursor"
e2e_exec systemd-run --quiet --unit=hl-e2e-logbad.service --wait -p StandardOutput=journal \
  python3 -c 'import sys,time; sys.stdout.buffer.write(b"bad \xff\xfe ctl \x1b[31m tab\tend\n" + b"long " + b"x" * 10000 + b"\n"); sys.stdout.flush(); time.sleep(0.5)' >/dev/null 2>&1
has_bad() { e2e_exec test "$(e2e_exec grep -c . /var/log/hl/hl-e2e-logbad.log 2>/dev/null)" -ge 2; }
e2e_ok wait_for 20 has_bad
bad=$(e2e_exec cat /var/log/hl/hl-e2e-logbad.log)
e2e_ok test "$(jq -s length <<<"$bad")" -ge 2
e2e_ok grep -q 'bad \\u00ff\\u00fe ctl \\u001b\[31m tab\\tend' <<<"$bad"
e2e_ok jq -se 'map(select(.truncated == true and (.message | test("\\.\\.\\.\\[truncated [0-9]+ bytes\\]$")))) | length == 1' <<<"$bad"
e2e_ok jq -se 'map(select(.truncated)) | .[0] | tostring | length <= 4096' <<<"$bad"

# Reading them back through hl-logs' ctl methods: hlctl logs and analyze.
out=$(e2e_hlctl logs --service hl-e2e-logbad --lines 10)
echo "$out" | cut -c1-100 | sed 's/^/  /'
e2e_ok grep -qF 'python3 INFO     bad \\u00ff' <<<"$out" # hlctl escapes the JSON escape's backslash once more
e2e_ok test "$(e2e_hlctl --json logs --service hl-e2e-logbad --lines 1 | jq -r .unit)" = hl-e2e-logbad.service
e2e_ok test "$(e2e_hlctl logs --service hl-e2e-logbad --level error | wc -l)" = 0
e2e_exec systemd-run --quiet --unit=hl-e2e-logerr.service --wait -p StandardOutput=journal \
  sh -c 'for i in 41 42 43; do echo "<3>connection to db id=$i failed"; done; echo "<6>GET / request_duration=0.25"' >/dev/null 2>&1
has_err() { e2e_exec test "$(e2e_exec grep -c . /var/log/hl/hl-e2e-logerr.log 2>/dev/null)" -ge 4; }
e2e_ok wait_for 20 has_err
an=$(e2e_hlctl --json logs analyze --service hl-e2e-logerr --since 1h)
echo "  $an"
e2e_ok jq -e '.errors == 3 and .top_errors[0].count == 3 and .top_errors[0].pattern == "connection to db id=N failed" and
  .durations[0].field == "request_duration" and .durations[0].p50 == 0.25' <<<"$an"
e2e_ok grep -q '=== ERROR ANALYSIS ===' <<<"$(e2e_hlctl logs analyze)"
e2e_ok grep -Eq '^hl-logs +running .*records; files ok; forward off' <<<"$(e2e_hlctl status hl-logs)"

# A config error: file:line and exit 78.
e2e_exec sh -c "printf 'hl-logs:\n  max_bytes: 10MiB\n  backup_cuont: 3\n' >'$dropin'"
out=$(e2e_exec "$E2E_BINDIR/hl-logs" --config "$E2E_CONFIG_FILE" --check-config 2>&1); rc=$?
echo "  $out"
e2e_ok test "$rc" != 0
e2e_ok grep -q "72-e2e-logs.yaml:3: unknown key 'backup_cuont'" <<<"$out"
# started with it (as systemd would): exit 78, which the unit does not retry
e2e_exec setpriv --reuid=hl-logs --regid=hl --init-groups -- "$E2E_BINDIR/hl-logs" \
  --config "$E2E_CONFIG_FILE" --runtime-dir /tmp/e2e-logs-rt >/dev/null 2>&1; rc=$?
e2e_ok test "$rc" = 78
e2e_exec rm -f "$dropin"
e2e_ok e2e_exec systemctl reload hl-logs.service
e2e_ok test "$(e2e_main_pid hl-logs.service)" = "$pid"
