#!/usr/bin/env bash
# A reload applies every key it accepts, or says (log line and ctl reply)
# which keys take effect only after a restart: hl-bus's hwm and stats_depth
# used to be accepted and silently ignored.
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
B=${HL_BUILD_DIR:?}/daemons
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
hlctl() { "$B/hlctl/hlctl" --runtime-dir "$dir" "$@"; }

printf 'hl-bus:\n  stats_depth: 1\n  hwm: 100000\n' > "$dir/hl.yaml"
"$B/hl-bus/hl-bus" --config "$dir/hl.yaml" --runtime-dir "$dir" 2>"$dir/bus.log" &
pid=$!
wait_for 60 hlctl --retries 0 --timeout 100 ping hl-bus >/dev/null 2>&1
ok hlctl ping hl-bus

# an unchanged reload needs no restart
out=$(hlctl call hl-bus reload 2>&1); rc=$?
ok test $rc = 0
ok test -z "$(grep -i restart <<<"$out")"

# stats_depth changes what `hlctl bus stats` groups by: applied at once
hlctl pub a.b.c one >/dev/null
printf 'hl-bus:\n  stats_depth: 2\n  hwm: 100000\n' > "$dir/hl.yaml"
out=$(hlctl call hl-bus reload 2>&1); rc=$?
ok test $rc = 0
ok test -z "$(grep -i restart <<<"$out")"
hlctl pub a.b.c two >/dev/null
wait_for 10 bash -c "'$B/hlctl/hlctl' --runtime-dir '$dir' --json call hl-bus stats | grep -q '\"a\\.b\\.\"'"
ok bash -c "'$B/hlctl/hlctl' --runtime-dir '$dir' --json call hl-bus stats | grep -q '\"a\\.b\\.\"'"

# hwm is a socket option of sockets that stay: the reply and the log say so
printf 'hl-bus:\n  stats_depth: 2\n  hwm: 5000\n' > "$dir/hl.yaml"
out=$(hlctl call hl-bus reload 2>&1); rc=$?
ok test $rc = 0
ok grep -q "restart needed for hl-bus.hwm" <<<"$out"
wait_for 10 grep -q "restart needed for hl-bus.hwm" "$dir/bus.log"
ok grep -q "restart needed for hl-bus.hwm" "$dir/bus.log"
# SIGHUP says the same in the log
kill -HUP $pid
# (a function: a command substitution in wait_for's arguments is evaluated once)
said_twice() { [ "$(grep -c 'restart needed for hl-bus.hwm' "$dir/bus.log")" -ge 2 ]; }
wait_for 10 said_twice
ok test "$(grep -c 'restart needed for hl-bus.hwm' "$dir/bus.log")" -ge 2

kill -TERM $pid; wait $pid; pid=
checks_done
