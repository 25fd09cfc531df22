#!/usr/bin/env bash
# Keystroke-to-echo latency (#16): a byte typed on the person's terminal to
# the same byte back from the program (hl-tui --echo), through
#   hl-pty:  hlctl attach -> hl-stdio's relay -> hl-pty -> pty -> program, and back
#   tmux:    tmux attach -> tmux server -> pty -> program, and back
#   dtach:   dtach -a -> dtach master -> pty -> program, and back
#   direct:  the program on the terminal itself (the floor)
# in the same run, interleaved in rounds so that the machine's load falls on
# all alike. Prints p50/p99/max in µs per peer; no wall time is asserted.
#   bench_pty.sh BENCH_PTY_ECHO HL_TUI [SAMPLES]   (HL_BENCH_PTY_SAMPLES, default 2000; CI 300)
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
need tmux dtach
B=${HL_BUILD_DIR:?}
D=$B/daemons
ECHO=${1:?} TUI=${2:?}
n=${3:-${HL_BENCH_PTY_SAMPLES:-2000}}
[ "${CI:-}" = true ] && [ -z "${3:-}" ] && [ -z "${HL_BENCH_PTY_SAMPLES:-}" ] && n=300
dir=$(mktemp -d)
chmod 755 "$dir"
tsock=hlbench-$$
stdio_pid= pty_pid= dtach_pid=
cleanup() {
    tmux -L "$tsock" kill-server 2>/dev/null
    for p in $pty_pid $stdio_pid; do kill "$p" 2>/dev/null; done
    [ -S "$dir/dtach.sock" ] && pkill -P $$ dtach 2>/dev/null
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/etc"
printf 'hl-stdio:\n  group: %s\n  recording: {dir: ""}\n' "$(id -gn)" > "$dir/etc/hl.yaml"
"$D/hl-stdio/hl-stdio" --config "$dir/etc/hl.yaml" --runtime-dir "$dir" 2>"$dir/stdio.log" &
stdio_pid=$!
wait_for 60 "$D/hlctl/hlctl" --runtime-dir "$dir" --retries 0 --timeout 100 ping hl-stdio ||
    { cat "$dir/stdio.log"; exit 1; }
"$D/hl-pty/hl-pty" --socket "$dir/stdio-attach.sock" --size 80x24 -- "$TUI" --echo 2>"$dir/pty.log" &
pty_pid=$!
wait_for 20 grep -q "as the agent" "$dir/pty.log" || { cat "$dir/pty.log"; exit 1; }
tmux -L "$tsock" -f /dev/null new-session -d -s echo -x 80 -y 24 "$TUI --echo"
tmux -L "$tsock" set -g status off
dtach -n "$dir/dtach.sock" -r none "$TUI" --echo
wait_for 10 test -S "$dir/dtach.sock"

echo "# keystroke-to-echo latency, µs ($n samples per peer, in 4 interleaved rounds; load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-12s %8s %8s %8s %8s\n' peer p50 p99 max samples
rounds=4 per=$(( (n + 3) / 4 ))
for r in $(seq $rounds); do
    "$ECHO" hl-pty "$per" "$D/hlctl/hlctl" --runtime-dir "$dir" attach --quiet --detach-key none >>"$dir/hl-pty.txt" || exit 1
    "$ECHO" tmux "$per" tmux -L "$tsock" attach -t echo >>"$dir/tmux.txt" || exit 1
    "$ECHO" dtach "$per" dtach -a "$dir/dtach.sock" -E -r none >>"$dir/dtach.txt" || exit 1
    "$ECHO" direct "$per" "$TUI" --echo >>"$dir/direct.txt" || exit 1
done
# The rounds' medians and 99th percentiles: their median, and the worst p99.
for peer in hl-pty tmux dtach direct; do
    f=$dir/$peer.txt
    p50=$(awk '{ print $2 }' "$f" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    p99=$(awk '{ print $3 }' "$f" | sort -n | tail -1)
    mx=$(awk '{ print $4 }' "$f" | sort -n | tail -1)
    cnt=$(awk '{ s += $5 } END { print s }' "$f")
    printf '%-12s %8d %8d %8d %8d\n' "$peer" "$p50" "$p99" "$mx" "$cnt"
done
