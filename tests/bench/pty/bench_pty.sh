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
rounds=4 per=$(( (n + 3) / 4 ))
for r in $(seq $rounds); do
    BENCH_PTY_RAW=$dir/hl-pty.raw "$ECHO" hl-pty "$per" "$D/hlctl/hlctl" --runtime-dir "$dir" attach --quiet --detach-key none >>"$dir/hl-pty.txt" || exit 1
    BENCH_PTY_RAW=$dir/tmux.raw "$ECHO" tmux "$per" tmux -L "$tsock" attach -t echo >>"$dir/tmux.txt" || exit 1
    BENCH_PTY_RAW=$dir/dtach.raw "$ECHO" dtach "$per" dtach -a "$dir/dtach.sock" -E -r none >>"$dir/dtach.txt" || exit 1
    BENCH_PTY_RAW=$dir/direct.raw "$ECHO" direct "$per" "$TUI" --echo >>"$dir/direct.txt" || exit 1
done
# Percentiles of every peer's pooled samples (all rounds), and the spread of
# the rounds' own p99s: one unlucky round moves a p99 of a few hundred samples
# by milliseconds on a shared 2-core VM, so the spread says how far to trust it.
pct() { sort -n "$1" | awk -v q="$2" '{ v[NR] = $1 } END { i = int(NR * q); if (i < 1) i = 1; print v[i] }'; }
printf '%-12s %8s %8s %8s %8s   %s\n' peer p50 p99 max samples "rounds' p99 (min..max)"
for peer in hl-pty tmux dtach direct; do
    raw=$dir/$peer.raw
    spread=$(awk '{ print $3 }' "$dir/$peer.txt" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo ".." hi }')
    printf '%-12s %8d %8d %8d %8d   %s\n' "$peer" "$(pct "$raw" 0.5)" "$(pct "$raw" 0.99)" \
        "$(sort -n "$raw" | tail -1)" "$(wc -l <"$raw")" "$spread"
done
