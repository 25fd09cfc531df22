#!/usr/bin/env bash
# kill -9 of a daemon's main process: systemd restarts it (Restart=on-failure)
# and the bus carries on. For a publisher (hl-testd): subscribers see its new
# epoch and the stream goes on. For the proxy (hl-bus): the daemons are not
# restarted with it, and their streams reach subscribers again.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-bus.service hl-testd.service

epoch_of() { # the epoch of the next test.tick that comes through the bus
  e2e_hlctl sub --count 1 --wait 5000 test.tick | sed -n 's/.*"epoch":\([0-9]*\).*/\1/p'
}

# --- a publisher
old_pid=$(e2e_main_pid hl-testd.service)
old_restarts=$(e2e_prop hl-testd.service NRestarts)
old_epoch=$(epoch_of)
e2e_ok test -n "$old_epoch"
cursor=$(e2e_journal_cursor)
e2e_ok e2e_kill9 hl-testd.service
new_pid=$(e2e_wait_restarted hl-testd.service "$old_pid")
e2e_ok test -n "$new_pid"
e2e_ok test "$(e2e_prop hl-testd.service NRestarts)" = $((old_restarts + 1))
e2e_ok e2e_wait_journal hl-testd.service "Main process exited, code=killed, status=9/KILL" 30 "$cursor"
new_epoch=$(epoch_of)
e2e_ok test -n "$new_epoch"
e2e_ok test "$new_epoch" != "$old_epoch"
e2e_ok e2e_hlctl ping hl-testd

# --- the proxy itself
bus_pid=$(e2e_main_pid hl-bus.service)
bus_restarts=$(e2e_prop hl-bus.service NRestarts)
testd_pid=$(e2e_main_pid hl-testd.service)
e2e_ok e2e_kill9 hl-bus.service
new_bus=$(e2e_wait_restarted hl-bus.service "$bus_pid")
e2e_ok test -n "$new_bus"
e2e_ok test "$(e2e_prop hl-bus.service NRestarts)" = $((bus_restarts + 1))
# the sockets never went away: systemd held them
e2e_ok e2e_is_active hl-bus-pub.socket
e2e_ok e2e_is_active hl-bus-sub.socket
e2e_ok test "$(e2e_prop hl-bus.service StatusText)" = "proxying (socket-activated)"
# the publisher was not restarted, and its stream comes through the new proxy
e2e_ok test "$(e2e_main_pid hl-testd.service)" = "$testd_pid"
e2e_ok test "$(epoch_of)" = "$new_epoch"
e2e_ok e2e_hlctl ping hl-bus
