#!/usr/bin/env bash
# docs/contract.md's topic table is the one hlctl contract --markdown prints
# from libhlbus's table (libhlbus/src/topics.c), so that the page a foreign
# tool's author reads cannot drift from what the daemons publish; and the
# version the page names is the one the binaries report.
set -u
: "${HL_SOURCE_DIR:?}" "${HL_BUILD_DIR:?}"
. "$HL_SOURCE_DIR/tests/common/lib.sh"
hlctl=$HL_BUILD_DIR/daemons/hlctl/hlctl
doc=$HL_SOURCE_DIR/docs/contract.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$hlctl" contract --markdown >"$tmp/want"
ok test -s "$tmp/want"
sed -n '/^<!-- topics: begin/,/^<!-- topics: end -->/p' "$doc" | sed '1d;$d' >"$tmp/got"
if diff -u "$tmp/got" "$tmp/want" >"$tmp/diff"; then
    pass=$((pass + 1))
else
    fail_check "docs/contract.md: the topic table is not libhlbus's; replace the lines between" \
        "the 'topics: begin' and 'topics: end' markers with the output of 'hlctl contract --markdown':"
    cat "$tmp/diff" >&2
fi
# every family of the table has its row (a second check, not the same diff)
families=$("$hlctl" --json contract | grep -o '"prefix":"[^"]*"' | wc -l)
ok test "$families" -gt 10
ok test "$(grep -c '^| `' "$tmp/got")" = "$families"
version=$("$hlctl" --json contract | grep -o '"contract":[0-9]*' | cut -d: -f2)
ok grep -q "today \*\*$version\*\*" "$doc"
checks_done static_contract_doc
