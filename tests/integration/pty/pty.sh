#!/usr/bin/env bash
# hl-pty, the agent's terminal host, end to end on one machine: a real
# full-screen program (hl-tui) on hl-pty, joined to hl-stdio's channel,
# watched and driven through `hlctl attach` inside tmux. What a person sees
# is compared with the same program run directly in a tmux pane of the same
# size (capture-pane), after typing, after a resize, for a late joiner, and
# after hl-stdio is killed with SIGKILL; the recording replays with
# `asciinema cat` to the same final screen. Bad input: absurd sizes, a
# resize flood, a client dying mid-frame. The program's exit status is
# hl-pty's.
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
need tmux python3 asciinema
B=${HL_BUILD_DIR:?}
D=$B/daemons
TUI=${1:?usage: pty.sh HL_TUI}
dir=$(mktemp -d)
chmod 755 "$dir"
tsock=hlpty-$$
bus_pid= stdio_pid= pty_pid= sub_pid=
T() { tmux -L "$tsock" "$@"; }
cleanup() {
    T kill-server 2>/dev/null
    for p in $sub_pid $pty_pid $stdio_pid $bus_pid; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
dump() {
    echo "--- hl-stdio log:" >&2; tail -30 "$dir/stdio.log" >&2
    echo "--- hl-pty log:" >&2; cat "$dir/pty.log" >&2
}
hlctl() { "$D/hlctl/hlctl" --runtime-dir "$dir" "$@"; }
ATTACH="$D/hlctl/hlctl --runtime-dir $dir attach --quiet"
cap() { T capture-pane -p -t "$1"; }
same() { [ "$(cap "$1")" = "$(cap "$2")" ]; }
count_is() { [ "$(grep -c -- "$1" "$2")" = "$3" ]; }
shows() { cap "$1" | grep -qF -- "$2"; }
show_diff() { diff <(cap "$1") <(cap "$2") >&2; }

# ---------------------------------------------------------------- usage
echo "== usage" >&2
ok "$D/hl-pty/hl-pty" --help >/dev/null
ok grep -q "^hl-pty " <("$D/hl-pty/hl-pty" --version)
ok rc_is 64 "$D/hl-pty/hl-pty"
ok rc_is 64 "$D/hl-pty/hl-pty" --size 0x0 -- true
ok rc_is 64 "$D/hl-pty/hl-pty" --size 65535x65535 -- true
ok rc_is 64 "$D/hl-pty/hl-pty" --channel 'No!' -- true

# ---------------------------------------------------------------- start
echo "== start" >&2
mkdir -p "$dir/etc"
cat > "$dir/etc/hl.yaml" <<Y
hl-stdio:
  group: $(id -gn)
  recording: {dir: $dir/sessions, input: true}
Y
"$D/hl-bus/hl-bus" --config "$dir/etc/hl.yaml" --runtime-dir "$dir" 2>"$dir/bus.log" &
bus_pid=$!
start_stdio() {
    "$D/hl-stdio/hl-stdio" --config "$dir/etc/hl.yaml" --runtime-dir "$dir" 2>>"$dir/stdio.log" &
    stdio_pid=$!
    wait_for 60 hlctl --retries 0 --timeout 100 ping hl-stdio
}
start_stdio
wait_for 60 hlctl --retries 0 --timeout 100 ping hl-bus
"$D/hlctl/hlctl" --runtime-dir "$dir" sub stdio. > "$dir/events.json" 2>/dev/null &
sub_pid=$!

"$D/hl-pty/hl-pty" --socket "$dir/stdio-attach.sock" -- "$TUI" 2>"$dir/pty.log" &
pty_pid=$!
ok wait_for 20 grep -q "as the agent" "$dir/pty.log"

# One tmux server, no status line: a session of -x C -y R is a C x R pane.
T -f /dev/null new-session -d -s init -x 80 -y 24 "sleep 600"
T set -g status off
T set -g remain-on-exit off

# ---------------------------------------------------------------- the screen
echo "== the screen" >&2
# Through hlctl attach (100x30), and the program run directly (100x30).
T new-session -d -s a -x 100 -y 30 "$ATTACH"
T new-session -d -s direct -x 100 -y 30 "$TUI"
ok wait_for 20 shows a "hl-tui 100x30"
ok wait_for 20 shows direct "hl-tui 100x30"
T send-keys -t a "hello world"
T send-keys -t direct "hello world"
ok wait_for 20 shows a "count: 11"
ok wait_for 20 shows direct "count: 11"
ok wait_for 10 same a direct || show_diff a direct

# ---------------------------------------------------------------- resize
echo "== resize" >&2
T resize-window -t a -x 120 -y 40
T resize-window -t direct -x 120 -y 40
ok wait_for 20 shows a "hl-tui 120x40"
ok wait_for 20 shows direct "hl-tui 120x40"
ok wait_for 10 same a direct || show_diff a direct
ok wait_for 10 grep -Eq '"topic":"stdio.main.resize".*"cols":120' "$dir/events.json"

# ---------------------------------------------------------------- late joiner
echo "== late joiner" >&2
# A watcher's first screen is the live one; a watcher never resizes, even
# in a smaller window.
T new-session -d -s late -x 120 -y 40 "$ATTACH --watch"
ok wait_for 20 same late a || show_diff late a
resizes=$(grep -c "window [0-9]*x[0-9]*, the size" "$dir/stdio.log")
T new-session -d -s small -x 60 -y 20 "$ATTACH --watch"
ok wait_for 20 count_is "attached read-only" "$dir/stdio.log" 2
T send-keys -t a "!"
T send-keys -t direct "!"
ok wait_for 20 shows a "count: 12"
ok wait_for 10 same a direct || show_diff a direct
ok wait_for 10 same late a || show_diff late a
ok test "$(grep -c "window [0-9]*x[0-9]*, the size" "$dir/stdio.log")" = "$resizes"
T kill-session -t small

# "latest": another read-write client's window applies while it is the
# most recently active one; typing in the first makes it the latest again.
T new-session -d -s b -x 90 -y 25 "$ATTACH"
ok wait_for 20 shows b "hl-tui 90x25"
T send-keys -t a "?"
T send-keys -t direct "?"
ok wait_for 20 shows a "hl-tui 120x40"
ok wait_for 20 shows a "count: 13"
T kill-session -t b

# ---------------------------------------------------------------- bad input
echo "== bad input" >&2
# Absurd sizes (in the hello and in frames), a flood of resizes, and a
# client that dies in the middle of a frame: each bounded and logged, and
# the agent's screen is still the live one.
python3 - "$dir/stdio-attach.sock" <<'PY'
import socket, struct, sys
def conn(hello):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)  # a relay that never answers fails the test, not hangs it
    s.connect(sys.argv[1])
    s.sendall(hello)
    return s
