#!/usr/bin/env bash
# 1000 connect/disconnect cycles (raw, read-only, attach, hang-ups mid-hello,
# garbage) against the real hl-stdio, twice:
#   1. as it runs in production: no file descriptor may stay behind (counted
#      in /proc) and its memory may not grow (VmRSS after a warm-up);
#   2. under a leak checker: valgrind, or in a sanitizer build LeakSanitizer
#      (whose quarantine makes VmRSS meaningless, so step 1 skips that
#      check); the daemon must exit clean after SIGTERM.
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
fds() { ls "/proc/$pid/fd" | wc -l; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
cycles() { "$B/tests/integration/stdio/stdio_cycles" "$1" "$dir/stdio.sock" "$dir/stdio-attach.sock"; }

printf 'hl-stdio:\n  channels:\n    - name: main\n      read_only_socket: stdio.ro.sock\n' > "$dir/hl.yaml"
bin="$D/hl-stdio/hl-stdio"
asan=false
nm "$bin" 2>/dev/null | grep -q __asan_init && asan=true

start() { # start [WRAPPER...]
    "$@" "$bin" --config "$dir/hl.yaml" --runtime-dir "$dir" --log-level warning 2>"$dir/stdio.log" &
    pid=$!
    # Until it answers, with a deadline rather than a count: a refused ping
    # returns at once, and under valgrind on a loaded machine the start takes
    # seconds.
    local deadline=$((SECONDS + 60))
    until hlctl --retries 0 --timeout 200 ping hl-stdio >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null || break
    done
    ok hlctl ping hl-stdio
    printf 'scrollback for the replays\n' | socat -u - "UNIX-CONNECT:$dir/stdio.sock"
    until_true no_clients
}
stop() { # stop: SIGTERM, must exit 0
    kill -TERM "$pid"; wait "$pid"; local rc=$?; pid=
    ok test $rc = 0
    [ $rc = 0 ] || tail -30 "$dir/stdio.log" >&2
}

# ---- 1: production build, counted
start
fd0=$(fds)
# Warm-up: the first clients may allocate lasting buffers (the run
# bookkeeping, the event buckets); what counts is that more cycles do not grow.
ok cycles 100 >/dev/null
until_true no_clients
rss1=$(rss)
ok cycles "$CYCLES"
until_true no_clients
rss2=$(rss) fd1=$(fds)
echo "fds $fd0 -> $fd1; VmRSS after warm-up ${rss1} kB, after $CYCLES cycles ${rss2} kB"
ok test "$fd0" = "$fd1"
if ! $asan; then
    ok test $((rss2 - rss1)) -lt 512
fi
# The read-only socket too, by plain clients (each connects, sends nothing,
# and leaves at its end of input).
for _ in $(seq 20); do socat -u - "UNIX-CONNECT:$dir/stdio.ro.sock" </dev/null; done
until_true no_clients
ok test "$(fds)" = "$fd0"
stop

# ---- 2: under a leak checker
if $asan; then
    echo "leak checker: LeakSanitizer (the run above; exit status checked)"
elif command -v valgrind >/dev/null; then
    echo "leak checker: valgrind"
    start valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file="$dir/vg.log"
    ok cycles "$CYCLES"
    until_true no_clients
    stop
    ok test ! -s "$dir/vg.log"
    [ -s "$dir/vg.log" ] && head -50 "$dir/vg.log" >&2
else
    echo "leak checker: none installed (fd and memory counts only)"
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
