#!/usr/bin/env bash
# Issue #12 items 2-4, host side, in the e2e container (real systemd, real
# users, the installed units): each daemon runs as its own user and only
# the orchestrator as root; nothing under /run/hl is open to every user; no
# daemon's user can squat or replace another's socket name; the agent's
# terminal is reachable by its owner's group and root only; exec health
# checks run as hl-check; memory limits replace the negative OOM scores;
# /var/log/hl keeps its owner; journal excerpts are an admin method and
# never on the bus.
set -uo pipefail
. "$HL_SOURCE_DIR/tests/e2e/lib.sh"
e2e_scenario hl-bus.service hl-orchestrator.service hl-failure.service hl-health.service \
  hl-metrics.service hl-stdio.service hl-daemon.service
HLCTL=$E2E_BINDIR/hlctl
as() { # as USER CMD...: with the user's own groups (setpriv: no PAM inside)
  local user=$1; shift
  e2e_exec setpriv --reuid="$user" --regid="$(e2e_exec id -g "$user")" --init-groups -- "$@"
}
fails() { ! "$@" >/dev/null 2>&1; }

# --- one user per daemon; root only where it must be -----------------------
for u in hl-bus hl-health hl-metrics hl-stdio hl-failure; do
  e2e_ok e2e_wait_unit_active "$u.service"
  pid=$(e2e_main_pid "$u.service")
  e2e_ok test "$(e2e_exec ps -o user= -p "$pid")" = "$u"
  e2e_ok test "$(e2e_exec ps -o group= -p "$pid")" = hl
done
# hl-failure: no root, no capability (it acts through the orchestrator's
# admin methods, as a member of hl-admin).
pid=$(e2e_main_pid hl-failure.service)
e2e_ok test "$(e2e_proc_status "$pid" CapEff)" = 0000000000000000
e2e_ok test "$(e2e_proc_status "$pid" CapBnd)" = 0000000000000000
e2e_ok test "$(e2e_exec ps -o user= -p "$(e2e_main_pid hl-orchestrator.service)")" = root
# Distinct uids: nobody publishes as another daemon.
uids=$(for u in hl-bus hl-health hl-metrics hl-stdio hl-failure hl-check; do e2e_exec id -u "$u"; done | sort -u | wc -l)
e2e_ok test "$uids" = 6

# --- nothing world-accessible; sub needs hl-watch ----------------------------
world=$(e2e_exec find /run/hl -perm -o+w ! -type l)
e2e_ok test -z "$world" || echo "world-writable under /run/hl: $world"
e2e_ok fails as nobody socat -u /dev/null UNIX-CONNECT:/run/hl/bus/sub
e2e_ok fails as nobody socat -u /dev/null UNIX-CONNECT:/run/hl/bus/pub
e2e_ok as hl-metrics socat -u /dev/null UNIX-CONNECT:/run/hl/bus/sub

# --- no squatting: /run/hl, bus/, ctl/ are root's; names are root's links ---
for d in /run/hl /run/hl/bus /run/hl/ctl; do
  e2e_ok test "$(e2e_exec stat -c '%U:%G %a' "$d")" = "root:root 755"
done
for u in hl-bus hl-health hl-metrics hl-stdio hl-failure; do
  e2e_ok test "$(e2e_exec stat -c '%U %F' "/run/hl/ctl/$u")" = "root symbolic link"
  e2e_ok test "$(e2e_exec stat -L -c '%U %F %a' "/run/hl/ctl/$u")" = "$u socket 660"
done
e2e_ok test "$(e2e_exec stat -c '%U %F %a' /run/hl/ctl/hl-orchestrator)" = "root socket 660"
# A daemon's user (group hl) tries what a squatter would: bind the root
# daemon's name before it, replace another daemon's link, or bind inside
# another daemon's directory. All refused by the kernel.
e2e_ok fails as hl-health socat -u UNIX-LISTEN:/run/hl/ctl/hl-orchestrator.new /dev/null
e2e_ok fails as hl-health ln -sfn /tmp/evil /run/hl/ctl/hl-metrics
e2e_ok fails as hl-health rm -f /run/hl/ctl/hl-metrics
e2e_ok fails as hl-health socat -u UNIX-LISTEN:/run/hl/hl-metrics/evil /dev/null
e2e_ok fails as hl-health touch /run/hl/stdio.sock.evil
# ... while the daemons still answer through their links.
for u in hl-bus hl-health hl-metrics hl-stdio hl-failure hl-orchestrator; do
  e2e_ok e2e_hlctl ping "$u"
done

# --- the agent's terminal: its owner's group (hluser), the relay, root ------
e2e_ok test "$(e2e_exec stat -L -c '%U:%G %a' /run/hl/stdio.sock)" = "hl-stdio:hluser 660"
for u in hl-health hl-metrics hl-failure hl-bus hl-check nobody; do
  e2e_ok fails as "$u" socat -u /dev/null UNIX-CONNECT:/run/hl/stdio.sock
  e2e_ok fails as "$u" socat -u /dev/null UNIX-CONNECT:/run/hl/stdio-attach.sock
