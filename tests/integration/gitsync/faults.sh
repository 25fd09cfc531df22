#!/usr/bin/env bash
# hl-git-sync under faults, against real remotes on loopback: stale and held
# index.lock, the agent's rebase in progress, a different remote, an
# unreachable remote (back-off, no crash), a missing upstream branch, a
# force-push upstream, a push that would need forcing (refused, reported),
# a SIGKILL between the new tree and the branch, a corrupt object, a full
# disk, and the token rotated every cycle over HTTP basic auth (git http-backend):
# no failed cycle, the token in no /proc/*/cmdline, log or bus event.
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"; }
trap cleanup EXIT
. "$HL_SOURCE_DIR/tests/integration/gitsync/lib.sh"
GS_INTERVAL=1h
start_git_daemon
make_remote proj
start_bus
ws=$dir/ws
up() { git -C "$dir/up" "$@"; }
w() { git -C "$ws" "$@"; }
field() { gs_json | sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"]*\).*/\1/p"; }
write_config "$url_base/proj.git" "push: true"
start_gs
ok wait_for 30 gs_is synced

# A stale index.lock (its owner is gone): removed, then synced.
: > "$ws/.git/index.lock"
echo a >> "$dir/up/README"; up commit -qam a; up push -q origin main
ok hlctl git sync >/dev/null
ok test ! -e "$ws/.git/index.lock"
ok test "$(field stale_locks_removed)" = 1
ok grep -q "^hello" "$ws/README"
ok test "$(w rev-parse HEAD)" = "$(up rev-parse HEAD)"

# A lock some process holds: waited for, never removed.
sleep 300 3>"$ws/.git/index.lock" &
holder=$!
pids+=($holder)
echo b >> "$dir/up/README"; up commit -qam b; up push -q origin main
hlctl git sync >/dev/null; rc=$?
ok test $rc = 1
ok gs_is waiting
ok test -e "$ws/.git/index.lock"
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git status | grep -q 'index.lock is held by a running process'"
kill "$holder"; wait "$holder" 2>/dev/null
ok wait_for 30 bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git sync >/dev/null"
ok test "$(w rev-parse HEAD)" = "$(up rev-parse HEAD)"

# The agent's rebase in progress: never touched.
mkdir "$ws/.git/rebase-merge"; echo keep > "$ws/.git/rebase-merge/marker"
echo c >> "$dir/up/README"; up commit -qam c; up push -q origin main
hlctl git sync >/dev/null
ok gs_is waiting
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git status | grep -q \"agent's rebase is in progress\""
ok test "$(cat "$ws/.git/rebase-merge/marker")" = keep
rm -rf "$ws/.git/rebase-merge"
ok hlctl git sync >/dev/null
ok test "$(w rev-parse HEAD)" = "$(up rev-parse HEAD)"

# Push: a local commit goes to hl-sync/main, never forced.
echo mine > "$ws/mine.txt"; w add mine.txt; w commit -qm mine
ok hlctl git sync >/dev/null
ok test "$(git -C "$dir/srv/proj.git" rev-parse hl-sync/main)" = "$(w rev-parse HEAD)"
# someone rewrites hl-sync/main: our next push would need forcing, so it is refused
other=$(up commit-tree "$(up rev-parse 'HEAD^{tree}')" -p HEAD -m other)
up push -q -f origin "$other:refs/heads/hl-sync/main"
echo mine2 >> "$ws/mine.txt"; w commit -qam mine2
hlctl git sync >/dev/null; rc=$?
ok test $rc = 2
ok gs_is error
ok test "$(git -C "$dir/srv/proj.git" rev-parse hl-sync/main)" = "$other"
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git status | grep -q 'push refused'"
up push -q origin --delete hl-sync/main
ok hlctl git sync >/dev/null
ok test "$(git -C "$dir/srv/proj.git" rev-parse hl-sync/main)" = "$(w rev-parse HEAD)"

# Force-push upstream: only our commits are carried over, the old head is kept.
old_up=$(up rev-parse HEAD)
up reset -q --hard HEAD~2
echo rewritten > "$dir/up/rewritten.txt"; up add rewritten.txt; up commit -qm rewritten
up push -q -f origin main
ok hlctl git sync >/dev/null
ok test -f "$ws/rewritten.txt"
ok test -f "$ws/mine.txt"
# (mine was pushed: it is merged with the new upstream, never rewritten)
ok w merge-base --is-ancestor "$(up rev-parse HEAD)" HEAD
ok test "$(w show HEAD:mine.txt)" = "$(printf 'mine\nmine2')"
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git log | grep -q 'rewritten (force-push)'"
ok w merge-base --is-ancestor "$old_up" "$(w for-each-ref --format='%(objectname)' refs/hl-sync/snapshots/main/ | tail -1)"
w reset -q --hard origin/main   # the agent drops its commits; nothing ahead now

