#!/usr/bin/env bash
# The real Claude Code CLI (`claude`, npm @anthropic-ai/claude-code) on
# hl-pty, when it is installed: it draws its screen at the size of the
# person's window (120x40 here, where socat's pty gave it 80 columns), a
# resize redraws it, and a late joiner's first screen is the live one.
# Skipped, and said so, without it (CI has no claude).
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
need tmux
command -v claude >/dev/null 2>&1 ||
    skip "the Claude Code CLI (claude) is not installed: npm install -g @anthropic-ai/claude-code"
B=${HL_BUILD_DIR:?}
D=$B/daemons
dir=$(mktemp -d)
chmod 755 "$dir"
tsock=hlptyc-$$
stdio_pid= pty_pid=
T() { tmux -L "$tsock" "$@"; }
cleanup() {
    T kill-server 2>/dev/null
    for p in $pty_pid $stdio_pid; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
cap() { T capture-pane -p -t "$1"; }
same() { [ "$(cap "$1")" = "$(cap "$2")" ]; }
widest() { cap "$1" | awk '{ sub(/ +$/, ""); if (length > w) w = length } END { print w + 0 }'; }
mkdir -p "$dir/etc" "$dir/work"
printf 'hl-stdio:\n  group: %s\n  recording: {dir: ""}\n' "$(id -gn)" > "$dir/etc/hl.yaml"
"$D/hl-stdio/hl-stdio" --config "$dir/etc/hl.yaml" --runtime-dir "$dir" 2>"$dir/stdio.log" &
stdio_pid=$!
wait_for 60 "$D/hlctl/hlctl" --runtime-dir "$dir" --retries 0 --timeout 100 ping hl-stdio
"$D/hl-pty/hl-pty" --socket "$dir/stdio-attach.sock" --chdir "$dir/work" -- claude 2>"$dir/pty.log" &
pty_pid=$!
T -f /dev/null new-session -d -s a -x 120 -y 40 "$D/hlctl/hlctl --runtime-dir $dir attach --quiet"
T set -g status off
# Whatever it shows first (a login or trust prompt without credentials), it
# draws it for 120 columns once it knows the size.
ok wait_for 60 bash -c "[ \$(tmux -L $tsock capture-pane -p -t a | grep -c .) -gt 2 ]"
T new-session -d -s late -x 120 -y 40 "$D/hlctl/hlctl --runtime-dir $dir attach --quiet --watch"
ok wait_for 20 same late a
T resize-window -t a -x 100 -y 30
ok wait_for 20 bash -c "[ \$(tmux -L $tsock capture-pane -p -t a | awk '{ sub(/ +\$/, \"\"); if (length > w) w = length } END { print w + 0 }') -le 100 ]"
ok kill -0 "$pty_pid"
checks_done integration_pty_claude
