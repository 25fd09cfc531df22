#!/usr/bin/env bash
# Benchmark of hl-git-sync against kubernetes git-sync's approach, in the same
# run, on a generated repository served by `git daemon` on loopback:
#   * the cost of a no-op cycle (nothing changed upstream): wall time and CPU
#     (the process and its children) per cycle, and the share of a core it
#     takes at a 10 s interval;
#   * pull latency: from an upstream push to the workspace showing it, with
#     both at the same interval.
# The peer is git-sync's loop reimplemented in shell (its binary is not in
# Debian): `git ls-remote` against the local HEAD; on a change `git fetch`,
# `git worktree add` of the new revision and an atomic symlink swap.
# Size: BENCH_GIT_FILES files (default 20000; the issue's full size is
# 100000 files, 1 GB: BENCH_GIT_FILES=100000 BENCH_GIT_FILE_KB=10),
# BENCH_GIT_FILE_KB KiB each (default 2). Prints figures; asserts no time.
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
. "$HL_SOURCE_DIR/tests/integration/gitsync/lib.sh"
FILES=${BENCH_GIT_FILES:-20000}
KB=${BENCH_GIT_FILE_KB:-2}
CYCLES=${BENCH_GIT_CYCLES:-20}
PUSHES=${BENCH_GIT_PUSHES:-5}
INTERVAL=${BENCH_GIT_INTERVAL:-2}

# The repository, written with git fast-import (seconds, not minutes).
git init -q --bare "$dir/srv/big.git"
t0=$(date +%s%N)
awk -v n="$FILES" -v kb="$KB" 'BEGIN {
    line = sprintf("%063d\n", 0); body = ""
    for (i = 0; i < kb * 16; i++) body = body line
    printf "commit refs/heads/main\ncommitter bench <b@x> 1700000000 +0000\ndata 4\nbig\n"
    for (i = 0; i < n; i++) {
        c = sprintf("file %d\n%s", i, body)
        printf "M 100644 inline d%03d/f%06d.txt\ndata %d\n%s\n", i % 1000, i, length(c), c
    }
}' | git -C "$dir/srv/big.git" fast-import --quiet
size=$(du -sm "$dir/srv/big.git" | cut -f1)
start_git_daemon
url=$url_base/big.git
git clone -q "$url" "$dir/up"
t1=$(date +%s%N)
echo "repository: $FILES files of $KB KiB (${size} MB packed), made and cloned in $(( (t1 - t0) / 1000000 )) ms"

