#!/usr/bin/env bash
# A daemon that stops pinging its watchdog is killed and restarted by
# systemd. The stall is the libhlbus runtime's test knob (HL_TEST_KNOBS=1,
# method test.stall-watchdog): the loop runs on, only the pings stop, so
# nothing but the watchdog can notice. Checked for hl-testd (WatchdogSec=3s)
# and hl-bus (4s in the e2e drop-in).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-bus.service hl-testd.service

for u in hl-testd hl-bus; do
  pid=$(e2e_main_pid "$u.service")
  restarts=$(e2e_prop "$u.service" NRestarts)
  cursor=$(e2e_journal_cursor)
  e2e_ok e2e_hlctl call "$u" test.stall-watchdog
  # still there right after the call: it is the watchdog that ends it
  e2e_ok test "$(e2e_main_pid "$u.service")" = "$pid"
  new=$(e2e_wait_restarted "$u.service" "$pid" 30)
  e2e_ok test -n "$new"
  e2e_ok e2e_wait_journal "$u.service" "Watchdog timeout" 30 "$cursor"
  e2e_ok e2e_wait_journal "$u.service" "Failed with result 'watchdog'" 30 "$cursor"
  e2e_ok test "$(e2e_prop "$u.service" NRestarts)" = $((restarts + 1))
  e2e_ok e2e_hlctl ping "$u"
done
# the bus works after both
e2e_ok e2e_hlctl sub --count 1 --wait 5000 test.tick
