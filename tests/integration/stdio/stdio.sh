#!/usr/bin/env bash
# hl-stdio with its real neighbours: hl-bus, hlctl (attach, sub, call) and
# socat as the plain client that claude-code-server is. Permissions, peer
# credentials in the log, relay, read-only socket, resume through hlctl,
# the detach key on a real terminal, bus events, stats, reload, a clean stop.
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
B=${HL_BUILD_DIR:?}
D=$B/daemons
dir=$(mktemp -d)
chmod 755 "$dir"
bus_pid= stdio_pid= sub_pid=
bg=()
cleanup() {
    for p in $sub_pid $stdio_pid $bus_pid "${bg[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
dump() { echo "--- hl-stdio log:" >&2; cat "$dir/stdio.log" >&2 2>/dev/null; }
hlctl() { "$D/hlctl/hlctl" --runtime-dir "$dir" "$@"; }
# Background jobs run the binary itself, so that $! is the process to stop.
HLCTL=("$D/hlctl/hlctl" --runtime-dir "$dir")
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
size_is() { [ "$(size "$1")" = "$2" ]; }
count_ge() { [ "$(grep -c "$1" "$2" 2>/dev/null)" -ge "$3" ]; }

group=nogroup
getent group nogroup >/dev/null || group=$(id -gn)

# ---------------------------------------------------------------- config check
mkdir -p "$dir/etc/hl.d"
printf 'hl-stdio:\n  mode: "0666"\n' > "$dir/etc/hl.yaml"
out=$("$D/hl-stdio/hl-stdio" --config "$dir/etc/hl.yaml" --check-config 2>&1); rc=$?
ok test $rc = 1
ok grep -q "hl.yaml:2: 'mode' 0666 gives everyone access" <<<"$out"
cat > "$dir/etc/hl.yaml" <<Y
hl-stdio:
  group: $group
  events: {interval: 20ms}
  channels:
    - name: main
      read_only_socket: stdio.ro.sock
      publish: true
Y
ok "$D/hl-stdio/hl-stdio" --config "$dir/etc/hl.yaml" --check-config

# ---------------------------------------------------------------- start
"$D/hl-bus/hl-bus" --config "$dir/etc/hl.yaml" --runtime-dir "$dir" 2>"$dir/bus.log" &
bus_pid=$!
"$D/hl-stdio/hl-stdio" --config "$dir/etc/hl.yaml" --runtime-dir "$dir" 2>"$dir/stdio.log" &
stdio_pid=$!
wait_for 60 hlctl --retries 0 --timeout 100 ping hl-stdio >/dev/null 2>&1
ok hlctl ping hl-stdio
wait_for 60 hlctl --retries 0 --timeout 100 ping hl-bus >/dev/null 2>&1

# Socket permissions: 0660 and the configured group, never world access.
ok test "$(stat -c '%a %G' "$dir/stdio.sock")" = "660 $group"
ok test "$(stat -c '%a %G' "$dir/stdio.ro.sock")" = "660 $group"
ok test "$(stat -c '%a %G' "$dir/stdio-attach.sock")" = "660 $group"
if [ "$(id -u)" = 0 ] && [ "$group" = nogroup ]; then
    # Someone outside the group cannot even connect.
    out=$(setpriv --reuid=65533 --regid=65533 --clear-groups socat -u - "UNIX-CONNECT:$dir/stdio.sock" </dev/null 2>&1)
    ok grep -q "Permission denied" <<<"$out"
fi

# Bus events: subscribe, and make sure the subscription is live first.
"${HLCTL[@]}" sub stdio. > "$dir/events.json" &
sub_pid=$!
wait_for 10 bash -c "'$D/hlctl/hlctl' --runtime-dir '$dir' pub stdio.sync x >/dev/null; grep -q stdio.sync '$dir/events.json'"

# ---------------------------------------------------------------- plain clients
# A plain reader and a plain writer (what claude-code-server does).
socat -u "UNIX-CONNECT:$dir/stdio.sock" "OPEN:$dir/plain.out,creat,trunc" &
bg+=($!)
socat -u "UNIX-CONNECT:$dir/stdio.ro.sock" "OPEN:$dir/ro.out,creat,trunc" &
bg+=($!)
wait_for 10 grep -q "attached read-only" "$dir/stdio.log"
wait_for 10 count_ge "attached read-write" "$dir/stdio.log" 1
printf 'line one\n' | socat -u - "UNIX-CONNECT:$dir/stdio.sock"
wait_for 10 size_is "$dir/plain.out" 9
wait_for 10 size_is "$dir/ro.out" 9
ok test "$(cat "$dir/plain.out")" = "line one"
# The credentials of each client, taken from the kernel, are in the log.
ok grep -Eq "client [0-9]+ \(uid $(id -u) gid $(id -g) pid [0-9]+ socat\) attached read-write" "$dir/stdio.log"
# The read-only socket refuses input.
# (it writes once it is attached: what a client sends before the relay has
# accepted it is simply never read)
out=$( (wait_for 10 count_ge "attached read-only" "$dir/stdio.log" 2; printf 'sneaky\n') |
      socat - "UNIX-CONNECT:$dir/stdio.ro.sock" 2>&1)
ok grep -qi "broken pipe" <<<"$out"
ok test "$(size "$dir/plain.out")" = 9

# ---------------------------------------------------------------- hlctl attach
# Read-only attach, not a terminal: replays the scrollback, then follows.
"${HLCTL[@]}" attach --read-only main > "$dir/ro-attach.out" 2> "$dir/ro-attach.err" &
ro_attach=$!
bg+=($ro_attach)
wait_for 10 grep -q "attached to main" "$dir/ro-attach.err"
wait_for 10 size_is "$dir/ro-attach.out" 9
# Read-write attach: its input reaches the plain reader.
printf 'typed\n' | "${HLCTL[@]}" attach --from now main > "$dir/rw-attach.out" 2>"$dir/rw-attach.err" &
rw_attach=$!
bg+=($rw_attach)
wait_for 10 size_is "$dir/plain.out" 15
ok test "$(tail -n1 "$dir/plain.out")" = "typed"
wait_for 10 size_is "$dir/ro-attach.out" 15
ok test "$(size "$dir/rw-attach.out")" = 0   # never its own bytes

# Resume: detach on a real terminal with the detach key, then pick up exactly
# where it left off.
"$B/tests/integration/stdio/stdio_pty" 10000 "typed" '\035' -- \
    "$D/hlctl/hlctl" --runtime-dir "$dir" attach --read-only main > "$dir/tty.out" 2>&1
tty_rc=$?
ok test $tty_rc = 0
ok grep -q "detached from main at" "$dir/tty.out"
resume=$(grep -o -- '--from [0-9a-f]*:[0-9]*' "$dir/tty.out" | head -1 | cut -d' ' -f2)
ok test -n "$resume"
printf 'after detach\n' | socat -u - "UNIX-CONNECT:$dir/stdio.sock"
wait_for 10 size_is "$dir/plain.out" 28
timeout 5 "$D/hlctl/hlctl" --runtime-dir "$dir" attach --read-only --quiet --from "$resume" main \
    > "$dir/resumed.out" 2>/dev/null &
res_pid=$!
bg+=($res_pid)
wait_for 10 size_is "$dir/resumed.out" 13
ok test "$(cat "$dir/resumed.out")" = "after detach"
kill "$res_pid" 2>/dev/null
# A resume from an offset of another stream is told so and starts over.
"${HLCTL[@]}" attach --read-only --from 0123456789abcdef:5 main > /dev/null 2> "$dir/reset.err" &
bg+=($!)
wait_for 10 grep -q "were no longer kept\|attached to main" "$dir/reset.err"
# Attach errors: no such channel, bad offsets.
out=$(hlctl attach nosuch 2>&1 </dev/null); rc=$?
ok test $rc = 2
ok grep -q 'no channel "nosuch"' <<<"$out"
hlctl attach --from yesterday main </dev/null 2>/dev/null; ok test $? = 64
hlctl attach --from 99999999 main </dev/null >/dev/null 2>"$dir/beyond.err"; rc=$?
ok test $rc = 2
ok grep -q "beyond the head" "$dir/beyond.err"

# ---------------------------------------------------------------- bus events
wait_for 10 grep -q '"topic":"stdio.main"' "$dir/events.json"
ok grep -q '"topic":"stdio.main.attach"' "$dir/events.json"
ok grep -Eq '"topic":"stdio.main.attach".*"comm":"socat"' "$dir/events.json"
wait_for 10 grep -q '"topic":"stdio.main.detach"' "$dir/events.json"
ok grep -Eq '"topic":"stdio.main.detach".*"reason":"closed"' "$dir/events.json"
# The data events carry the bytes ("line one\n" is bGluZSBvbmUK in base64).
ok grep -q 'bGluZSBvbmUK' "$dir/events.json"

# ---------------------------------------------------------------- stats
out=$(hlctl --json call hl-stdio stats)
ok grep -q '"name":"main"' <<<"$out"
ok grep -Eq '"head":"?28"?' <<<"$out"
ok grep -q '"comm":"socat"' <<<"$out"

# Read-write on a terminal: what is typed goes to the channel (raw: the
# terminal does not cook it), the detach key does not.
"$B/tests/integration/stdio/stdio_pty" 10000 "attached to main" 'typed-on-a-tty\r\035' -- \
    "$D/hlctl/hlctl" --runtime-dir "$dir" attach --from now main > "$dir/tty2.out" 2>&1
ok test $? = 0
wait_for 10 grep -q "typed-on-a-tty" "$dir/plain.out"
ok test "$(tail -c 15 "$dir/plain.out" | od -An -c | tr -s ' ')" = " t y p e d - o n - a - t t y \r"
ok grep -q "detached from main" "$dir/tty2.out"

# ---------------------------------------------------------------- reload
printf 'hl-stdio:\n  channels:\n    - name: main\n      read_only_socket: stdio.ro.sock\n    - name: tests\n  group: %s\n' "$group" > "$dir/etc/hl.d/50-tests.yaml"
ok hlctl call hl-stdio reload >/dev/null
ok test -S "$dir/stdio-tests.sock"
ok kill -0 "$ro_attach"                 # main's clients stayed
printf 'hl-stdio:\n  mode: "0606"\n' > "$dir/etc/hl.d/60-bad.yaml"
out=$(hlctl call hl-stdio reload 2>&1); rc=$?
ok test $rc = 2
ok grep -q "60-bad.yaml:2: 'mode' 0606 gives everyone access" <<<"$out"
ok test "$(stat -c %a "$dir/stdio.sock")" = 660
rm "$dir/etc/hl.d/60-bad.yaml"

# ---------------------------------------------------------------- stop
kill -TERM "$stdio_pid"; wait "$stdio_pid"; rc=$?; stdio_pid=
ok test $rc = 0
wait "$ro_attach"; rc=$?
ok test $rc = 1                          # closed by hl-stdio, and said why
ok grep -q "hl-stdio: shutdown; main at" "$dir/ro-attach.err"
ok test ! -e "$dir/stdio.sock"
ok test ! -e "$dir/stdio-attach.sock"
ok test ! -e "$dir/stdio-tests.sock"

[ $fail = 0 ] || dump
checks_done