def W(c, r): return b"W\0\0\0" + struct.pack(">I", 4) + struct.pack(">Q", 0) + struct.pack(">HH", c, r)
s = conn(b"hl-stdio/1 attach main framed-input size=0x0\n")
s.sendall(W(65535, 65535) + W(0, 0))
# A flood: 5000 sizes, alternating.
s.sendall(b"".join(W(70 + i % 2, 20) for i in range(5000)))
s.close()
s = conn(b"hl-stdio/1 attach main framed-input size=80x24\n")
s.sendall(b"D\0\0\0\0\0\0\x10")  # half a header, then gone
s.close()
s = conn(b"hl-stdio/1 attach main framed-input\n")
s.sendall(b"Z" + b"\0" * 15)     # an unknown frame type
s.recv(4096)
s.close()
PY
ok wait_for 10 grep -q "sent the window size 0x0 .*ignored" "$dir/stdio.log"
ok wait_for 10 grep -q "sent a bad frame" "$dir/stdio.log"
ok hlctl ping hl-stdio
# 5000 sizes in a few ms: applied at most every 20 ms, not 5000 times.
flood=$(grep -c "window 7[01]x20, the size" "$dir/stdio.log")
ok test "$flood" -lt 100
T send-keys -t a "."
T send-keys -t direct "."
ok wait_for 20 shows a "hl-tui 120x40"
ok wait_for 20 shows a "count: 14"
ok wait_for 20 shows direct "count: 14"
ok wait_for 10 same a direct || show_diff a direct