# A different remote in the workspace: a configuration error, nothing changed.
git init -q --bare "$dir/srv/other.git"
write_config "$url_base/other.git" "push: true"
ok hlctl call hl-git-sync reload >/dev/null
hlctl git sync >/dev/null; rc=$?
ok test $rc = 2
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git status | grep -q 'not repo_url'"
ok test "$(field retryable)" = false
ok test "$(w remote get-url origin)" = "$url_base/proj.git"

# An unreachable remote: a retryable error with back-off; the daemon lives on.
write_config "git://127.0.0.1:1/proj.git" "retry_min: 1s" "retry_max: 4s"
w remote set-url origin git://127.0.0.1:1/proj.git
ok hlctl call hl-git-sync reload >/dev/null
hlctl git sync >/dev/null; rc=$?
ok test $rc = 2
ok test "$(field retryable)" = true
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git status | grep -q 'fetch failed'"
ok wait_for 30 bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' --json git status | grep -q '\"failures\":[3-9]'"
ok kill -0 "$gs_pid"
w remote set-url origin "$url_base/proj.git"
write_config "$url_base/proj.git"
ok hlctl call hl-git-sync reload >/dev/null
ok wait_for 30 bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git sync >/dev/null"

# A missing upstream branch: a clear, non-retried error.
w checkout -q -b feature
w push -q -u origin feature 2>/dev/null
ok hlctl git sync >/dev/null
up push -q origin --delete feature
hlctl git sync >/dev/null; rc=$?
ok test $rc = 2
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git status | grep -q 'has no upstream'"
ok test "$(field retryable)" = false
w checkout -q main
ok hlctl git sync >/dev/null

# A SIGKILL in the middle of an update, made certain: a git that kills
# hl-git-sync right after it wrote the new tree (read-tree -u), before the
# branch moved. The index lock stays, so the agent cannot commit the half;
# the next start finishes the update and keeps the agent's work.
cat > "$dir/killgit" <<EOS
#!/bin/bash
/usr/bin/git "\$@"; rc=\$?
case " \$* " in *" read-tree -m -u "*)
    [ -e "$dir/killed" ] || { : > "$dir/killed"; kill -9 \$PPID; } ;;
esac
exit \$rc
EOS
chmod +x "$dir/killgit"
write_config "$url_base/proj.git" "git: $dir/killgit"
kill "$gs_pid"; wait "$gs_pid" 2>/dev/null
start_gs
ok wait_for 30 gs_is synced
echo "agent, uncommitted" >> "$ws/src/main.c"
echo k > "$dir/up/killed.txt"; up add killed.txt; up commit -qm killed; up push -q origin main
old_head=$(w rev-parse HEAD)
hlctl git sync >/dev/null 2>&1
ok wait_for 30 test -e "$dir/killed"
wait "$gs_pid" 2>/dev/null   # the kill follows the marker at once
ok test -f "$ws/killed.txt"                 # the tree was written...
ok test "$(w rev-parse HEAD)" = "$old_head" # ...the branch not moved
ok test -e "$ws/.git/index.lock"            # and the agent is kept out meanwhile
nok w commit -qam "the agent tries" 2>/dev/null
write_config "$url_base/proj.git"
start_gs
ok wait_for 30 gs_is synced
ok test "$(w rev-parse HEAD)" = "$(up rev-parse HEAD)"
ok test "$(field recoveries)" = 1
ok grep -q "finishing an interrupted sync" "$dir/gs.log"
ok grep -q "agent, uncommitted" "$ws/src/main.c"
ok test ! -e "$ws/.git/index.lock"
ok test "$(w status --porcelain)" = " M src/main.c"
w checkout -q src/main.c

# A corrupt object in the workspace: a clear error, not retried, nothing
# touched; once the object is whole again, syncing goes on.
echo c1 > "$ws/corrupt.txt"; w add corrupt.txt; w commit -qm "agent commit"
obj=$ws/.git/objects/$(w rev-parse HEAD | sed 's|^..|&/|')
cp "$obj" "$dir/obj.saved"
chmod u+w "$obj"; printf 'not zlib at all' > "$obj"
echo c2 > "$dir/up/c2.txt"; up add c2.txt; up commit -qm c2; up push -q origin main
hlctl git sync >/dev/null; rc=$?
ok test $rc = 2
ok gs_is error
ok test "$(field retryable)" = false
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git status | grep -q 'corrupt'"
ok test ! -f "$ws/c2.txt"
ok kill -0 "$gs_pid"
cp "$dir/obj.saved" "$obj"
ok hlctl git sync >/dev/null
ok test -f "$ws/c2.txt"
ok test "$(w log -1 --format=%s)" = "agent commit"
w reset -q --hard origin/main

