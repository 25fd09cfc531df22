#!/usr/bin/env bash
# hl-stdio under a real systemd: the relay runs as hl in its sandbox, its
# sockets are 0660 hl:hluser, Claude Code (the stand-in, as hluser) is
# attached and its credentials logged, a viewer's line reaches Claude Code
# and its answer comes back, someone outside the group cannot connect, the
# bus carries stdio.main, and after kill -9 systemd restarts the relay and
# Claude Code reconnects by itself.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-stdio.service claude-code.service

if ! e2e_exec systemctl cat hl-stdio.service >/dev/null 2>&1; then
  echo "!!! SKIPPED: hl-stdio is not installed"
  trap - EXIT
  exit 77
fi
HLCTL=$E2E_BINDIR/hlctl
hluid=$(e2e_exec id -u hluser)
stats() { e2e_hlctl --json call hl-stdio stats; }
claude_attached() { stats | grep -q "\"uid\":$hluid"; }
# A viewer, as hluser: types LINE and expects Claude Code's echo of it
# (hlctl attach leaves when grep, its reader, is done).
# (setpriv, not runuser: no PAM session inside nsenter)
viewer_sees_echo() {
  e2e_exec timeout 10 setpriv --reuid=hluser --regid=hluser --init-groups -- bash -c \
    "printf '%s\n' '$1' | '$HLCTL' attach --quiet --from now main | grep -m1 -q 'echo $1'"
}

e2e_ok e2e_wait_unit_active hl-stdio.service
pid=$(e2e_main_pid hl-stdio.service)
e2e_ok test "$(e2e_exec ps -o user= -p "$pid")" = hl-stdio
e2e_ok test "$(e2e_proc_status "$pid" NoNewPrivs)" = 1
e2e_ok test "$(e2e_proc_status "$pid" CapEff)" = 0000000000000000
e2e_ok test "$(e2e_proc_status "$pid" Seccomp)" = 2
# The names are root's links into the relay's own directory (nobody else can
# take them), the sockets the relay's, group hluser.
e2e_ok test "$(e2e_exec stat -c '%U %F' /run/hl/stdio.sock)" = "root symbolic link"
e2e_ok test "$(e2e_exec stat -L -c '%a %U:%G %F' /run/hl/stdio.sock)" = "660 hl-stdio:hluser socket"
e2e_ok test "$(e2e_exec stat -L -c '%a %U:%G %F' /run/hl/stdio-attach.sock)" = "660 hl-stdio:hluser socket"

# Claude Code is attached, and the relay logged who it is (SO_PEERCRED).
e2e_ok wait_for 30 claude_attached
e2e_ok e2e_wait_journal hl-stdio.service "\(uid $hluid gid [0-9]+ pid [0-9]+ [^)]*\) attached read-write" 10

# A viewer types, Claude Code answers, the viewer sees the answer.
e2e_ok viewer_sees_echo "hello-relay"
# Only the group may connect: a user outside it is refused by the kernel.
out=$(e2e_exec setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
  socat -u - UNIX-CONNECT:/run/hl/stdio.sock </dev/null 2>&1)
e2e_ok grep -q "Permission denied" <<<"$out"

# The bus: a subscriber, live before anything happens (checked with a
# marker), sees the viewer attach and detach and the stream go by.
e2e_exec bash -c "'$HLCTL' sub stdio. > /tmp/stdio-events.json 2>/dev/null & echo \$! > /tmp/stdio-sub.pid"
synced() { e2e_exec bash -c "'$HLCTL' pub stdio.sync channel=sync >/dev/null; grep -q stdio.sync /tmp/stdio-events.json"; }
bus_has() { e2e_exec grep -q -- "$1" /tmp/stdio-events.json; }
e2e_ok wait_for 10 synced
e2e_ok viewer_sees_echo "on-the-bus"
e2e_ok wait_for 10 bus_has '"topic":"stdio.main.detach"'
e2e_ok bus_has '"topic":"stdio.main.attach"'
e2e_ok bus_has '"reason":"closed"'
# The terminal's bytes stay off the world-readable bus by default
# (publish: false); attach and detach above are published. The detach event
# came after the bytes went by, so their event would be there by now.
bus_lacks() { ! bus_has "$1"; }
e2e_ok bus_lacks '"topic":"stdio.main",'
e2e_exec bash -c 'kill $(cat /tmp/stdio-sub.pid); rm -f /tmp/stdio-sub.pid /tmp/stdio-events.json'

# kill -9: systemd restarts the relay (a new stream), Claude Code comes back.
e2e_ok e2e_kill9 hl-stdio.service
e2e_ok test -n "$(e2e_wait_restarted hl-stdio.service "$pid" 30)"
e2e_ok wait_for 30 claude_attached
e2e_ok viewer_sees_echo "after-restart"
e2e_ok test "$(e2e_exec stat -L -c '%a %U:%G' /run/hl/stdio.sock)" = "660 hl-stdio:hluser"
