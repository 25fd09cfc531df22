#!/usr/bin/env bash
# 1000 connect/disconnect cycles (raw, read-only, attach, hang-ups mid-hello,
# garbage) against the real hl-stdio, twice:
#   1. as it runs in production: no file descriptor may stay behind (counted
#      in /proc) and its memory may not grow (VmRSS after a warm-up);
#   2. under a leak checker: valgrind, or in a sanitizer build LeakSanitizer
#      (whose quarantine makes VmRSS meaningless, so step 1 skips that
#      check); the daemon must exit clean after SIGTERM.
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
B=${HL_BUILD_DIR:?}
D=$B/daemons
CYCLES=${STDIO_CYCLES:-1000}
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
hlctl() { "$D/hlctl/hlctl" --runtime-dir "$dir" "$@"; }
clients() { hlctl --json call hl-stdio stats | grep -o '"clients":[0-9]*' | head -1 | cut -d: -f2; }
no_clients() { [ "$(clients)" = 0 ]; }
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
    wait_for 60 answers_or_died
    ok hlctl ping hl-stdio
    printf 'scrollback for the replays\n' | socat -u - "UNIX-CONNECT:$dir/stdio.sock"
    wait_for 60 no_clients
}
answers_or_died() { hlctl --retries 0 --timeout 200 ping hl-stdio || ! kill -0 "$pid"; }
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
wait_for 60 no_clients
rss1=$(rss)
ok cycles "$CYCLES"
wait_for 60 no_clients
rss2=$(rss) fd1=$(fds)
echo "fds $fd0 -> $fd1; VmRSS after warm-up ${rss1} kB, after $CYCLES cycles ${rss2} kB"
ok test "$fd0" = "$fd1"
if ! $asan; then
    ok test $((rss2 - rss1)) -lt 512
fi
# The read-only socket too, by plain clients (each connects, sends nothing,
# and leaves at its end of input).
for _ in $(seq 20); do socat -u - "UNIX-CONNECT:$dir/stdio.ro.sock" </dev/null; done
wait_for 60 no_clients
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
    wait_for 60 no_clients
    stop
    ok test ! -s "$dir/vg.log"
    [ -s "$dir/vg.log" ] && head -50 "$dir/vg.log" >&2
else
    echo "leak checker: none installed (fd and memory counts only)"
fi
checks_done
