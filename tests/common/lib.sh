# shellcheck shell=bash
# The one shell library of the test scripts: counted checks, waiting for a
# condition with a deadline, and visible skips. Source it first:
#   . "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
# and end the script with `checks_done [NAME]`.

pass=${pass:-0} fail=${fail:-0}

# ok CMD...: runs CMD; its status counts as a passed or failed check.
ok() {
    if "$@"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAILED (line ${BASH_LINENO[0]}): $*" >&2
    fi
}

# nok CMD...: CMD must fail (its output discarded).
nok() {
    if "$@" >/dev/null 2>&1; then
        fail=$((fail + 1))
        echo "FAILED (line ${BASH_LINENO[0]}, should fail): $*" >&2
    else
        pass=$((pass + 1))
    fi
}

# fail_check WHAT...: records a failed check that no single command expresses.
fail_check() {
    fail=$((fail + 1))
    echo "FAILED (line ${BASH_LINENO[0]}): $*" >&2
}

# wait_for SECONDS CMD...: runs CMD (its output discarded) every 50 ms until
# it succeeds or SECONDS have passed. A deadline, not a count: a refused
# connection fails at once, and a start under a sanitizer or valgrind on a
# loaded machine takes seconds. Says what it gave up on.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "timed out waiting for: $*" >&2
            return 1
        fi
        sleep 0.05
    done
}

# rc_is WANT CMD...: CMD exits with status WANT (for wait_for).
rc_is() {
    local want=$1
    shift
    "$@" >/dev/null 2>&1
    [ $? = "$want" ]
}

# skip WHY...: ends the test as skipped (exit 77, SKIP_RETURN_CODE of every
# test added by cmake/HlTest.cmake): a missing tool is never a pass.
skip() {
    echo "SKIPPED: $*" >&2
    exit 77
}

# need TOOL...: skip unless every TOOL is on PATH.
need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (scripts/install-deps.sh installs it)"
    done
}

# checks_done [NAME]: prints the tally; the status is the verdict.
checks_done() {
    echo "${1:+$1: }$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
