#!/usr/bin/env bash
# The agent's terminal under a real systemd: claude-code.service's main
# process is hl-pty (as hluser), the stand-in CLI runs on its pseudo-terminal
# as a session leader, and a person attaches with `hlctl attach` inside
# tmux: the stand-in draws its screen at the person's window size, redraws
# after a resize, a late joiner's first screen is the live one, kill -9 of
# hl-stdio leaves hl-pty and the CLI running (same PIDs) and the screen
# comes back, and the session's recording under /var/log/hl/sessions
# replays with `asciinema cat` to the same final screen.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario claude-code.service hl-stdio.service

if ! e2e_sh 'command -v tmux && command -v asciinema' >/dev/null 2>&1; then
  echo "!!! SKIPPED: tmux or asciinema is not installed on the host (scripts/install-deps.sh installs them)"
  trap - EXIT
  exit 77
fi
HLCTL=$E2E_BINDIR/hlctl
ATTACH="$HLCTL attach --quiet"
T() { e2e_exec tmux -L e2e-pty "$@"; }
cap() { T capture-pane -p -t "$1"; }
shows() { cap "$1" | grep -qF -- "$2"; }
same() { [ "$(cap "$1")" = "$(cap "$2")" ]; }

e2e_ok e2e_wait_unit_active claude-code.service
e2e_ok e2e_wait_unit_active hl-stdio.service
pty=$(e2e_main_pid claude-code.service)
e2e_ok test "$(e2e_exec cat /proc/"$pty"/comm)" = hl-pty
e2e_ok test "$(e2e_exec ps -o user= -p "$pty")" = hluser
cli=$(e2e_exec ps -o pid= --ppid "$pty" | tr -d ' ' | head -1)
e2e_ok test -n "$cli"
# The CLI leads its own session on a terminal of its own.
e2e_ok test "$(e2e_exec ps -o sid= -p "$cli" | tr -d ' ')" = "$cli"
e2e_ok e2e_sh "readlink /proc/$cli/fd/0 | grep -q '^/dev/pts/'"
e2e_ok e2e_wait_journal claude-code.service "hl-pty: joined channel main" 30

T kill-server 2>/dev/null # left by an earlier run that failed
# tmux without a status line: a -x C -y R session is a C x R window.
T -f /dev/null new-session -d -s init -x 80 -y 24 "sleep 600"
T set -g status off
T new-session -d -s a -x 110 -y 35 "$ATTACH"
e2e_ok wait_for 20 shows a "stand-in (pid $cli) 110x35"
T send-keys -t a "hello-terminal" Enter
e2e_ok wait_for 20 shows a "claude-code: echo hello-terminal"

# A resize: the CLI is told (SIGWINCH) and draws at the new size.
T resize-window -t a -x 90 -y 25
e2e_ok wait_for 20 shows a "stand-in (pid $cli) 90x25"
e2e_ok e2e_wait_journal hl-stdio.service "main: window 90x25" 10

# A late joiner, read-only: its first screen is the live one.
T new-session -d -s late -x 90 -y 25 "$ATTACH --watch"
e2e_ok wait_for 20 same late a

# kill -9 of the relay: hl-pty and the CLI go on; the screen comes back.
spid=$(e2e_main_pid hl-stdio.service)
cap a >"$E2E_DIR/pty-before.txt"
e2e_ok e2e_kill9 hl-stdio.service
e2e_ok test -n "$(e2e_wait_restarted hl-stdio.service "$spid" 30)"
e2e_ok test "$(e2e_main_pid claude-code.service)" = "$pty"
e2e_ok e2e_exec kill -0 "$cli"
e2e_ok e2e_wait_journal claude-code.service "hl-pty: lost the relay" 10
T kill-session -t a 2>/dev/null
T kill-session -t late 2>/dev/null
T new-session -d -s a -x 90 -y 25 "$ATTACH"
e2e_ok wait_for 30 shows a "stand-in (pid $cli) 90x25"
same_as_before() { [ "$(cap a)" = "$(cat "$E2E_DIR/pty-before.txt")" ]; }
e2e_ok wait_for 10 same_as_before
T send-keys -t a "after-kill" Enter
e2e_ok wait_for 20 shows a "claude-code: echo after-kill"

# The recording of this stream replays to the same final screen; the
# sessions are listed.
e2e_ok e2e_exec test -d /var/log/hl/sessions
cast=$(e2e_exec bash -c 'ls -t /var/log/hl/sessions/*.cast | head -1')
e2e_ok test -n "$cast"
e2e_ok test "$(e2e_exec stat -c '%U %a' "$cast")" = "hl-stdio 640"
T new-session -d -s replay -x 90 -y 25 "asciinema cat '$cast'; sleep 600"
e2e_ok wait_for 20 same replay a
e2e_ok e2e_sh "'$HLCTL' sessions | grep -qF '$(basename "$cast")'"
T kill-server
