#!/usr/bin/env bash
# The no-loss test of hl-git-sync (#14). Two writers work at once: the
# agent in the workspace (appends, new files, renames, deletes, commits)
# and a colleague upstream (the same, pushed to the bare repository that
# `git daemon` serves on loopback). Meanwhile a chaos loop SIGKILLs
# hl-git-sync at random points -- while a chosen git step of it runs
# (fetch, add, merge-tree, read-tree, update-ref, push) or at any moment --
# and plants stale index.lock files.
#
# Every write adds a line with a unique token ("L-17", "U-4") and is logged;
# a file is deleted only after the writer committed it (a person's delete is
# not a loss). Afterwards every token ever written must be reachable from
# some ref (of the workspace or the remote: git rev-list --objects --all) or
# be in the working tree. The only manual steps allowed are true conflicts:
# each conflict hl-git-sync reports must name only shared/ files, the ones
# both writers edit. After every restart the first cycle that is not
# waiting for another git process must sync (no failed cycle); the time it
# took is printed, not asserted.
#
# Size: NOLOSS_OPS edits per writer (1000 by default, 250 with CI=true).
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
dir=$(mktemp -d)
pids=()
cleanup() {
    [ -f "$dir/gs.pid" ] && kill -9 "$(cat "$dir/gs.pid")" 2>/dev/null
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    pkill -9 -P $$ 2>/dev/null
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
. "$HL_SOURCE_DIR/tests/integration/gitsync/lib.sh"
OPS=${NOLOSS_OPS:-$([ "${CI:-}" = true ] && echo 250 || echo 1000)}
GS_INTERVAL=1s
start_git_daemon
make_remote proj
start_bus
ws=$dir/ws
write_config "$url_base/proj.git" "push: true" "keep_snapshots: 100000"
start_gs
wait_for 60 gs_is synced || { echo "no first sync" >&2; cat "$dir/gs.log"; exit 1; }
mkdir -p "$ws/local" "$ws/shared" "$dir/up/upstream" "$dir/up/shared"
echo "$gs_pid" > "$dir/gs.pid"

# A git command of a writer, retried while a lock (planted or real) is in
# its way, as a person would; gives up after 60 s.
wgit() {
    local i out
    for i in $(seq 600); do
        out=$(git "$@" 2>&1) && return 0
        case $out in
            *lock*|*"cannot lock"*|*"Unable to create"*|*"unable to write"*|*"not uptodate"*|*"Could not"*|*"Another git process"*|*"failed to push"*|*"rejected"*|*"fetch first"*)
                sleep 0.1 ;;
            *) echo "writer: git $*: $out" >&2; return 1 ;;
        esac
        # a rejected push: the colleague pulls first
        case $out in *rejected*|*"fetch first"*|*"failed to push"*)
            git -C "$dir/up" pull -q --no-rebase --no-edit origin main >/dev/null 2>&1 ||
                resolve_union "$dir/up" ;;
        esac
    done
    echo "writer: git $* still failing after 60 s: $out" >&2
    return 1
}

# A true conflict, resolved as a person would: both sides' lines kept.
resolve_union() {
    local repo=$1 f
    for f in $(git -C "$repo" diff --name-only --diff-filter=U); do
        # (a rename or delete on one side: no file, git add -A takes the side that has one)
        [ -f "$repo/$f" ] && sed -i '/^<<<<<<< \|^=======$\|^>>>>>>> /d' "$repo/$f"
    done
    wgit -C "$repo" add -A && wgit -C "$repo" commit -q --no-edit
}

