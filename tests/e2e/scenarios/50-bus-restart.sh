#!/usr/bin/env bash
# hl-bus restarted under socket activation (a clean restart, then a kill -9)
# while hl-testd publishes 500 messages a second and a subscriber listens:
# the publisher and the subscriber carry on through both, without
# restarting, and whatever the restart lost shows only as counted gaps:
# every message between the subscriber's first and last is either received
# or counted as a gap, none twice, none malformed. The proxy's own counters
# (`hlctl bus stats`) add up the same way from where the new proxy started.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-bus.service hl-testd.service e2e-tap.service

field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -1; } # field NAME <<<JSON
testd_stat() { e2e_hlctl call hl-testd stats | field "$1"; }
tap_count() { e2e_exec sh -c 'grep -c "\"source\":\"hl-testd\"" /run/e2e-tap.out || true'; }
tap_last_seq() { e2e_exec tail -n 1 /run/e2e-tap.out | field seq; }
# Waits until the tap has seen a hl-testd message numbered above $1.
tap_past() { local s; s=$(tap_last_seq); [ -n "$s" ] && [ "$s" -gt "$1" ]; }

# A faster stream for this scenario, through a config drop-in and a reload
# (taken back at the end).
dropin=$(dirname "$E2E_CONFIG_FILE")/hl.d/50-e2e-bus-restart.yaml
e2e_exec sh -c "printf 'hl-testd:\n  interval_ms: 2\n' >'$dropin'"
restore() { e2e_exec rm -f "$dropin"; e2e_hlctl call hl-testd reload >/dev/null; }
trap 'restore; e2e__finish' EXIT
e2e_ok e2e_hlctl call hl-testd reload >/dev/null
testd_pid=$(e2e_main_pid hl-testd.service)
epoch=$(testd_stat epoch)
e2e_ok test -n "$epoch"
dropped_before=$(testd_stat dropped)

# The subscriber: hlctl sub as a transient unit; SIGTERM makes it print its
# counters (received, gaps, duplicates, malformed) to stderr.
e2e_exec systemctl reset-failed e2e-tap.service 2>/dev/null
e2e_exec rm -f /run/e2e-tap.out /run/e2e-tap.err
e2e_ok e2e_exec systemd-run --quiet --unit=e2e-tap --property=StandardOutput=file:/run/e2e-tap.out \
  --property=StandardError=file:/run/e2e-tap.err "$E2E_BINDIR/hlctl" sub --stats test.tick
e2e_ok wait_for 10 bash -c "[ \$(nsenter -t $E2E_PID1 -a -- grep -c hl-testd /run/e2e-tap.out) -ge 20 ]"

for how in restart kill9; do
  bus_pid=$(e2e_main_pid hl-bus.service)
  seq_now=$(testd_stat published)
  if [ $how = restart ]; then
    e2e_ok e2e_exec systemctl restart hl-bus.service
  else
    e2e_ok e2e_kill9 hl-bus.service
  fi
  e2e_ok e2e_wait_restarted hl-bus.service "$bus_pid" >/dev/null
  e2e_ok test "$(e2e_prop hl-bus.service StatusText)" = "proxying (socket-activated)"
  # the stream reaches the subscriber again, well past the restart
  e2e_ok wait_for 20 tap_past $((seq_now + 50))
done

e2e_ok e2e_exec systemctl stop e2e-tap.service
counters=$(e2e_exec cat /run/e2e-tap.err)
echo "  subscriber: $counters"
read -r _ received _ gaps _ dups _ malformed <<<"$counters"
e2e_exec cat /run/e2e-tap.out >"$E2E_DIR/tap.out"
# every message is hl-testd's, of one epoch: the publisher never restarted
e2e_ok test "$(grep -c . "$E2E_DIR/tap.out")" = "$received"
e2e_ok test "$(grep -c "\"epoch\":$epoch," "$E2E_DIR/tap.out")" = "$received"
e2e_ok test "$(e2e_main_pid hl-testd.service)" = "$testd_pid"
sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$E2E_DIR/tap.out" >"$E2E_DIR/tap.seq"
first=$(head -1 "$E2E_DIR/tap.seq")
last=$(tail -1 "$E2E_DIR/tap.seq")
# strictly increasing: no duplicate, nothing out of order
e2e_ok bash -c "sort -n -c -u '$E2E_DIR/tap.seq'"
missing=$((last - first + 1 - received))
echo "  subscriber saw seq $first..$last: $received received, $missing missing, $gaps counted as gaps"
e2e_ok test "$gaps" = "$missing"
e2e_ok test "$dups" = 0
e2e_ok test "$malformed" = 0
# the publisher queued through the restarts: nothing dropped on its side
e2e_ok test "$(testd_stat dropped)" = "$dropped_before"

# hl-testd's own subscription went through the same restarts
stats=$(e2e_hlctl call hl-testd stats)
echo "  hl-testd: $stats"
own=$(field own_received <<<"$stats") tgaps=$(field gaps <<<"$stats")
tfirst=$(field first_seq <<<"$stats") tlast=$(field last_seq <<<"$stats")
e2e_ok test $((own + tgaps)) = $((tlast - tfirst + 1))
e2e_ok test "$(field duplicates <<<"$stats")" = 0

# The proxy's view since it last started: messages + gaps add up from the
# first message it saw, which came after the restart.
bus=$(e2e_hlctl --json bus stats | tr '{' '\n' | grep '"source":"hl-testd"')
echo "  hl-bus: $bus"
e2e_ok test "$(field epoch <<<"$bus")" = "$epoch"
bfirst=$(( $(field last_seq <<<"$bus") - $(field messages <<<"$bus") - $(field gaps <<<"$bus") + 1 ))
e2e_ok test "$bfirst" -gt "$seq_now"
