#!/usr/bin/env bash
# hl.target reaches active under a real systemd: the bus is socket-activated
# with the owners and modes its socket units declare, our daemons run as
# their own users inside their sandbox, and the managed services' stand-ins answer /health.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-bus.service hl-testd.service hl-daemon.service claude-code.service

e2e_ok e2e_wait_unit_active hl.target
for u in hl-bus-pub.socket hl-bus-sub.socket hl-bus.service hl-testd.service \
  hl-daemon.service claude-code.service; do
  e2e_ok e2e_wait_unit_active "$u"
done

# The endpoints are systemd's sockets, with the units' owners and modes.
# /run/hl and its bus/ and ctl/ are root's (deploy/tmpfiles.d): no daemon's
# user can bind a name another uses.
e2e_ok test "$(e2e_exec stat -c '%a %U:%G' /run/hl)" = "755 root:root"
e2e_ok test "$(e2e_exec stat -c '%a %U:%G' /run/hl/bus)" = "755 root:root"
e2e_ok test "$(e2e_exec stat -c '%a %U:%G' /run/hl/ctl)" = "755 root:root"
e2e_ok test "$(e2e_exec stat -c '%a %U:%G %F' /run/hl/bus/pub)" = "660 root:hl socket"
e2e_ok test "$(e2e_exec stat -c '%a %U:%G %F' /run/hl/bus/sub)" = "660 root:hl-watch socket"
e2e_ok test "$(e2e_prop hl-bus.service StatusText)" = "proxying (socket-activated)"

# Our daemons: a user of their own, no privileges, seccomp on, the file
# system read-only but for their own directories.
for u in hl-bus.service hl-testd.service; do
  pid=$(e2e_main_pid "$u")
  e2e_ok test "$(e2e_exec ps -o user= -p "$pid")" = "${u%.service}"
  e2e_ok test "$(e2e_proc_status "$pid" NoNewPrivs)" = 1
  e2e_ok test "$(e2e_proc_status "$pid" CapEff)" = 0000000000000000
  e2e_ok test "$(e2e_proc_status "$pid" Seccomp)" = 2
  # from inside the unit's own mount namespace
  e2e_ok e2e_exec nsenter -t "$pid" -m -- sh -c '! touch /etc/hl-e2e-probe 2>/dev/null'
  e2e_ok e2e_exec nsenter -t "$pid" -m -- sh -c "touch /run/hl/${u%.service}/.probe && rm /run/hl/${u%.service}/.probe"
  e2e_ok e2e_exec nsenter -t "$pid" -m -S "$(e2e_exec id -u "${u%.service}")" -- sh -c '! touch /run/hl/.probe 2>/dev/null'
done
e2e_ok e2e_exec test -d /var/lib/hl/hl-bus
e2e_ok test "$(e2e_exec stat -c '%U' /var/lib/hl/hl-bus)" = hl-bus

# The managed services: the spec's units running the stand-ins.
e2e_ok e2e_exec curl -sf -o /dev/null http://127.0.0.1:8080/health
e2e_ok e2e_exec curl -sf -o /dev/null http://127.0.0.1:3000/health
e2e_ok test "$(e2e_exec ps -o user= -p "$(e2e_main_pid claude-code.service)")" = hluser
e2e_ok test "$(e2e_exec ps -o user= -p "$(e2e_main_pid hl-daemon.service)")" = hluser
# the spec's resource drop-in is applied
e2e_ok test "$(e2e_prop hl-daemon.service MemoryMax)" = 2147483648
e2e_ok test "$(e2e_prop hl-daemon.service CPUQuotaPerSecUSec)" = 2s
