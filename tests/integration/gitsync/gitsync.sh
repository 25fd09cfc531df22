#!/usr/bin/env bash
# hl-git-sync's sync against a real remote (git daemon on loopback): clone,
# fast-forward, local uncommitted work and untracked files kept and saved
# in a snapshot ref, local commits rebased, a true conflict that leaves the
# tree exactly as it was and pauses until `hlctl git resume`, the git.<repo>
# state and events on the bus, hlctl git status|sync|resume|log.
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"; }
trap cleanup EXIT
. "$HL_SOURCE_DIR/tests/integration/gitsync/lib.sh"
GS_INTERVAL=1h   # cycles by `hlctl git sync` only, so each step is deterministic
start_git_daemon
make_remote proj
start_bus
ws=$dir/ws
up() { git -C "$dir/up" "$@"; }
w() { git -C "$ws" "$@"; }

# The documented example validates as shipped.
ok "$GS" --config "$HL_SOURCE_DIR/deploy/config/hl-git-sync.yaml.example" --check-config
ok "$GS" --help
ok "$GS" --version
printf 'hl-git-sync:\n  workspace: %s\n  interval: 5x\n' "$dir/ws" > "$dir/hl.yaml"
out=$("$GS" --config "$dir/hl.yaml" --check-config 2>&1)
ok grep -q "hl.yaml:3: .interval. must be a duration" <<<"$out"
write_config "http://user:secret@example.com/x.git"
out=$("$GS" --config "$dir/hl.yaml" --check-config 2>&1)
ok grep -q "carries a password" <<<"$out"

# Clone (and the state on the bus for late joiners).
write_config "$url_base/proj.git"
start_gs
ok wait_for 30 gs_is synced
ok test -f "$ws/README"
ok test "$(w config pull.rebase)" = true
ok test "$(w config user.email)" = vm@humanlayer.dev
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' sub --count 1 --wait 3000 git.ws | grep -q '\"state\":\"synced\"'"
out=$(hlctl git status); rc=$?
ok test $rc = 0
ok grep -q "state      synced" <<<"$out"
ok grep -q "branch     main -> origin/main, 0 ahead, 0 behind, clean" <<<"$out"

# Upstream moves: fast-forward.
echo two >> "$dir/up/README"; up commit -qam two; up push -q origin main
ok hlctl git sync >/dev/null
ok grep -q two "$ws/README"
ok test "$(w rev-parse HEAD)" = "$(up rev-parse HEAD)"

# Uncommitted edits, a staged new file, an untracked file, upstream changes
# elsewhere: all kept, and saved in a snapshot ref first.
echo "local edit" >> "$ws/src/main.c"
echo staged > "$ws/staged.txt"; w add staged.txt
echo untracked > "$ws/notes.txt"
echo ignored > "$ws/build.o"; echo '*.o' > "$ws/.gitignore"
echo three > "$dir/up/other.txt"; up add other.txt; up commit -qm three; up push -q origin main
ok hlctl git sync >/dev/null
ok test -f "$ws/other.txt"
ok grep -q "local edit" "$ws/src/main.c"
ok test "$(cat "$ws/staged.txt")" = staged
ok test "$(cat "$ws/notes.txt")" = untracked
ok test "$(cat "$ws/build.o")" = ignored
ok test "$(w rev-parse HEAD)" = "$(up rev-parse HEAD)"
snap=$(w for-each-ref --format='%(refname)' refs/hl-sync/snapshots/main/ | tail -1)
ok test -n "$snap"
ok test "$(w show "$snap:notes.txt")" = untracked
ok test "$(w show "$snap:staged.txt")" = staged
nok w cat-file -e "$snap:build.o"
ok bash -c "git -C '$ws' show '$snap:src/main.c' | grep -q 'local edit'"
ok test "$(gs_json | grep -o '"dirty":true')" = '"dirty":true'

# Local commits are rebased onto the upstream (authors and messages kept).
w add -A; GIT_AUTHOR_NAME=agent GIT_AUTHOR_EMAIL=agent@x w commit -qm "agent work"
echo four > "$dir/up/four.txt"; up add four.txt; up commit -qm four; up push -q origin main
ok hlctl git sync >/dev/null
ok test -f "$ws/four.txt"
ok test "$(w log -1 --format=%s)" = "agent work"
ok test "$(w log -1 --format=%an)" = agent
ok test "$(w rev-parse HEAD~1)" = "$(up rev-parse HEAD)"
out=$(hlctl git status)
ok grep -q "1 ahead, 0 behind" <<<"$out"

# A true conflict: the tree stays exactly as it was, the branch pauses.
echo "agent line" > "$ws/README"
echo "upstream line" > "$dir/up/README"; up commit -qam "upstream readme"; up push -q origin main
before_head=$(w rev-parse HEAD)
before_sum=$(cd "$ws" && find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)
hlctl git sync >/dev/null; rc=$?
ok test $rc = 1
ok gs_is conflict
ok test "$(w rev-parse HEAD)" = "$before_head"
after_sum=$(cd "$ws" && find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)
ok test "$before_sum" = "$after_sum"
ok test -z "$(w ls-files -u)"
nok test -d "$ws/.git/rebase-merge"
out=$(hlctl git status)
ok grep -q "conflict   README" <<<"$out"
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' sub --count 1 --wait 3000 git.ws.conflict | grep -q README"
# Still paused on the next cycle, and after a restart.
hlctl git sync >/dev/null
ok gs_is conflict
kill "$gs_pid"; wait "$gs_pid" 2>/dev/null
start_gs
ok wait_for 30 gs_is conflict
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git status | grep -q 'conflict   README'"
# The agent gives up its line; resume syncs again.
w checkout -q README
out=$(hlctl git resume); rc=$?
ok test $rc = 0
ok grep -q "resumed" <<<"$out"
ok wait_for 30 gs_is synced
ok test "$(cat "$ws/README")" = "upstream line"
out=$(hlctl git resume 2>&1); rc=$?
ok test $rc = 2
ok grep -q "not paused" <<<"$out"
# A conflict the agent resolves itself (merging the upstream) unpauses on its own.
echo "agent again" > "$ws/README"; w commit -qam "agent readme"
echo "upstream again" > "$dir/up/README"; up commit -qam "upstream again"; up push -q origin main
hlctl git sync >/dev/null
ok gs_is conflict
w pull -q --no-rebase -X ours origin main 2>/dev/null || { w checkout -q --ours README; w commit -qam merged; }
ok hlctl git sync >/dev/null
ok gs_is synced

# log: the events and the snapshots.
out=$(hlctl git log)
ok grep -q "conflict" <<<"$out"
ok grep -q "^snapshot refs/hl-sync/snapshots/main/" <<<"$out"
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' --json git log | grep -q '\"kind\":\"synced\"'"
ok kill -0 "$gs_pid"
checks_done