done

# --- exec health checks run as hl-check, with nothing of hl-health's --------
confdir=$(dirname "$E2E_CONFIG_FILE")
dropin=$confdir/hl.d/95-security-exec.yaml
cleanup() { e2e_exec rm -f "$dropin"; e2e_exec systemctl reload hl-health.service; }
trap 'cleanup; e2e__finish' EXIT
e2e_exec install -d "$confdir/hl.d"
e2e_sh "cat > $dropin" <<'Y'
hl-health:
  services:
    sec-exec:
      unit: ""
      checks:
        - name: sec-exec-user
          type: exec
          interval: 1s
          timeout: 900ms
          argv: [/bin/sh, -c, 'id -un; id -Gn; grep -E "^Cap(Eff|Prm|Amb)" /proc/self/status; test "$(id -un)" = hl-check && test "$(id -Gn)" = hl-check && grep -q "^CapEff:[[:space:]]*0000000000000000$" /proc/self/status && grep -q "^CapAmb:[[:space:]]*0000000000000000$" /proc/self/status']
Y
e2e_ok e2e_exec systemctl reload hl-health.service
exec_ok() { e2e_hlctl health sec-exec >/dev/null 2>&1; }
e2e_ok wait_for 30 exec_ok
exec_ok || e2e_hlctl health --why sec-exec-user
# and the check could not publish on the bus or call a daemon if it tried
e2e_ok fails as hl-check socat -u /dev/null UNIX-CONNECT:/run/hl/bus/pub
e2e_ok fails as hl-check socat -u /dev/null UNIX-CONNECT:/run/hl/ctl/hl-orchestrator

# --- the managed services' sandbox still lets an agent work -----------------
# A unit with claude-code's [Service] sandbox (copied from the installed
# unit), as hluser in the workspace: compile and run a program, commit it
# with git, install it under the workspace, make a Python venv.
probe=/etc/systemd/system/t-agent-probe.service
e2e_sh "cat > /home/hluser/workspace/agent-probe.sh" <<'SH'
set -e
rm -rf probe; mkdir probe; cd probe
printf 'int main(void) { return 0; }\n' > t.c
gcc -o t t.c && ./t
git init -q . && git -c user.email=a@b -c user.name=a add t.c && git -c user.email=a@b -c user.name=a commit -qm t
install -D t inst/bin/t
python3 -m venv --without-pip venv && test -x venv/bin/python
echo agent-probe-ok
SH
e2e_exec chown hluser:hluser /home/hluser/workspace/agent-probe.sh
e2e_sh "{ printf '[Service]\nType=oneshot\nUser=hluser\nGroup=hluser\nWorkingDirectory=/home/hluser/workspace\nExecStart=/bin/sh /home/hluser/workspace/agent-probe.sh\n'
  sed -n '/^# The managed services. sandbox/,/^# End of the managed services. sandbox/p;/^RestrictNamespaces=/p' /etc/systemd/system/claude-code.service
} > $probe"
e2e_exec systemctl daemon-reload
e2e_ok e2e_exec systemctl start t-agent-probe.service
agent_ok() { e2e_exec journalctl -u t-agent-probe.service -o cat --no-pager | grep -q agent-probe-ok; }
e2e_ok agent_ok
agent_ok || e2e_exec journalctl -u t-agent-probe.service -o cat --no-pager | tail -20
e2e_ok test "$(e2e_exec systemctl show -P NoNewPrivileges t-agent-probe.service)" = yes
e2e_exec rm -rf "$probe" /home/hluser/workspace/probe /home/hluser/workspace/agent-probe.sh
e2e_exec systemctl daemon-reload

# --- memory limits, no negative OOM score ------------------------------------
for u in hl-bus hl-orchestrator hl-failure hl-health hl-metrics hl-stdio hl-logs; do
  e2e_ok test "$(e2e_prop "$u.service" OOMScoreAdjust)" = 0
  e2e_ok test "$(e2e_prop "$u.service" OOMPolicy)" = kill
  max=$(e2e_prop "$u.service" MemoryMax)
  e2e_ok test "$max" != infinity -a -n "$max"
done

# --- /var/log/hl keeps its owner whichever unit starts ----------------------
# (hl-logs:hl 0750 from tmpfiles.d/hl.conf: hl-logs writes its files there)
before=$(e2e_exec stat -c '%U:%G %a' /var/log/hl)
e2e_ok test "$before" = "hl-logs:hl 750"
e2e_ok e2e_exec systemctl restart hl-failure.service hl-health.service hl-logs.service
e2e_ok test "$(e2e_exec stat -c '%U:%G %a' /var/log/hl)" = "$before"

