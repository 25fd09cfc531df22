#!/usr/bin/env bash
# No shell test waits on a condition that is evaluated only once: in
# `wait_for 10 test "$(cmd)" = x` the command substitution runs before
# wait_for does, so the wait polls a constant (it passes or fails at once,
# whatever happens later). Poll a function instead. Escaped substitutions
# inside a `bash -c "..."` string (\$(...)), any inside `bash -c '...'`, and
# arithmetic $((...)) (a value fixed on purpose) are fine.
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
cd "$HL_SOURCE_DIR"
bad=$(grep -rnE '(wait_for|ct_wait_for [^ ]+) +[0-9"$]+[^ ]* .*[^\\]\$\([^(]' --include='*.sh' tests scripts |
      grep -v "^tests/unit/harness/lint_waits.sh:\|bash -c '")
if [ -n "$bad" ]; then
    fail_check "conditions evaluated once, before the wait (poll a function instead):"
    echo "$bad" >&2
else
    pass=$((pass + 1))
fi
checks_done lint-waits
