#!/usr/bin/env bash
# tests/common/lib.sh itself: ok/nok count and say which line failed,
# wait_for waits for an event with a deadline (and gives up at it), rc_is,
# skip exits 77, checks_done's status is the verdict.
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# Every helper, run in a subshell with its own counters.
out=$( (pass=0 fail=0; ok true; ok false; nok false; nok true; fail_check "by hand"; checks_done t) 2>&1)
rc=$?
ok test "$rc" = 1
ok grep -q "^t: 2 passed, 3 failed$" <<<"$out"
ok grep -q "FAILED (line [0-9]*): false" <<<"$out"
ok grep -q "FAILED (line [0-9]*, should fail): true" <<<"$out"
ok grep -q "FAILED (line [0-9]*): by hand" <<<"$out"
out=$( (pass=0 fail=0; ok true; checks_done) 2>&1)
ok test $? = 0
ok test "$out" = "1 passed, 0 failed"

# wait_for: returns as soon as the condition holds (a file another process
# creates), and fails at its deadline saying what it waited for.
(sleep 0.3; touch "$dir/flag") &
ok wait_for 30 test -e "$dir/flag"
wait
out=$(wait_for 1 test -e "$dir/never" 2>&1)
ok test $? = 1
ok grep -q "timed out waiting for: test -e $dir/never" <<<"$out"
ok rc_is 3 bash -c 'exit 3'
nok rc_is 3 true

# skip: exit 77, the reason on stderr; need: skips for a missing tool.
out=$( (skip "no widget") 2>&1)
ok test $? = 77
ok grep -q "SKIPPED: no widget" <<<"$out"
out=$( (need bash no-such-tool-hl) 2>&1)
ok test $? = 77
ok grep -q "no-such-tool-hl is not installed" <<<"$out"
( need bash ); ok test $? = 0

checks_done