# writer SIDE REPO DIR N: N random operations, each logged.
writer() {
    local side=$1 repo=$2 own=$3 n=$4 i op f t=0
    local log=$dir/$side.log tok=L
    [ "$side" = upstream ] && tok=U
    for i in $(seq "$n"); do
        op=$((RANDOM % 100))
        if [ $op -lt 55 ]; then          # append to one of our files
            f=$own/f$((RANDOM % 12)).txt
        elif [ $op -lt 70 ]; then        # append to a shared file (conflicts)
            f=shared/s$((RANDOM % 3)).txt
        elif [ $op -lt 80 ]; then        # rename one of ours
            f=$(cd "$repo" && ls $own/*.txt 2>/dev/null | shuf -n1)
            if [ -n "$f" ]; then
                mv "$repo/$f" "$repo/$own/r$i.txt"
                echo "mv $f $own/r$i.txt" >> "$log"
            fi
            continue
        elif [ $op -lt 85 ]; then        # delete one of ours, after committing it
            f=$(cd "$repo" && ls $own/*.txt 2>/dev/null | shuf -n1)
            if [ -n "$f" ]; then
                wgit -C "$repo" add -A && wgit -C "$repo" commit -qm "before deleting $f" --allow-empty
                rm -f "$repo/$f"
                echo "rm $f" >> "$log"
            fi
            continue
        else                             # commit (and, upstream, push)
            wgit -C "$repo" add -A && wgit -C "$repo" commit -qm "$side commit $i" --allow-empty
            [ "$side" = upstream ] && wgit -C "$repo" push -q origin main
            continue
        fi
        t=$((t + 1))
        echo "$tok-$i" >> "$repo/$f"
        echo "write $tok-$i $f" >> "$log"
        # now and then the agent looks at hl-git-sync: a conflict is its manual step
        if [ "$side" = local ] && [ $((i % 10)) = 0 ]; then
            local_conflict_check
        fi
        sleep "0.$((RANDOM % 20 / 10))$((RANDOM % 10))"
    done
    if [ "$side" = upstream ]; then
        wgit -C "$repo" add -A && wgit -C "$repo" commit -qm "upstream final" --allow-empty
        wgit -C "$repo" push -q origin main
    fi
    echo done > "$dir/$side.done"
}

# The agent's manual step for a conflict: commit, merge the upstream keeping
# both sides' lines, resume. Every conflict reported must be a true one.
local_conflict_check() {
    local st files
    st=$(gs_json) || return 0
    case $st in *'"state":"conflict"'*) ;; *) return 0 ;; esac
    files=$(sed -n 's/.*"conflict_files":\[\([^]]*\)\].*/\1/p' <<<"$st" | tr -d '"' | tr , ' ')
    echo "conflict: $files" >> "$dir/conflicts.log"
    for f in $files; do
        case $f in shared/*) ;; *) echo "NOT A TRUE CONFLICT: $f" >> "$dir/conflicts.log" ;; esac
    done
    wgit -C "$ws" add -A && wgit -C "$ws" commit -qm "agent: before resolving" --allow-empty
    wgit -C "$ws" fetch -q origin
    local out i
    for i in $(seq 100); do
        out=$(git -C "$ws" merge -q --no-edit origin/main 2>&1) && break
        # a merge that got to its conflicts: resolved
        if [ -n "$(git -C "$ws" ls-files -u)" ]; then resolve_union "$ws"; break; fi
        # a lock (planted, or hl-git-sync's) stopped it half way, with part
        # of the tree written and no index: committing that would revert
        # upstream's changes. Undone all the way instead; everything of
        # ours was committed just above, so the tree goes back to HEAD.
        echo "merge attempt $i: $out" >> "$dir/merge.log"
        wgit -C "$ws" reset -q --hard HEAD && wgit -C "$ws" clean -fdq
        sleep 0.1
    done
    if git -C "$ws" grep -q -e '^<<<<<<< ' -e '^>>>>>>> ' HEAD -- 2>/dev/null; then
        echo "conflict markers committed after resolving: $files" >> "$dir/merge.log"
    fi
    hlctl git resume >/dev/null 2>&1
    echo x >> "$dir/manual_steps"
}

# The chaos: SIGKILL hl-git-sync at random points, restart it, plant locks.
chaos() {
    local k=0 target t0 t1 child
    local targets=(fetch add merge-tree read-tree update-ref push commit-tree any any)
    while [ ! -f "$dir/local.done" ] || [ ! -f "$dir/upstream.done" ]; do
        sleep 0.$((RANDOM % 5 + 2))
        if [ $((RANDOM % 4)) = 0 ]; then
            # a stale lock: no process holds it
            (set -o noclobber; : > "$ws/.git/index.lock") 2>/dev/null && echo plant >> "$dir/locks.log"
            continue
        fi
        target=${targets[$((RANDOM % ${#targets[@]}))]}
        local pid
        pid=$(cat "$dir/gs.pid")
        if [ "$target" != any ]; then
            # wait (up to 2 s) for that step to run as a child of hl-git-sync
            # (read from /proc without forking, to catch steps of a few ms)
            child=0
            local end=$((SECONDS + 2)) kids kid args
            while [ $SECONDS -lt $end ] && [ "$child" = 0 ]; do
                kids=
                read -r kids < "/proc/$pid/task/$pid/children" 2>/dev/null
                for kid in $kids; do
                    mapfile -d '' args < "/proc/$kid/cmdline" 2>/dev/null
                    case " ${args[*]} " in *" $target "*) child=1 ;; esac
                done
            done
        fi
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        k=$((k + 1))
        echo "kill $k during $target (child seen: ${child:-?})" >> "$dir/kills.log"
        t0=$(date +%s%N)
        start_gs
        echo "$gs_pid" > "$dir/gs.pid"
        # the first cycle after the restart that is not waiting must sync
        for _ in $(seq 600); do
            st=$(gs_json)
            case $st in
                ''|*'"syncs":"0"'*|*'"syncs":0,'*) ;;
                *) break ;;
            esac
            case $st in *'"state":"conflict"'*) break ;; esac
            case $st in *'"state":"error"'*) echo "ERROR after restart $k: $st" >> "$dir/faults.log" ;; esac
            sleep 0.05
        done
        t1=$(date +%s%N)
        echo "$(( (t1 - t0) / 1000000 ))" >> "$dir/resync_ms.log"
    done
}

writer local "$ws" local "$OPS" 2>>"$dir/writer.err" &
wl=$!
writer upstream "$dir/up" upstream "$OPS" 2>>"$dir/writer.err" &
wu=$!
chaos 2>>"$dir/chaos.err" &
wc=$!
wait $wl $wu
wait $wc
gs_pid=$(cat "$dir/gs.pid")

# The end: the agent keeps resolving true conflicts until the workspace has
# the upstream's last commit.
for _ in $(seq 120); do
    local_conflict_check
    hlctl git sync >/dev/null 2>&1
    if gs_is synced && git -C "$ws" merge-base --is-ancestor "$(git -C "$dir/up" rev-parse HEAD)" HEAD 2>/dev/null; then
        break
    fi
    sleep 0.5
done
ok gs_is synced
ok git -C "$ws" merge-base --is-ancestor "$(git -C "$dir/up" rev-parse HEAD)" HEAD
ok test ! -s "$dir/writer.err"
[ -s "$dir/writer.err" ] && head -5 "$dir/writer.err"

# Every token ever written is reachable from a ref, or in the working tree.
{
    for repo in "$ws" "$dir/srv/proj.git" "$dir/up"; do
        git -C "$repo" rev-list --objects --all | cut -d' ' -f1 | git -C "$repo" cat-file --batch
    done
    find "$ws" "$dir/up" -path '*/.git' -prune -o -type f -name '*.txt' -print0 | xargs -0 cat
} 2>/dev/null | grep -ao '[LU]-[0-9]*' | sort -u > "$dir/found"
grep -h '^write' "$dir/local.log" "$dir/upstream.log" | cut -d' ' -f2 | sort -u > "$dir/written"
missing=$(comm -23 "$dir/written" "$dir/found")
ok test -z "$missing"
[ -n "$missing" ] && echo "lost: $(echo $missing | head -c 400)"
# The workspace holds every local token still live (none lost from the tree).
ok test ! -s "$dir/faults.log"
[ -s "$dir/faults.log" ] && head -3 "$dir/faults.log"
nok grep -q "NOT A TRUE CONFLICT" "$dir/conflicts.log"
grep "NOT A TRUE CONFLICT" "$dir/conflicts.log" | head -3
kills=$(cat "$dir/kills.log" 2>/dev/null | wc -l)
ok test "$kills" -gt 0
locks=$(cat "$dir/locks.log" 2>/dev/null | wc -l)
manual=$(cat "$dir/manual_steps" 2>/dev/null | wc -l)
writes=$(wc -l < "$dir/written")
max_resync=$(sort -n "$dir/resync_ms.log" | tail -1)
med_resync=$(sort -n "$dir/resync_ms.log" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
snaps=$(git -C "$ws" for-each-ref refs/hl-sync/snapshots/ | wc -l)
echo "noloss: $OPS ops per side, $writes tokens written, all reachable; $kills SIGKILLs" \
     "($(cut -d' ' -f4 "$dir/kills.log" | sort | uniq -c | tr '\n' ' ')), $locks planted" \
     "index.lock, $manual manual conflict steps, $snaps snapshots;" \
     "$(grep -c "interrupted sync" "$dir/gs.log") interrupted-sync recoveries;" \
     "first sync after a restart: median ${med_resync} ms, max ${max_resync} ms (interval 1 s)"
ok kill -0 "$gs_pid"
checks_done
