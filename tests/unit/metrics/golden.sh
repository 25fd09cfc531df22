#!/usr/bin/env bash
# Golden tests of hl-metrics' collectors on fixture /proc and /sys trees (the
# way node_exporter tests its collectors), with real file systems for
# statvfs: small tmpfs mounts, whose sizes are exact, in a private mount
# namespace. Then the same fixtures through Debian's node_exporter: every
# series of the families both export must be the same, name, labels and value.
#
#   HL_UPDATE_GOLDEN=1 ctest -R unit_metrics_golden   rewrites the golden files
set -u
: "${HL_BUILD_DIR:?}" "${HL_SOURCE_DIR:?}"
DUMP=$HL_BUILD_DIR/daemons/hl-metrics/hl-metrics-dump
FX=$HL_SOURCE_DIR/tests/fixtures/metrics
GOLD=$HL_SOURCE_DIR/tests/unit/metrics/golden
[ -x "$DUMP" ] || { echo "no $DUMP" >&2; exit 1; }
if [ "${1:-}" != --inside ]; then
    if ! unshare --mount --propagation private true 2>/dev/null; then
        echo "golden.sh needs root for a private mount namespace (unshare -m)" >&2
        exit 1
    fi
    exec unshare --mount --propagation private bash "$0" --inside
fi