# ---------------------------------------------------------------- relay killed
echo "== relay killed" >&2
cap a > "$dir/before.txt"
kill -9 "$stdio_pid"
wait "$stdio_pid" 2>/dev/null
ok wait_for 10 grep -q "lost the relay" "$dir/pty.log"
ok kill -0 "$pty_pid"
start_stdio
ok wait_for 20 count_is "as the agent" "$dir/pty.log" 2
T kill-session -t a 2>/dev/null
T kill-session -t late 2>/dev/null
T new-session -d -s a -x 120 -y 40 "$ATTACH"
ok wait_for 20 shows a "hl-tui 120x40"
ok wait_for 10 bash -c "diff <(tmux -L '$tsock' capture-pane -p -t a) '$dir/before.txt'"
T send-keys -t a "k"
T send-keys -t direct "k"
ok wait_for 20 shows a "count: 15"
ok wait_for 20 shows direct "count: 15"
ok wait_for 10 same a direct || show_diff a direct

# ---------------------------------------------------------------- recording
echo "== recording" >&2
# The newest recording (this stream's) replays to the final screen.
ok wait_for 10 grep -Eq '"topic":"stdio.main.recording".*"state":"started"' "$dir/events.json"
cast=$(ls -t "$dir"/sessions/*.cast | head -1)
ok test -n "$cast"
ok python3 -c 'import json,sys; l=open(sys.argv[1]).readlines(); h=json.loads(l[0]); assert h["version"]==2; [json.loads(x) for x in l[1:]]' "$cast"
ok grep -q '"i", "k"' "$cast"
T new-session -d -s replay -x 120 -y 40 "asciinema cat '$cast'; sleep 600"
ok wait_for 20 same replay a || show_diff replay a
ok test "$(stat -c %a "$cast")" = 640
out=$(hlctl sessions --dir "$dir/sessions")
ok grep -qF "$(basename "$cast")" <<<"$out"

# ---------------------------------------------------------------- the terminal restored
echo "== the terminal restored" >&2
# hlctl attach puts the terminal in raw mode and restores it on every way
# out: the detach key, SIGTERM, and hl-stdio going away.
restored() { [ -s "$dir/stty.$1" ] && [ "$(cat "$dir/stty.$1")" = "$(cat "$dir/stty.before")" ]; }
for how in detach term; do
    T new-session -d -s "raw-$how" -x 120 -y 40 \
        "stty -g > $dir/stty.before; $ATTACH --watch; stty -g > $dir/stty.$how; sleep 600"
    ok wait_for 20 shows "raw-$how" "hl-tui 120x40"
    if [ $how = detach ]; then
        T send-keys -t "raw-$how" C-]
    else
        shell=$(T list-panes -t "raw-$how" -F '#{pane_pid}')
        kill -TERM "$(pgrep -P "$shell" hlctl)"
    fi
    ok wait_for 20 restored $how
    T kill-session -t "raw-$how"
done

# ---------------------------------------------------------------- exit status
echo "== exit status" >&2
# The program's end is hl-pty's: its exit status, or the signal that killed
# it (so that systemd sees "code=killed, status=6/ABRT"). With no relay at
# all: the program runs regardless.
ok rc_is 3 "$D/hl-pty/hl-pty" --socket "$dir/nowhere.sock" -- sh -c 'exit 3'
ok python3 -c 'import subprocess, sys
p = subprocess.run(sys.argv[1:], stderr=subprocess.DEVNULL)
sys.exit(0 if p.returncode == -6 else 1)' "$D/hl-pty/hl-pty" --socket "$dir/nowhere.sock" -- sh -c 'kill -ABRT $$'
# And through the session: the person quits the program (x: exit 3).
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1")" = Z ]; }
tries=0
until gone "$pty_pid" || [ $tries = 5 ]; do
    T send-keys -t a "x"
    tries=$((tries + 1))
    wait_for 5 gone "$pty_pid"
done
[ $tries -gt 1 ] && echo "note: the quit key was sent $tries times" >&2
if gone "$pty_pid"; then
    wait "$pty_pid"
    rc=$?
else
    fail_check "hl-pty did not end with its program"
    cap a >&2
    kill -9 "$pty_pid"
    rc=none
fi
pty_pid=
ok test "$rc" = 3
ok grep -q "ended (exit 3)" "$dir/pty.log"

[ "$fail" = 0 ] || dump
checks_done integration_pty
