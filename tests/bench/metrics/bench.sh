#!/usr/bin/env bash
# hl-metrics against Debian's prometheus-node-exporter, on the same machine in
# the same run: median wall time per scrape, CPU per scrape, memory after the
# scrapes. node_exporter runs twice: with its default collectors, and with
# only the collectors whose families hl-metrics also exports (the fair
# comparison). hl-metrics collects on its own schedule and serves a prebuilt
# snapshot, so its collection cost is measured on its own too (CPU per cycle,
# over a window without scrapes) and added to give "CPU per scrape if every
# scrape paid for a collection", which is what node_exporter does.
#
# CPU is the sum of the process's threads' schedstat run time (ns), not
# clock ticks. Memory: RSS, PSS (shared pages divided among their users) and
# USS (pages only this process has) from /proc/PID/smaps_rollup; hl-bus is
# shown as the floor every hl daemon pays for libc, libzmq and libczmq.
#   tests/bench/metrics/bench.sh [SCRAPES]      (build dir: $HL_BUILD_DIR or ./build)
set -u
here=$(cd "$(dirname "$0")" && pwd)
HL_SOURCE_DIR=${HL_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
HL_BUILD_DIR=${HL_BUILD_DIR:-$HL_SOURCE_DIR/build}
. "$HL_SOURCE_DIR/tests/common/lib.sh"
N=${1:-${HL_BENCH_SCRAPES:-300}}
WINDOW=${HL_BENCH_WINDOW:-10}
B=$HL_BUILD_DIR/daemons
NE=$(command -v prometheus-node-exporter) || { echo "bench: install prometheus-node-exporter" >&2; exit 1; }
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
hlctl() { "$B/hlctl/hlctl" --runtime-dir "$dir" "$@"; }

cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d", s}'; }
mem() { awk '/^Rss:/{r=$2} /^Pss:/{p=$2} /^Private_Clean:/{u+=$2} /^Private_Dirty:/{u+=$2}
             END{printf "%d %d %d", r, p, u}' "/proc/$1/smaps_rollup"; }

# scrape URL PID LABEL COUNT: COUNT scrapes over one keep-alive connection.
scrape() {
    local url=$1 pid=$2 label=$3 n=$4 c0 c1 args=()
    curl -s -o /dev/null "$url"; curl -s -o /dev/null "$url"   # warm up
    for _ in $(seq "$n"); do args+=(-o /dev/null "$url"); done
    c0=$(cpu_ns "$pid")
    curl -s -w '%{time_total}\n' "${args[@]}" >"$dir/$label.times"
    c1=$(cpu_ns "$pid")
    local med cpu
    med=$(sort -g "$dir/$label.times" | awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m*1000}')
    cpu=$(awk -v d=$((c1 - c0)) -v n="$n" 'BEGIN{printf "%.3f", d / 1e6 / n}')
    curl -s "$url" >"$dir/$label.prom"
    read -r rss pss uss <<<"$(mem "$pid")"
    printf '%-30s %9s %10s %8s %8s %8s %7s\n' "$label" "$med" "$cpu" "$rss" "$pss" "$uss" \
        "$(grep -vc '^#' "$dir/$label.prom")"
    echo "$label $med $cpu $rss $pss $uss" >>"$dir/results"
}

listen_addr() { grep -o 'msg="Listening on" address=127.0.0.1:[0-9]*' "$1" | head -1 | sed 's/.*address=//'; }
start_ne() { # label args...
    local label=$1; shift
    "$NE" --web.listen-address=127.0.0.1:0 "$@" >"$dir/$label.log" 2>&1 &
    pids+=($!)
    eval "${label}_pid=$!"
    wait_for 10 bash -c "grep -q 'msg=\"Listening on\"' '$dir/$label.log'" ||
        { echo "bench: $label did not start" >&2; exit 1; }
    eval "${label}_addr=$(listen_addr "$dir/$label.log")"
}

# hl-metrics as deployed (5 s collection interval), with its bus.
printf 'hl-metrics:\n  listen: "127.0.0.1:0"\n' >"$dir/hl.yaml"
"$B/hl-bus/hl-bus" --runtime-dir "$dir" --config "$dir/hl.yaml" 2>/dev/null & bus_pid=$!; pids+=($bus_pid)
wait_for 10 hlctl --retries 0 --timeout 100 ping hl-bus
"$B/hl-metrics/hl-metrics" --runtime-dir "$dir" --config "$dir/hl.yaml" 2>/dev/null & hl_pid=$!; pids+=($hl_pid)
wait_for 10 hlctl --retries 0 --timeout 100 ping hl-metrics
hl_port=$(hlctl --json call hl-metrics info | grep -o '"port":[0-9]*' | cut -d: -f2)

same=(--collector.disable-defaults --collector.cpu --collector.stat --collector.meminfo
      --collector.loadavg --collector.pressure --collector.vmstat --collector.filesystem
      --collector.netdev --collector.netclass --collector.diskstats)
start_ne ne_full
start_ne ne_same "${same[@]}"

echo "hl-metrics vs prometheus-node-exporter $("$NE" --version 2>&1 | head -1 | awk '{print $3}'); $N scrapes each ($((N * 10)) for hl-metrics), $(nproc) CPUs"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-30s %9s %10s %8s %8s %8s %7s\n' "" "median ms" "CPU ms" "RSS KiB" "PSS KiB" "USS KiB" "series"
scrape "http://$ne_full_addr/metrics" "$ne_full_pid" node_exporter-default "$N"
scrape "http://$ne_same_addr/metrics" "$ne_same_pid" node_exporter-same-collectors "$N"
scrape "http://127.0.0.1:$hl_port/metrics" "$hl_pid" hl-metrics $((N * 10))
read -r rss pss uss <<<"$(mem "$bus_pid")"
printf '%-30s %9s %10s %8s %8s %8s\n' "hl-bus (idle, the floor)" "-" "-" "$rss" "$pss" "$uss"

# hl-metrics' collection cost: CPU per cycle at a 100 ms interval, no scrapes
# and no calls during the window.
printf 'hl-metrics:\n  listen: "127.0.0.1:0"\n  interval: 100ms\n' >"$dir/hl.yaml"
hlctl call hl-metrics reload >/dev/null
info() { hlctl --json call hl-metrics info | grep -o "\"$1\":[0-9.e-]*" | cut -d: -f2; }
k0=$(info collections); c0=$(cpu_ns "$hl_pid")
sleep "$WINDOW"   # a measurement window, not a wait for an event
k1=$(info collections); c1=$(cpu_ns "$hl_pid")
cycle=$(awk -v d=$((c1 - c0)) -v k=$((k1 - k0)) 'BEGIN{printf "%.3f", d / 1e6 / k}')
echo "hl-metrics collection cycle: $cycle ms CPU per cycle over $((k1 - k0)) cycles; last cycle $(info collect_seconds | awk '{printf "%.3f", $1 * 1000}') ms wall"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

fams() { grep '^# TYPE ' "$1" | awk '{print $3}' | sort -u; }
common=$(comm -12 <(fams "$dir/node_exporter-same-collectors.prom") <(fams "$dir/hl-metrics.prom") | wc -l)
echo "families both export: $common (node_exporter same collectors: $(fams "$dir/node_exporter-same-collectors.prom" | wc -l), hl-metrics: $(fams "$dir/hl-metrics.prom" | wc -l))"
awk -v cyc="$cycle" '
    {med[$1]=$2; cpu[$1]=$3; rss[$1]=$4; pss[$1]=$5; uss[$1]=$6}
    END {
        hl="hl-metrics"
        split("node_exporter-same-collectors node_exporter-default", nes, " ")
        for (i = 1; i <= 2; i++) {
            ne = nes[i]
            printf "hl-metrics / %s: scrape time %.3f; CPU per scrape %.3f (with a collection per scrape %.3f); RSS %.2f, PSS %.2f, USS %.2f\n",
                ne, med[hl]/med[ne], cpu[hl]/cpu[ne], (cpu[hl]+cyc)/cpu[ne], rss[hl]/rss[ne], pss[hl]/pss[ne], uss[hl]/uss[ne]
        }
    }' "$dir/results"