# --- journal excerpts: an admin method, never on the bus -------------------
# A member of hl (may call ctl sockets) who is not an admin is refused; an
# admin and root get the lines.
e2e_exec sh -c 'userdel e2e-sec 2>/dev/null; groupdel e2e-sec 2>/dev/null; useradd --no-create-home --user-group --groups hl,hl-watch e2e-sec'
out=$(as e2e-sec "$HLCTL" journal hl-daemon.service 2>&1); rc=$?
e2e_ok test $rc != 0
e2e_ok grep -q "permission denied" <<<"$out"
e2e_ok e2e_hlctl journal hl-daemon.service --lines 5
e2e_exec usermod -a -G hl-admin e2e-sec
e2e_ok as e2e-sec "$HLCTL" journal hl-daemon.service --lines 5
out=$(e2e_hlctl journal sshd.service 2>&1); e2e_ok grep -q "not managed by hl-orchestrator" <<<"$out"
# A failure of hl-daemon with a known line in its journal: the failure
# reports (service.*, recovery.*, lifecycle.*, failure.*) and the daemons'
# logs (log.*) on the bus never quote it; `hlctl journal` has it.
tap=/tmp/sec-tap.jsonl
e2e_exec bash -c "'$HLCTL' sub > $tap 2>/dev/null & echo \$! > /tmp/sec-tap.pid"
synced() { e2e_hlctl pub test.sec.sync x >/dev/null; e2e_exec grep -q test.sec.sync "$tap"; }
e2e_ok wait_for 10 synced
e2e_ok e2e_exec curl -sf -o /dev/null -X POST http://127.0.0.1:8080/control/fail-health
line_in_journal() { e2e_hlctl journal hl-daemon.service --lines 50 | grep -q "health now fails"; }
e2e_ok wait_for 10 line_in_journal
pid=$(e2e_main_pid hl-daemon.service)
e2e_ok e2e_exec kill -9 "$pid"
e2e_ok test -n "$(e2e_wait_restarted hl-daemon.service "$pid" 60)"
seen_failure() { e2e_exec grep -q '"topic":"service.hl-daemon".*"result":"signal"' "$tap"; }
e2e_ok wait_for 30 seen_failure
# The reports that follow (recovery.*, failure.*) come before hl-daemon is
# healthy again; a marker after that closes the window.
healthy() { e2e_hlctl health hl-daemon >/dev/null 2>&1; }
e2e_ok wait_for 60 healthy
synced_end() { e2e_hlctl pub test.sec.end x >/dev/null; e2e_exec grep -q test.sec.end "$tap"; }
e2e_ok wait_for 10 synced_end
e2e_ok e2e_exec grep -q '"topic":"service.hl-daemon"' "$tap"
e2e_ok fails e2e_exec grep -q "health now fails" "$tap"
e2e_ok fails e2e_exec grep -q '"journal"' "$tap"
# --- per-name families belong to the name's own user (#12): hl-metrics may
# publish lifecycle.ack.hl-metrics, not daemon.hl-health nor
# lifecycle.ack.hl-health (hl-bus drops them, counted as denied).
denied() { e2e_hlctl bus stats | sed -n 's/^denied \([0-9]*\) .*/\1/p' | head -n 1; }
denied0=$(denied)
e2e_ok as hl-metrics "$HLCTL" pub daemon.hl-health name=hl-health state=stopping status=forged-by-hl-metrics
e2e_ok as hl-metrics "$HLCTL" pub lifecycle.ack.hl-health daemon=hl-health detail=forged-by-hl-metrics
e2e_ok as hl-metrics "$HLCTL" pub lifecycle.ack.hl-metrics daemon=hl-metrics detail=own-name
# Three connections, read in no fixed order: wait for the count and the
# allowed one, then a marker; the forged ones can no longer come.
both_denied() { local n; n=$(denied); [ -n "$n" ] && [ "$n" -ge $((${denied0:-0} + 2)) ]; }
e2e_ok wait_for 10 both_denied
own_seen() { e2e_exec grep -q '"topic":"lifecycle.ack.hl-metrics".*own-name' "$tap"; }
e2e_ok wait_for 10 own_seen
synced_names() { e2e_hlctl pub test.sec.names x >/dev/null; e2e_exec grep -q test.sec.names "$tap"; }
e2e_ok wait_for 10 synced_names
e2e_ok fails e2e_exec grep -q forged-by-hl-metrics "$tap"
e2e_exec bash -c 'kill $(cat /tmp/sec-tap.pid); rm -f /tmp/sec-tap.pid'
e2e_exec rm -f "$tap"
e2e_exec sh -c 'userdel e2e-sec; groupdel e2e-sec 2>/dev/null'
e2e_ok e2e_wait_unit_active hl-daemon.service
