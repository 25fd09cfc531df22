#!/usr/bin/env bash
# The daemon runtime through hl-bus and hlctl: flags, --check-config with
# file:line errors, SIGHUP reload keeping the old config on error, clean stop.
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
B=${HL_BUILD_DIR:?}/daemons
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
trap 'echo "--- hl-bus log:" >&2; cat "$dir/bus.log" >&2 2>/dev/null' ERR
hlctl() { "$B/hlctl/hlctl" --runtime-dir "$dir" "$@"; }

ok "$B/hl-bus/hl-bus" --version
ok bash -c "'$B/hl-bus/hl-bus' --help | grep -q -- --check-config"
"$B/hl-bus/hl-bus" --bogus 2>/dev/null; ok test $? = 64
"$B/hlctl/hlctl" 2>/dev/null; ok test $? = 64
"$B/hlctl/hlctl" frobnicate 2>/dev/null; ok test $? = 64

mkdir -p "$dir/etc/hl.d"
cat > "$dir/etc/hl.yaml" <<'Y'
log:
  level: info
hl-bus:
  stats_depth: 1
Y
cat > "$dir/etc/hl.d/50-bad.yaml" <<'Y'
hl-bus:
  stats_depth: deep
  colour: blue
Y
out=$("$B/hl-bus/hl-bus" --config "$dir/etc/hl.yaml" --check-config 2>&1); rc=$?
ok test $rc = 1
ok grep -q "50-bad.yaml:2: 'stats_depth' must be an integer" <<<"$out"
ok grep -q "50-bad.yaml:3: unknown key 'colour'" <<<"$out"
rm "$dir/etc/hl.d/50-bad.yaml"
ok "$B/hl-bus/hl-bus" --config "$dir/etc/hl.yaml" --check-config

"$B/hl-bus/hl-bus" --config "$dir/etc/hl.yaml" --runtime-dir "$dir" 2>"$dir/bus.log" &
pid=$!
wait_for 60 hlctl --retries 0 --timeout 100 ping hl-bus >/dev/null 2>&1
ok hlctl ping hl-bus
ok bash -c "'$B/hlctl/hlctl' --runtime-dir '$dir' --json status | grep -q '\"state\":\"running\"'"

# a bad reload is refused and the old config keeps running
printf 'hl-bus:\n  hwm: 1\n' > "$dir/etc/hl.d/60-bad.yaml"
kill -HUP $pid
wait_for 60 grep -q "reload failed" "$dir/bus.log"
ok grep -q "60-bad.yaml:2: 'hwm' must be between" "$dir/bus.log"
ok hlctl ping hl-bus
out=$(hlctl call hl-bus reload 2>&1); rc=$?
ok test $rc = 2
ok grep -q "config rejected, old config kept" <<<"$out"
rm "$dir/etc/hl.d/60-bad.yaml"
ok hlctl call hl-bus reload
# a reload that changes the cache: test. becomes a state topic
printf 'hl-bus:\n  lvc_prefixes: [test.]\n' > "$dir/etc/hl.d/70-lvc.yaml"
ok hlctl call hl-bus reload
ok hlctl pub test.cached hello
out=$(hlctl sub --count 1 --wait 3000 test.)
ok grep -q '"text":"hello"' <<<"$out"
ok grep -q '"replay":true' <<<"$out"
# unknown methods and bad arguments get clear errors
out=$(hlctl call hl-bus nosuch 2>&1); ok grep -q "no method 'nosuch'" <<<"$out"
out=$(hlctl call hl-bus log-level level=loud 2>&1); ok grep -q "level= must be" <<<"$out"

# SIGTERM: a clean stop, exit 0, its socket removed
kill -TERM $pid; wait $pid; rc=$?; pid=
ok test $rc = 0
ok test ! -e "$dir/ctl/hl-bus"
hlctl --retries 0 ping hl-bus 2>/dev/null; ok test $? = 2
# publishing with no proxy fails loudly instead of queueing into the void
out=$(hlctl pub test.x hi 2>&1); rc=$?
ok test $rc = 2
ok grep -q "hl-bus is not running" <<<"$out"

checks_done
