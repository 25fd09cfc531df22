#!/usr/bin/env bash
# The docs are checked against the tree, so that they cannot drift:
#   * docs/e2e.md's scenario table has one row per tests/e2e/scenarios/*.sh
#     (the ctest name e2e.<name>) and none for a scenario that is gone;
#   * its block of exposure scores lists every service unit we install
#     (and the e2e units) with the score systemd-analyze gives it today;
#   * every Documentation=file:// path of an installed unit is a file that
#     `cmake --install` installs.
# Each finding says what to write where.
set -u
if [ "${1:-}" != --private-run ]; then
  # systemd-analyze touches /run/systemd/systemd-units-load: keep it off the
  # host's /run (see tests/e2e/lib.sh, e2e__run_snapshot).
  exec unshare --mount --propagation private -- bash "$0" --private-run "$@"
fi
shift
mount -n -t tmpfs -o mode=0755,size=1m tmpfs /run/systemd || skip "cannot mount a private /run/systemd"
: "${HL_SOURCE_DIR:?}" "${HL_BUILD_DIR:?}"
. "$HL_SOURCE_DIR/tests/common/lib.sh"
doc=$HL_SOURCE_DIR/docs/e2e.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- the scenario table: rows "| `e2e.NAME` | ... |"
for s in "$HL_SOURCE_DIR"/tests/e2e/scenarios/*.sh; do
  f=$(basename "$s" .sh)
  name=e2e.${f#[0-9]*-}
  if grep -q "^| \`$name\` |" "$doc"; then
    pass=$((pass + 1))
  else
    fail_check "docs/e2e.md: scenario tests/e2e/scenarios/$f.sh (ctest $name) has no row in the" \
      "table under 'Scenarios': add a line '| \`$name\` | what it shows |' (first line of its comment: $(sed -n '2s/^# //p' "$s"))"
  fi
done
for name in $(sed -n 's/^| `\(e2e\.[a-z0-9-]*\)` |.*/\1/p' "$doc"); do
  if ls "$HL_SOURCE_DIR"/tests/e2e/scenarios/[0-9]*-"${name#e2e.}".sh >/dev/null 2>&1; then
    pass=$((pass + 1))
  else
    fail_check "docs/e2e.md: the table row for $name names no scenario in tests/e2e/scenarios/: remove it"
  fi
done

# --- exposure scores, as tests/deploy/check_units.sh prints them
score() { # score UNIT_FILE: "N.N WORD"
  systemd-analyze security --offline=true --no-pager "$1" 2>/dev/null |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p'
}
units=$(ls "$HL_BUILD_DIR"/deploy/systemd/*.service "$HL_BUILD_DIR"/tests/e2e/units/hl-*.service 2>/dev/null)
ok test -n "$units"
want=$tmp/scores
for u in $units; do
  printf 'exposure %-28s %s\n' "$(basename "$u")" "$(score "$u")"
done | sort >"$want"
got=$tmp/doc-scores
sed -n '/^exposure /p' "$doc" | sed 's| (managed service: docs/sandbox.md)$||' | sort >"$got"
if diff -q "$want" "$got" >/dev/null; then
  pass=$((pass + 1))
else
  fail_check "docs/e2e.md: the exposure scores under 'Static checks' are not today's; the block should read:"
  sed -E 's#^(exposure (claude-code|hl-daemon|hl-service@)\.service +[0-9.]+ [A-Z]+)$#\1 (managed service: docs/sandbox.md)#' "$want" >&2
  echo "  (differences, < today > docs:)" >&2
  diff "$want" "$got" >&2
fi

# --- Documentation= of the installed units points at installed files
if DESTDIR=$tmp/stage cmake --install "$HL_BUILD_DIR" >/dev/null 2>"$tmp/install.err"; then
  for u in $(find "$tmp/stage" -path '*/systemd/system/*' -name '*.service'); do
    for d in $(sed -n 's/^Documentation=//p' "$u"); do
      case $d in
        file://*)
          p=${d#file://}
          if [ -f "$tmp/stage$p" ]; then pass=$((pass + 1)); else
            fail_check "$(basename "$u"): Documentation=$d is not installed (cmake --install puts no file there)"
          fi ;;
        man:*|http://*|https://*|info:*) pass=$((pass + 1)) ;;
        *) fail_check "$(basename "$u"): Documentation=$d is not a URL systemd accepts" ;;
      esac
    done
  done
else
  fail_check "cmake --install failed: $(cat "$tmp/install.err")"
fi
checks_done docs
