#!/usr/bin/env bash
# 1000 connect/disconnect cycles (raw, read-only, attach, hang-ups mid-hello,
# garbage) against the real hl-stdio: no file descriptor may stay behind
# (counted in /proc), and no memory: the daemon runs under valgrind, or in a
# sanitizer build under LeakSanitizer, and must exit clean after SIGTERM.
set -u
B=${HL_BUILD_DIR:?}
D=$B/daemons
CYCLES=${STDIO_CYCLES:-1000}
pass=0 fail=0
ok() { if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $*" >&2; fi; }
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
hlctl() { "$D/hlctl/hlctl" --runtime-dir "$dir" "$@"; }
clients() { hlctl --json call hl-stdio stats | grep -o '"clients":[0-9]*' | head -1 | cut -d: -f2; }
no_clients() { [ "$(clients)" = 0 ]; }
until_true() {
    local end=$((SECONDS + 60))
    until "$@"; do [ $SECONDS -ge $end ] && { echo "timed out: $*" >&2; return 1; }; sleep 0.05; done
}

printf 'hl-stdio:\n  channels:\n    - name: main\n      read_only_socket: stdio.ro.sock\n' > "$dir/hl.yaml"
bin="$D/hl-stdio/hl-stdio"
run=()
if nm "$bin" 2>/dev/null | grep -q __asan_init; then
    mode="LeakSanitizer"
    export ASAN_OPTIONS=detect_leaks=1
elif command -v valgrind >/dev/null; then
    mode="valgrind"
    run=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
         --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file="$dir/vg.log")
else
    mode="fd counts only"
fi
echo "leak checker: $mode"
"${run[@]}" "$bin" --config "$dir/hl.yaml" --runtime-dir "$dir" --log-level warning 2>"$dir/stdio.log" &
pid=$!
for _ in $(seq 300); do hlctl --retries 0 --timeout 200 ping hl-stdio >/dev/null 2>&1 && break; done
ok hlctl ping hl-stdio
printf 'scrollback for the replays\n' | socat - "UNIX-CONNECT:$dir/stdio.sock"
fds() { ls "/proc/$pid/fd" | wc -l; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
until_true no_clients
fd0=$(fds) rss0=$(rss)
# Warm-up: the first of each kind may allocate lasting buffers (caches, the
# run bookkeeping); what counts is that cycles after it do not grow.
ok "$B/tests/integration/stdio/stdio_cycles" 60 "$dir/stdio.sock" "$dir/stdio-attach.sock"
until_true no_clients
rss1=$(rss)
ok "$B/tests/integration/stdio/stdio_cycles" "$CYCLES" "$dir/stdio.sock" "$dir/stdio-attach.sock"
until_true no_clients
fd1=$(fds) rss2=$(rss)
echo "fds $fd0 -> $fd1; VmRSS ${rss0} kB, after warm-up ${rss1} kB, after $CYCLES cycles ${rss2} kB"
ok test "$fd0" = "$fd1"
# The read-only socket too, by plain clients.
# (each connects, sends nothing, and leaves at its end of input)
for _ in $(seq 20); do socat -u - "UNIX-CONNECT:$dir/stdio.ro.sock" </dev/null; done
until_true no_clients
ok test "$(fds)" = "$fd0"
ok hlctl ping hl-stdio
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
ok test $rc = 0
if [ "$mode" = valgrind ]; then
    ok test ! -s "$dir/vg.log"
    [ -s "$dir/vg.log" ] && head -50 "$dir/vg.log" >&2
fi
[ $rc = 0 ] || tail -30 "$dir/stdio.log" >&2
echo "$pass passed, $fail failed"
[ $fail = 0 ]