# A full disk (a 4 MiB tmpfs as the workspace; root only): a retryable
# error with git's message, the tree untouched; synced once there is room.
if [ "$(id -u)" = 0 ] && mkdir -p "$dir/small" && mount -t tmpfs -o size=4m tmpfs "$dir/small"; then
    cleanup_small() { umount -l "$dir/small" 2>/dev/null; }
    trap 'cleanup_small; cleanup' EXIT
    write_config "$url_base/proj.git" "workspace: $dir/small/ws"
    ok hlctl call hl-git-sync reload >/dev/null
    ok hlctl git sync >/dev/null
    ok test -f "$dir/small/ws/README"
    echo "agent's" > "$dir/small/ws/keep.txt"
    dd if=/dev/zero of="$dir/small/filler" bs=64k 2>/dev/null   # until the disk is full
    head -c 1500000 /dev/urandom > "$dir/up/big.bin"; up add big.bin; up commit -qm big; up push -q origin main
    hlctl git sync >/dev/null; rc=$?
    ok test $rc = 2
    ok test "$(field retryable)" = true
    ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git status | grep -qi 'no space left'"
    ok test "$(cat "$dir/small/ws/keep.txt")" = "agent's"
    ok test ! -e "$dir/small/ws/big.bin"
    rm -f "$dir/small/filler"
    ok wait_for 30 bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir/run' git sync >/dev/null"
    ok test -f "$dir/small/ws/big.bin"
    ok test "$(cat "$dir/small/ws/keep.txt")" = "agent's"
    ok kill -0 "$gs_pid"
    write_config "$url_base/proj.git"
    ok hlctl call hl-git-sync reload >/dev/null
else
    echo "# full disk: skipped (needs root to mount a tmpfs)"
fi

# The token rotated every cycle, over HTTP basic auth.
need python3
kill "$gs_pid"; wait "$gs_pid" 2>/dev/null
echo "token-0" > "$dir/accepted"
exec {httpd_fd}< <(exec python3 "$HL_SOURCE_DIR/tests/integration/gitsync/httpd.py" "$dir/srv" "$dir/accepted" "$dir/http.log")
pids+=($!)
read -r _ hport <&$httpd_fd
ok test -n "$hport"
(umask 077; echo "token-0" > "$dir/token")
rm -rf "$ws" "$dir/state"/*
GS_INTERVAL=300ms
write_config "http://127.0.0.1:$hport/proj.git" "token_file: $dir/token" "username: agent"
start_gs
ok wait_for 60 gs_is synced
: > "$dir/cmdlines"
prev_tok=token-0
for i in $(seq 1 20); do
    tok="token-$i-$RANDOM$RANDOM"
    # the daemon's copy first, then the server accepts it (and the one before)
    (umask 077; echo "$tok" > "$dir/token.new"); mv "$dir/token.new" "$dir/token"
    printf '%s\n%s\n' "$tok" "$prev_tok" > "$dir/accepted.new"; mv "$dir/accepted.new" "$dir/accepted"
    prev_tok=$tok
    echo "$tok" >> "$dir/all_tokens"
    end=$((SECONDS + 2))
    while [ $SECONDS -lt $end ]; do
        cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' | grep -o 'token-[0-9]*-[0-9]*' >> "$dir/cmdlines"
        sleep 0.05
    done
    [ $((i % 5)) = 0 ] && { echo "r$i" >> "$dir/up/README"; up commit -qam "r$i"; up push -q origin main; }
done
same_head() { [ "$(w rev-parse HEAD)" = "$(up rev-parse HEAD)" ]; }
ok wait_for 30 same_head
ok test "$(field failures)" = 0
ok grep -q '^ok$' "$dir/http.log"
nok grep -q '^denied$' "$dir/http.log"
ok test "$(grep -c '^ok$' "$dir/http.log")" -ge 20
ok test ! -s "$dir/cmdlines"
nok grep -q -F -f "$dir/all_tokens" "$dir/gs.log"
hlctl sub --count 3 --wait 2000 git. > "$dir/events" 2>&1
nok grep -q -F -f "$dir/all_tokens" "$dir/events"
nok grep -q -F -f "$dir/all_tokens" "$ws/.git/config"
# a rejected token: a clear, non-retried error
echo "nobody-accepts-this" > "$dir/token"
hlctl git sync >/dev/null; rc=$?
ok test $rc = 2
ok test "$(field retryable)" = false
ok kill -0 "$gs_pid"
checks_done
