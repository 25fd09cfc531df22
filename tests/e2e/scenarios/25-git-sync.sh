#!/usr/bin/env bash
# hl-git-sync under a real systemd: in phase 2 it clones the workspace from a
# git daemon in the container (READY=1 after the clone), as hluser, running
# as its own user with only CAP_SETUID/CAP_SETGID; `hlctl git status` shows
# the repository synced, and an upstream push reaches the workspace.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-git-sync.service e2e-gitd.service

e2e_ok e2e_wait_unit_active hl-git-sync.service 60
pid=$(e2e_main_pid hl-git-sync.service)
e2e_ok test "$(e2e_exec ps -o user= -p "$pid")" = hl-git-sync
e2e_ok test "$(e2e_proc_status "$pid" NoNewPrivs)" = 1
# CAP_SETUID (7) and CAP_SETGID (6), nothing else
e2e_ok test "$(e2e_proc_status "$pid" CapEff)" = 00000000000000c0

# The clone, owned by the workspace's owner, done before the unit was ready
# (and so inside its phase, which waits for its members).
e2e_ok e2e_exec test -f /home/hluser/workspace/README
e2e_ok test "$(e2e_exec stat -c %U /home/hluser/workspace/.git/HEAD)" = hluser
e2e_ok test "$(e2e_exec git config --file /home/hluser/workspace/.git/config pull.rebase)" = true
cloned=$(e2e_exec journalctl -u hl-git-sync.service -o short-monotonic --no-pager |
  sed -n 's/^\[ *\([0-9.]*\)\].*cloned git:.*/\1/p' | head -1)
ready=$(e2e_prop hl-git-sync.service ActiveEnterTimestampMonotonic)
echo "  cloned at ${cloned}s, ready at $((ready / 1000000)).$((ready % 1000000))s (monotonic)"
e2e_ok test -n "$cloned"
e2e_ok awk -v c="$cloned" -v r="$ready" 'BEGIN { exit !(c * 1000000 <= r) }'
phases=$(e2e_hlctl phases)
e2e_ok grep -Eq 'hl-git-sync.service' <<<"$phases"

out=$(e2e_hlctl git status); rc=$?
echo "$out" | sed 's/^/  /'
e2e_ok test $rc = 0
e2e_ok grep -q "^state      synced" <<<"$out"
e2e_ok grep -q "^remote     git://127.0.0.1:9418/workspace.git" <<<"$out"
e2e_ok grep -q "branch     main -> origin/main" <<<"$out"

# An upstream push reaches the workspace at the next sync.
e2e_sh 'cd /tmp && rm -rf e2e-up && git clone -q git://127.0.0.1:9418/workspace.git e2e-up &&
  cd e2e-up && echo pushed > pushed.txt && git add pushed.txt &&
  git -c user.name=e2e -c user.email=e2e@x commit -qm pushed && git push -q origin main'
e2e_ok e2e_hlctl git sync >/dev/null
e2e_ok test "$(e2e_exec cat /home/hluser/workspace/pushed.txt)" = pushed
e2e_ok test "$(e2e_exec stat -c %U /home/hluser/workspace/pushed.txt)" = hluser

json=$(e2e_hlctl --json git status)
e2e_ok jq -e '.state == "synced" and .updates >= 1 and .cloned' <<<"$json"

# hl-metrics exports the state (git.workspace on the bus) for Prometheus.
git_metric() { e2e_exec curl -fsS http://127.0.0.1:8081/metrics | grep -qx "$1"; }
e2e_ok wait_for 30 git_metric 'hl_git_synced{repo="workspace"} 1'
e2e_ok wait_for 30 git_metric 'hl_git_cloned{repo="workspace"} 1'
