#!/usr/bin/env bash
# deploy/systemd/hl-metrics.service: systemd-analyze verify accepts it (with
# stand-ins for the units it names that live elsewhere), and its sandbox keeps
# `systemd-analyze security` at or below 2.0, the bar the other units keep.
set -u
: "${HL_SOURCE_DIR:?}" "${HL_BUILD_DIR:?}"
if [ "${1:-}" != --inside ]; then
    # systemd-analyze must not leave anything in the host's /run
    exec unshare --mount --propagation private bash "$0" --inside
fi
. "$HL_SOURCE_DIR/tests/common/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# a private /run: nothing systemd-analyze creates there reaches the host
mount -t tmpfs tmpfs /run || { echo "cannot mount a private /run" >&2; exit 1; }
# hl-metrics' unit beside the bus units it names, as cmake configured them
# (the shared sandbox filled in), with the programs of the build tree
# (tests/deploy/check_units.sh checks the installed set; this is the quick,
# build-tree check of this one unit).
bindir=$(sed -n 's|^ExecStart=\(.*\)/hl-metrics .*|\1|p' "$HL_BUILD_DIR/deploy/systemd/hl-metrics.service")
for u in hl-metrics.service hl-bus.service hl-bus-pub.socket hl-bus-sub.socket hl.target; do
    sed -e "s|^ExecStart=$bindir/hl-metrics|ExecStart=$HL_BUILD_DIR/daemons/hl-metrics/hl-metrics|" \
        -e "s|^ExecStart=$bindir/hl-bus|ExecStart=$HL_BUILD_DIR/daemons/hl-bus/hl-bus|" \
        "$HL_BUILD_DIR/deploy/systemd/$u" >"$tmp/$u"
done
out=$(cd "$tmp" && systemd-analyze verify ./hl-metrics.service 2>&1); rc=$?
ok test $rc = 0
ok test -z "$out" || echo "$out" >&2
score=$(cd "$tmp" && systemd-analyze security --offline=true ./hl-metrics.service 2>/dev/null |
        grep -o 'Overall exposure level for hl-metrics.service: [0-9.]*' | awk '{print $NF}')
ok test -n "$score"
ok awk -v s="$score" 'BEGIN{exit !(s <= 2.0)}'
echo "exposure $score"
# the daemon keeps what an exporter needs
ok grep -q '^PrivateNetwork=no' "$tmp/hl-metrics.service"
# all of /proc: the last assignment (after the shared sandbox's) wins
last() { grep "^$1=" "$tmp/hl-metrics.service" | tail -1; }
ok test "$(last ProcSubset)" = ProcSubset=all
ok test "$(last ProtectProc)" = ProtectProc=default
ok grep -q '^Type=notify' "$tmp/hl-metrics.service"
ok grep -q '^WatchdogSec=' "$tmp/hl-metrics.service"
ok grep -q '^SystemCallFilter=sched_setscheduler' "$tmp/hl-metrics.service"
checks_done
