#!/usr/bin/env bash
# hlctl check's range parser agrees with the monitoring-plugins' own Perl
# library (Monitoring::Plugin::Range, Debian's libmonitoring-plugin-perl) on
# every range of the syntax and values around each bound: same alert/ok
# verdict, and the same ranges refused.
set -u
: "${HL_SOURCE_DIR:?}" "${HL_RANGE_EVAL:?}"
. "$HL_SOURCE_DIR/tests/common/lib.sh"
need perl
perl -MMonitoring::Plugin::Range -e 1 2>/dev/null ||
    skip "Monitoring::Plugin is not installed (libmonitoring-plugin-perl, scripts/install-deps.sh)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ranges="10 10: ~:10 10:20 @10:20 @10 @~:10 @10: :5 -5:5 -5: ~:-5 0.5:1.5 .5 @0 0 5:5 20:10 abc 10:abc ~ @ 1e3 2.5e-1: 1.:2 . 1e inf"
values="-100 -5.5 -5 -4.9 0 0.4 0.5 1 1.5 1.6 4.9 5 5.1 9.99 10 10.01 15 19.9 20 20.1 1000"
for r in $ranges; do for v in $values; do echo "$r $v"; done; done >"$tmp/in"
"$HL_RANGE_EVAL" --eval <"$tmp/in" >"$tmp/ours"
ok test "$(wc -l <"$tmp/ours")" = "$(wc -l <"$tmp/in")"
perl -MMonitoring::Plugin::Range -ne '
    chomp; my ($r, $v) = split / /;
    my $range = Monitoring::Plugin::Range->parse_range_string($r);
    print "$r $v ", (!defined $range ? "invalid" : $range->check_range($v) ? "alert" : "ok"), "\n";
' <"$tmp/in" >"$tmp/theirs" 2>"$tmp/perl.err"
ok test "$(wc -l <"$tmp/theirs")" = "$(wc -l <"$tmp/in")"
if diff "$tmp/theirs" "$tmp/ours" >"$tmp/diff"; then
    pass=$((pass + 1))
else
    fail_check "hlctl's ranges disagree with Monitoring::Plugin::Range (< theirs, > ours):"
    cat "$tmp/diff" >&2
fi
# the grid is not vacuous: both kinds of verdict and refusals occur
for w in alert ok invalid; do ok grep -q " $w\$" "$tmp/ours"; done
echo "$(wc -l <"$tmp/in") range/value pairs compared"
checks_done unit_check_range_perl
