# Shared by hl-metrics' integration scripts: a private runtime dir, hl-bus
# and hl-metrics started there, every process killed on exit; checks and
# waits with a deadline come from tests/common/lib.sh.
: "${HL_BUILD_DIR:?}" "${HL_SOURCE_DIR:?}"
B=$HL_BUILD_DIR/daemons
. "$HL_SOURCE_DIR/tests/common/lib.sh"
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}" $(jobs -p); do [ "$p" -gt 0 ] 2>/dev/null && kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
hlctl() { "$B/hlctl/hlctl" --runtime-dir "$dir" "$@"; }

start_bus() {
    "$B/hl-bus/hl-bus" --runtime-dir "$dir" --config "$dir/hl.yaml" 2>"$dir/bus.log" &
    pids+=($!)
    wait_for 10 hlctl --retries 0 --timeout 100 ping hl-bus
}

# start_metrics [FLAGS...]: hl-metrics with $dir/hl.yaml; sets METRICS_PID and PORT.
start_metrics() {
    "$B/hl-metrics/hl-metrics" --runtime-dir "$dir" --config "$dir/hl.yaml" "$@" \
        2>>"$dir/metrics.log" &
    METRICS_PID=$!
    pids+=($METRICS_PID)
    wait_for 10 hlctl --retries 0 --timeout 100 ping hl-metrics || return 1
    PORT=$(hlctl --json call hl-metrics info | grep -o '"port":[0-9]*' | cut -d: -f2)
    [ -n "$PORT" ] && [ "$PORT" != 0 ]
}

# The current collection count; wait_cycles N waits for N more cycles.
collections() { hlctl --json call hl-metrics info | grep -o '"collections":[0-9]*' | cut -d: -f2; }
cycles_since() { [ "$(collections)" -ge $(($1 + $2)) ]; }
wait_cycles() { local c0; c0=$(collections); wait_for 20 cycles_since "$c0" "$1"; }

scrape() { curl -fsS "http://127.0.0.1:$PORT/metrics"; }
scrape_has() { scrape | grep -qxF -- "$1"; }

finish() {
    [ -n "${HL_DEBUG:-}" ] && cat "$dir/metrics.log" >&2
    checks_done
}
