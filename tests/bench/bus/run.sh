#!/usr/bin/env bash
# Bus benchmark: libhlbus against raw libzmq, same topology, same run.
#
#   tests/bench/bus/run.sh [BUILD_DIR] [--quick] [--exit-runs N] [--latency-count N]
#
# Starts, in a private runtime directory: a real hl-bus (its queue bounds
# raised to 1000000, as are the raw proxy's, so that throughput measures the
# cost per message rather than a drop policy), a plain zmq_proxy XSUB/XPUB
# and a raw REP echo; then bench_bus measures both sides and prints figures
# and ratios. Take figures on a quiet machine: the load is printed with them.
# Exits non-zero only when something does not work (a libhlbus publisher that
# loses messages on exit, a peer that does not start); figures are never
# asserted.
set -euo pipefail
build=${HL_BUILD_DIR:-build}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
bench=$build/tests/bench/bus/bench_bus
hlbus=$build/daemons/hl-bus/hl-bus
hlctl=$build/daemons/hlctl/hlctl
for f in "$bench" "$hlbus" "$hlctl"; do
  [ -x "$f" ] || { echo "run.sh: $f is not built (cmake --build $build)" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hlbench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/hl" "$tmp/raw"
printf 'hl-bus:\n  hwm: 1000000\n' >"$tmp/hl.yaml"

"$hlbus" --config "$tmp/hl.yaml" --runtime-dir "$tmp/hl" --log-level warning &
pids+=($!)
hlbus_pid=$!
"$bench" proxy "$tmp/raw" 1000000 &
pids+=($!)
proxy_pid=$!
"$bench" rep "$tmp/raw" &
pids+=($!)
# hl-bus answers once it is up; the raw peers need no wait (ZeroMQ connects
# whenever they bind, and bench_bus waits for a probe before each measurement).
if ! "$hlctl" --runtime-dir "$tmp/hl" --timeout 500 --retries 40 ping hl-bus >/dev/null; then
  echo "run.sh: hl-bus did not start" >&2
  exit 2
fi
echo "uptime: $(uptime)"
"$bench" run "$tmp/hl" "$tmp/raw" --pids "$hlbus_pid" "$proxy_pid" "$@"
echo "uptime: $(uptime)"