cpu_ms() { # utime+stime+cutime+cstime of PID, in ms
    awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15 + $16 + $17) * 1000 / hz) }' "/proc/$1/stat"
}
push_one() { # a one-file change upstream; prints its commit
    echo "$RANDOM" >> "$dir/up/d000/f000000.txt"
    git -C "$dir/up" commit -qam bump && git -C "$dir/up" push -q origin main
    git -C "$dir/up" rev-parse HEAD
}
# latency_of HEAD_CMD: push, then poll HEAD_CMD until it prints the new commit
latency_of() {
    local want t0 t1
    want=$(push_one)
    t0=$(date +%s%N)
    until [ "$("$@" 2>/dev/null)" = "$want" ]; do sleep 0.01; done
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# --- hl-git-sync
start_bus
GS_INTERVAL=1h
write_config "$url" "git_timeout: 10m"
start_gs
wait_for 600 gs_is synced || { echo "no clone" >&2; exit 1; }
# no-op cycles, one at a time (hlctl git sync waits for each)
c0=$(cpu_ms "$gs_pid"); : > "$dir/gs_noop"
for i in $(seq "$CYCLES"); do
    hlctl git sync >/dev/null
    gs_json | sed -n 's/.*"last_duration_us":"\{0,1\}\([0-9]*\).*/\1/p' >> "$dir/gs_noop"
done
c1=$(cpu_ms "$gs_pid")
gs_wall=$(( $(median < "$dir/gs_noop") / 1000 ))
gs_cpu=$(( (c1 - c0) / CYCLES ))
# pull latency at INTERVAL
kill "$gs_pid"; wait "$gs_pid" 2>/dev/null
GS_INTERVAL=${INTERVAL}s
write_config "$url" "git_timeout: 10m"
start_gs
wait_for 60 gs_is synced
: > "$dir/gs_lat"
for i in $(seq "$PUSHES"); do latency_of git -C "$dir/ws" rev-parse HEAD >> "$dir/gs_lat"; done
gs_lat=$(median < "$dir/gs_lat")
gs_lat_max=$(sort -n "$dir/gs_lat" | tail -1)
kill "$gs_pid"; wait "$gs_pid" 2>/dev/null

# --- the peer: kubernetes git-sync's loop (ls-remote; fetch + worktree + symlink swap)
peer=$dir/peer
git clone -q --no-checkout "$url" "$peer/repo"
peer_cycle() {
    local remote local_rev
    remote=$(git -C "$peer/repo" ls-remote origin refs/heads/main | cut -f1)
    local_rev=$(git -C "$peer/repo" rev-parse -q --verify HEAD 2>/dev/null)
    [ "$remote" = "$local_rev" ] && return 0
    git -C "$peer/repo" fetch -q origin main
    git -C "$peer/repo" worktree add -q --detach "$peer/wt-$remote" "$remote" >/dev/null 2>&1
    git -C "$peer/repo" update-ref HEAD "$remote" 2>/dev/null || git -C "$peer/repo" reset -q --soft "$remote"
    ln -sfn "$peer/wt-$remote" "$peer/current.new" && mv -T "$peer/current.new" "$peer/current"
    [ -n "$local_rev" ] && git -C "$peer/repo" worktree remove --force "$peer/wt-$local_rev" 2>/dev/null
    return 0
}
peer_cycle   # the first checkout
: > "$dir/peer_noop"
pc0=$(awk -v hz="$(getconf CLK_TCK)" '{ print int(($16 + $17) * 1000 / hz) }' /proc/$$/stat)
for i in $(seq "$CYCLES"); do
    t0=$(date +%s%N); peer_cycle; t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 )) >> "$dir/peer_noop"
done
pc1=$(awk -v hz="$(getconf CLK_TCK)" '{ print int(($16 + $17) * 1000 / hz) }' /proc/$$/stat)
peer_wall=$(( $(median < "$dir/peer_noop") / 1000 ))
peer_cpu=$(( (pc1 - pc0) / CYCLES ))
( while :; do peer_cycle; sleep "$INTERVAL"; done ) &
peer_loop=$!
pids+=($peer_loop)
: > "$dir/peer_lat"
for i in $(seq "$PUSHES"); do latency_of git -C "$peer/current" rev-parse HEAD >> "$dir/peer_lat"; done
kill "$peer_loop"; wait "$peer_loop" 2>/dev/null
peer_lat=$(median < "$dir/peer_lat")
peer_lat_max=$(sort -n "$dir/peer_lat" | tail -1)

pct() { awk -v c="$1" 'BEGIN { printf "%.2f", c / 10000 * 100 }'; } # ms per cycle at a 10 s interval
echo "no-op cycle (median of $CYCLES): hl-git-sync ${gs_wall} ms wall, ${gs_cpu} ms CPU" \
     "($(pct "$gs_cpu") % of a core at 10 s); git-sync approach ${peer_wall} ms wall, ${peer_cpu} ms CPU ($(pct "$peer_cpu") %)"
echo "pull latency at a ${INTERVAL} s interval (median/max of $PUSHES): hl-git-sync ${gs_lat}/${gs_lat_max} ms;" \
     "git-sync approach ${peer_lat}/${peer_lat_max} ms"
echo "BENCH git files=$FILES kb=$KB gs_noop_ms=$gs_wall gs_noop_cpu_ms=$gs_cpu peer_noop_ms=$peer_wall" \
     "peer_noop_cpu_ms=$peer_cpu gs_latency_ms=$gs_lat peer_latency_ms=$peer_lat interval_s=$INTERVAL"
checks_done bench_git
