#!/usr/bin/env bash
# `hlctl status` inside the container shows the running daemons, with the
# PIDs systemd supervises; the bus is reachable; and the socket modes and the
# admin group decide who may do what, checked as real users.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-bus.service hl-testd.service

out=$(e2e_hlctl status); rc=$?
echo "$out" | sed 's/^/  /'
e2e_ok test $rc = 0
for u in hl-bus hl-testd; do
  pid=$(e2e_main_pid "$u.service")
  e2e_ok grep -Eq "^$u +running +[^ ]+ +$pid " <<<"$out"
done
json=$(e2e_hlctl --json status)
e2e_ok test "$(grep -c '"state":"running"' <<<"$json")" -ge 2
e2e_ok e2e_hlctl ping hl-bus
e2e_ok e2e_hlctl ping hl-testd
e2e_hlctl --retries 0 ping hl-nosuch >/dev/null 2>&1; e2e_ok test $? = 2
stats_lists_testd() { e2e_hlctl bus stats | grep -Eq '^hl-testd +[0-9]+'; }
e2e_ok stats_lists_testd
three_ticks() { [ "$(e2e_hlctl sub --count 3 --wait 5000 test.tick | grep -c '"source":"hl-testd"')" = 3 ]; }
e2e_ok three_ticks

# Who may do what, as real users of the container (setpriv: no PAM inside).
e2e_exec sh -c 'userdel e2e-member 2>/dev/null; groupdel e2e-member 2>/dev/null; useradd --no-create-home --user-group --groups hl e2e-member'
as() { # as USER CMD...: with the user's own groups
  local user=$1; shift
  e2e_exec setpriv --reuid="$user" --regid="$(e2e_exec id -g "$user")" --init-groups -- "$@"
}
hlctl=$E2E_BINDIR/hlctl
# Only group hl-watch may watch the bus (bus/sub 0660) and only group hl may
# publish (bus/pub 0660). A watcher records test.e2e.* while nobody and a
# member of hl publish.
tap=$(mktemp)
e2e_hlctl sub --wait 10000 test.e2e. >"$tap" 2>&1 &
tap_pid=$!
tap_ready() { e2e_hlctl pub test.e2e.ready x >/dev/null; grep -q test.e2e.ready "$tap"; }
e2e_ok wait_for 10 tap_ready
as nobody "$hlctl" --retries 0 sub --count 1 --wait 3000 test.tick >/dev/null 2>&1; e2e_ok test $? != 0
e2e_exec usermod -a -G hl-watch e2e-member
e2e_ok as e2e-member "$hlctl" sub --count 1 --wait 5000 test.tick
as nobody "$hlctl" pub test.e2e.nobody from-nobody >/dev/null 2>&1
e2e_ok as e2e-member "$hlctl" pub test.e2e.member from-member
e2e_ok wait_for 10 grep -q from-member "$tap"
e2e_ok bash -c "! grep -q from-nobody '$tap'"
kill "$tap_pid" 2>/dev/null; wait "$tap_pid" 2>/dev/null; rm -f "$tap"
# Calling a daemon needs group hl (ctl sockets 0660) ...
as nobody "$hlctl" --retries 0 ping hl-bus >/dev/null 2>&1; e2e_ok test $? = 2
e2e_ok as e2e-member "$hlctl" ping hl-bus
# ... and changing state needs root or admin_group (hl-admin), decided from
# the caller's credentials (SO_PEERCRED).
out=$(as e2e-member "$hlctl" call hl-bus reload 2>&1); rc=$?
e2e_ok test $rc != 0
e2e_ok grep -q "permission denied" <<<"$out"
e2e_exec usermod -a -G hl-admin e2e-member
e2e_ok as e2e-member "$hlctl" call hl-bus reload
cursor=$(e2e_journal_cursor)
e2e_ok e2e_hlctl call hl-bus reload
e2e_ok e2e_wait_journal hl-bus.service "configuration reloaded" 30 "$cursor"
e2e_exec sh -c 'userdel e2e-member; groupdel e2e-member'
