#!/usr/bin/env bash
# deploy/prometheus: promtool check config, check rules, test rules (a test
# per alert), amtool check-config; the tests must catch a broken rule; every
# metric the rules use must be one that hl-metrics exports.
set -u
: "${HL_SOURCE_DIR:?}"
P=$HL_SOURCE_DIR/deploy/prometheus
. "$HL_SOURCE_DIR/tests/common/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok promtool check config "$P/prometheus.yml"
ok promtool check rules "$P/alert_rules.yml"
ok promtool test rules "$P/alert_rules_test.yml"
ok amtool check-config "$P/alertmanager.yml"

# Every alert has a test.
for a in $(grep -o 'alert: [A-Za-z]*' "$P/alert_rules.yml" | awk '{print $2}'); do
    ok grep -q "alertname: $a\$" "$P/alert_rules_test.yml"
done

# The tests are not vacuous: a rule with a wrong threshold or a wrong metric
# name fails them.
cp "$P/alert_rules_test.yml" "$tmp/"
sed 's/) > 0.8$/) > 0.95/' "$P/alert_rules.yml" >"$tmp/alert_rules.yml"
ok bash -c "! cmp -s '$P/alert_rules.yml' '$tmp/alert_rules.yml'"
nok promtool test rules "$tmp/alert_rules_test.yml"
sed 's/node_memory_MemAvailable_bytes/memory_used_bytes/' "$P/alert_rules.yml" >"$tmp/alert_rules.yml"
nok promtool test rules "$tmp/alert_rules_test.yml"
# hl-failure's alerts: each rule on its own reason.
for r in gave-up flapping configuration-error; do
    sed "s/reason=\"$r\"/reason=\"$r-x\"/" "$P/alert_rules.yml" >"$tmp/alert_rules.yml"
    ok bash -c "! cmp -s '$P/alert_rules.yml' '$tmp/alert_rules.yml'"
    nok promtool test rules "$tmp/alert_rules_test.yml"
done
printf 'route:\n  receiver: nobody\nreceivers: []\n' >"$tmp/am.yml"
nok amtool check-config "$tmp/am.yml"

# Metric names in the rules exist: in the golden exposition of the
# collectors, among the bus-derived families (busmetrics.h), or in the
# textfile that hl-compliance writes (report.c) and hl-metrics serves.
names=$(grep -E '^\s+expr:|^\s{10}' "$P/alert_rules.yml" | grep -oE '\b(node|hl)_[A-Za-z0-9_]+\b|\bup\b' | sort -u)
ok test -n "$names"
for n in $names; do
    [ "$n" = up ] && continue
    ok bash -c "grep -q '^# TYPE $n ' '$HL_SOURCE_DIR/tests/unit/metrics/golden/full.prom' ||
                grep -qw '$n' '$HL_SOURCE_DIR/daemons/hl-metrics/busmetrics.h' ||
                grep -qw '$n' '$HL_SOURCE_DIR/daemons/hl-compliance/report.c'"
done

checks_done
