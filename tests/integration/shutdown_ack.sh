#!/usr/bin/env bash
# #21 item 4: every daemon of ours takes part in the orchestrator's
# pre-shutdown hook. Real hl-bus, hl-health, hl-metrics, hl-failure, hl-stdio
# and hl-testd (whose hook takes a while, like a daemon with work in flight)
# on a private runtime dir; the test publishes lifecycle.shutdown as the
# orchestrator does and reads lifecycle.ack.* back:
#   - each daemon answers the notice's id once, hl-testd after its hook's work;
#   - a notice past its deadline (what the last-value cache replays to a
#     daemon that starts late) and a repeated id are not answered again.
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
B=${HL_BUILD_DIR:?}
D=$B/daemons
dir=$(mktemp -d)
chmod 755 "$dir"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
hlctl() { "$D/hlctl/hlctl" --runtime-dir "$dir" "$@"; }
group=nogroup
getent group nogroup >/dev/null || group=$(id -gn)

cat >"$dir/hl.yaml" <<Y
hl-health:
  builtin: false
  services:
    alpha: {unit: "", checks: [{name: alpha-ok, type: exec, argv: [/bin/true]}]}
hl-metrics:
  listen: "127.0.0.1:0"
  interval: 1h
hl-stdio:
  group: $group
hl-testd:
  interval_ms: 1000
  shutdown_ack_ms: 300
Y
start() { # NAME BINARY
    "$2" --config "$dir/hl.yaml" --runtime-dir "$dir" 2>"$dir/$1.log" &
    pids+=($!)
    wait_for 30 hlctl --retries 0 --timeout 200 ping "$1"
}
ok start hl-bus "$D/hl-bus/hl-bus"
daemons="hl-health hl-metrics hl-failure hl-stdio hl-testd"
for n in hl-health hl-metrics hl-failure hl-stdio; do ok start "$n" "$D/$n/$n"; done
ok start hl-testd "$B/tests/fixtures/hl-testd"

now_us() { echo $(($(date +%s%N) / 1000)); }
# The acknowledgements, in the background: one line each.
"$D/hlctl/hlctl" --runtime-dir "$dir" --json sub --wait 20000 lifecycle.ack. test.sync >"$dir/acks" 2>"$dir/sub.err" &
pids+=($!)
subscribed() { hlctl pub test.sync n=1 >/dev/null && grep -q '"test.sync"' "$dir/acks"; }
ok wait_for 10 subscribed

# A stale notice (its deadline has passed), then the real one, twice.
ok hlctl pub lifecycle.shutdown id=7 step=pre-shutdown "deadline_us=$(($(now_us) - 1000000))" reason=stale
deadline=$(($(now_us) + 10000000))
ok hlctl pub lifecycle.shutdown id=8 step=pre-shutdown "deadline_us=$deadline" reason=test
ok hlctl pub lifecycle.shutdown id=8 step=pre-shutdown "deadline_us=$deadline" reason=test

# One line per acknowledgement: topic id ok detail (a partial last object of
# the growing file is left out).
acks() {
    jq -r 'select(.topic | startswith("lifecycle.ack.")) |
           "\(.topic) \(.body.id) \(.body.ok) \(.body.detail)"' "$dir/acks" 2>/dev/null
}
acked() { acks | grep -q "^lifecycle.ack.$1 $2 "; } # DAEMON ID
all_acked() { for n in $daemons; do acked "$n" 8 || return 1; done; }
ok wait_for 15 all_acked
# hl-testd answers when its hook's work is done, with what it said.
ok bash -c "grep -qx 'lifecycle.ack.hl-testd 8 true test work saved' <<<'$(acks)'"
ok grep -q "pre-shutdown: acknowledging in 300 ms" "$dir/hl-testd.log"
# A daemon without work in flight answers at once, in the runtime's words.
ok bash -c "grep -qx 'lifecycle.ack.hl-health 8 true nothing in flight' <<<'$(acks)'"
# The stale notice was read before the real one and not answered; the
# repeated id once only.
for n in $daemons; do
    ok test "$(acks | grep -c "^lifecycle.ack.$n ")" = 1
done
# The daemons keep running: the hook is a notice, not a stop.
for n in $daemons; do ok hlctl --retries 0 --timeout 500 ping "$n"; done

checks_done shutdown_ack || { cat "$dir/acks" >&2; tail -n 5 "$dir"/*.log >&2; exit 1; }