. "$HL_SOURCE_DIR/tests/common/lib.sh"
tmp=$(mktemp -d)
ne_pid=
cleanup() { [ -n "$ne_pid" ] && kill "$ne_pid" 2>/dev/null; wait 2>/dev/null; umount -R "$tmp/root" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# The root file system of the fixture and two more, sized exactly.
R=$tmp/root
mkdir -p "$R"
mount -t tmpfs -o size=64m,nr_inodes=1000 rootfs "$R"
mkdir -p "$R/data" "$R/mnt/my disk"
mount -t tmpfs -o size=16m,nr_inodes=100 vdb "$R/data"
mount -t tmpfs -o size=8m,nr_inodes=50 workspace "$R/mnt/my disk"

# Durations vary from run to run; everything else is fixed by the fixtures.
strip() { grep -v '^node_scrape_collector_duration_seconds{'; }

compare() { # name file
    local name=$1 got=$2
    if [ -n "${HL_UPDATE_GOLDEN:-}" ]; then
        mkdir -p "$GOLD"; cp "$got" "$GOLD/$name"; echo "updated $GOLD/$name"; return 0
    fi
    if diff -u "$GOLD/$name" "$got" >&2; then return 0; fi
    echo "golden mismatch: $name (HL_UPDATE_GOLDEN=1 to accept)" >&2
    return 1
}

# 1. Everything, cgroup v2.
"$DUMP" --path.procfs="$FX/proc" --path.sysfs="$FX/sys" --path.rootfs="$R" \
    >"$tmp/full.raw" 2>"$tmp/full.err"
ok test $? = 0
ok test ! -s "$tmp/full.err"
strip <"$tmp/full.raw" >"$tmp/full.prom"
ok compare full.prom "$tmp/full.prom"
# promtool: the only findings allowed are node_exporter's own camelCase
# meminfo names, kept so that dashboards and rules written for them work.
promtool check metrics <"$tmp/full.raw" >"$tmp/lint" 2>&1
ok test -s "$tmp/lint"
ok bash -c "! grep -v \"^node_memory_[A-Za-z0-9_]* metric names should be written in 'snake_case' not 'camelCase'\$\" '$tmp/lint'"
grep -v '^node_memory_' "$tmp/full.raw" | promtool check metrics
ok test $? = 0

# 2. Services from cgroup v1 controllers.
"$DUMP" --path.procfs="$FX/proc" --path.sysfs="$FX/sys-v1" --path.rootfs="$R" \
    $(for c in cpu stat meminfo loadavg pressure vmstat filesystem netdev netclass diskstats; do
          echo --collector.disable=$c; done) >"$tmp/v1.raw" 2>&1
ok test $? = 0
strip <"$tmp/v1.raw" >"$tmp/v1.prom"
ok compare cgroup-v1.prom "$tmp/v1.prom"

# 2b. Hybrid: v1 controllers not delegated (a container on a hybrid host),
# v2 at fs/cgroup/unified: CPU from v2's cpu.stat, tasks from cgroup.threads.
"$DUMP" --path.procfs="$FX/proc" --path.sysfs="$FX/sys-hybrid" --path.rootfs="$R" \
    $(for c in cpu stat meminfo loadavg pressure vmstat filesystem netdev netclass diskstats; do
          echo --collector.disable=$c; done) >"$tmp/hybrid.raw" 2>&1
ok test $? = 0
strip <"$tmp/hybrid.raw" >"$tmp/hybrid.prom"
ok compare cgroup-hybrid.prom "$tmp/hybrid.prom"

# 3. No cgroups at all: the services collector reports no data, nothing else.
mkdir -p "$tmp/nosys"
"$DUMP" --path.procfs="$FX/proc" --path.sysfs="$tmp/nosys" --path.rootfs="$R" \
    $(for c in cpu stat meminfo loadavg pressure vmstat filesystem netdev netclass diskstats; do
          echo --collector.disable=$c; done) >"$tmp/nocg.raw" 2>"$tmp/nocg.err"
ok test $? = 1
ok grep -q 'services: .*/fs/cgroup: no cgroup hierarchy with units' "$tmp/nocg.err"
ok grep -q '^node_scrape_collector_success{collector="services"} 0$' "$tmp/nocg.raw"

# 4. Bad input: each collector names the file, keeps the good lines, fails.
"$DUMP" --path.procfs="$FX/proc-bad" --path.sysfs="$FX/sys" --path.rootfs="$R" \
    --collector.disable=filesystem --collector.disable=netclass --collector.disable=services \
    >"$tmp/bad.raw" 2>"$tmp/bad.err"
ok test $? = 1
strip <"$tmp/bad.raw" >"$tmp/bad.prom"
sed "s|$FX|FIXTURES|g" "$tmp/bad.err" >"$tmp/bad.stderr"
ok compare bad.prom "$tmp/bad.prom"
ok compare bad.stderr "$tmp/bad.stderr"
grep -v "^node_memory_" "$tmp/bad.raw" | promtool check metrics
ok test $? = 0

# 5. node_exporter on the same trees (same exclusions): the families both
# export must agree series for series.
NE=$(command -v prometheus-node-exporter || true)
if [ -z "$NE" ]; then
    echo "FAILED: prometheus-node-exporter is not installed (scripts/install-deps.sh)" >&2
    fail=$((fail+1))
else
    mnt_ex=$(grep -o '"\^/(dev.*"$' "$HL_SOURCE_DIR/daemons/hl-metrics/collect.h" | head -1 | tr -d '"')
    fst_ex=$(sed -n '/HLM_DEFAULT_FS_TYPES_EXCLUDE/,/)\$"/p' "$HL_SOURCE_DIR/daemons/hl-metrics/collect.h" |
             grep -o '"[^"]*"' | tr -d '"\n' | sed 's/\\\\/\\/g')
    "$NE" --web.listen-address=127.0.0.1:0 --path.procfs="$FX/proc" --path.sysfs="$FX/sys" \
        --path.rootfs="$R" --collector.disable-defaults \
        --collector.cpu --collector.stat --collector.meminfo --collector.loadavg \
        --collector.pressure --collector.vmstat --collector.filesystem --collector.netdev \
        --collector.netclass --collector.diskstats --no-collector.netdev.netlink \
        --collector.netdev.device-exclude='^$' --collector.netclass.ignore-invalid-speed \
        --collector.filesystem.mount-points-exclude="$mnt_ex" \
        --collector.filesystem.fs-types-exclude="$fst_ex" >"$tmp/ne.log" 2>&1 &
    ne_pid=$!
    addr=
    for _ in $(seq 200); do
        addr=$(grep -o 'msg="Listening on" address=127.0.0.1:[0-9]*' "$tmp/ne.log" | head -1 | sed 's/.*address=//')
        [ -n "$addr" ] && break
        kill -0 "$ne_pid" 2>/dev/null || break
        read -rt 0.05 <> <(:) || true   # a bounded wait for the log line
    done
    ok test -n "$addr"
    curl -fsS "http://$addr/metrics" >"$tmp/ne.prom"
    ok test $? = 0
    kill "$ne_pid"; wait "$ne_pid" 2>/dev/null; ne_pid=
    # series of families present in both, compared as sets
    fams() { grep '^# TYPE ' "$1" | awk '{print $3}' | sort -u; }
    comm -12 <(fams "$tmp/ne.prom") <(fams "$tmp/full.raw") |
        grep -v '^node_scrape_collector_' >"$tmp/common"
    ok test "$(wc -l <"$tmp/common")" -ge 60
    series() { grep -v '^#' "$1" | awk -v f="$tmp/common" 'BEGIN{while((getline l<f)>0)k[l]=1}
               {n=$0; sub(/[{ ].*/,"",n); if(n in k) print}' | sort; }
    series "$tmp/ne.prom" >"$tmp/ne.series"
    series "$tmp/full.raw" >"$tmp/hl.series"
    if ! diff -u "$tmp/ne.series" "$tmp/hl.series" >&2; then
        echo "FAILED: node_exporter and hl-metrics disagree on the families both export" >&2
        fail=$((fail+1))
    else
        pass=$((pass+1))
    fi
    echo "node_exporter comparison: $(wc -l <"$tmp/common") families, $(wc -l <"$tmp/hl.series") series identical"
fi

checks_done
