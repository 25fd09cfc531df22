#!/usr/bin/env bash
# The graceful shutdown (spec 1.4), three ways:
#  A. `hlctl shutdown`: the pre-shutdown notice first, acknowledged by a
#     daemon that keeps state; then the application services, then the
#     infrastructure (from the stop order and the events); temporary files
#     removed without following links; the archive holds state, logs and
#     config (not the excluded cache; links as links), is private, is the
#     "latest", and older archives are pruned; it is hl-backup's (a full
#     backup with its manifest, which hl-backup verifies again); the
#     instance state is final.
#     A daemon of expect_ack without a running unit (t-absent) is not awaited.
#  B. `systemctl stop hl-orchestrator` alone stops nothing else: the
#     managed units outlive it.
#  C. A real system shutdown (poweroff), with the units ordered before the
#     orchestrator: the same sequence through ExecStop=, without the
#     acknowledgement this time (it waits for it, then goes on), no
#     deadlock, and still in the orchestrator's order.
set -euo pipefail
. "$(dirname "$0")/orchlib.sh"

CONFIG='
hl-orchestrator:
  health: {gate: "off"}
  phases:
    - {name: infrastructure, timeout: 30s, units: [t-s-infra.service]}
    - {name: core, timeout: 30s, units: [t-s-core.service]}
    - {name: application, timeout: 30s, units: [t-s-app-a.service, t-s-app-b.service]}
    - {name: health, timeout: 30s}
  shutdown:
    ack_timeout: 4s
    expect_ack: [t-saver, t-absent]   # t-absent: no such unit, not waited for
    temp_dirs: [/tmp]
    archive:
      dir: /var/backups/hl
      # the default paths and exclusions: state, logs, /etc/hl and the
      # directory of the config actually loaded; not /var/lib/hl/cache
      keep: 2
      max_age: 168h
'
ct_boot
orch_setup "$CONFIG" "$HERE"/units-shutdown/*.service
: > "$CT_DIR/share/stops"
ct systemctl start t-saver.service
ct systemctl start hl-orchestrator.service

# State, logs, cache, links and temporary files to be dealt with.
ct_sh '
mkdir -p /var/lib/hl/t-s-core /var/lib/hl/cache /var/log/hl /var/backups/hl
echo precious > /var/lib/hl/t-s-core/data.txt
head -c 100000 /dev/zero > /var/lib/hl/cache/big
echo "log line" > /var/log/hl/x.log
ln -s /etc/shadow /var/lib/hl/link
echo t > /tmp/hl-tmp1; mkdir -p /tmp/hl-dir/sub; echo t > /tmp/hl-dir/sub/f
echo keep > /tmp/other; ln -s /etc /tmp/hl-link
cd /var/backups/hl
echo old > hl-state-20200101T000000Z.tar.gz && touch -d "30 days ago" hl-state-20200101T000000Z.tar.gz
echo x > hl-state-20261001T000000Z.tar.gz && touch -d "2 days ago" hl-state-20261001T000000Z.tar.gz
echo y > hl-state-20261101T000000Z.tar.gz && touch -d "1 day ago" hl-state-20261101T000000Z.tar.gz
echo z > .hl-state-20261102T000000Z.tar.gz.part
'

# --- A: hlctl shutdown, acknowledged.
ct /opt/hl/bin/hlctl --json shutdown --reason "e2e test" > "$CT_DIR/report.json" 2>"$CT_DIR/report.err" &
hlctl_job=$!
ct_wait_for "the pre-shutdown notice" 20 bash -c \
    "jq -e -s 'map(select(.topic == \"lifecycle.shutdown\" and .body.step == \"pre-shutdown\")) | length == 1' '$CT_DIR/share/events.jsonl'"
id=$(ev_jq 'map(select(.topic == "lifecycle.shutdown" and .body.step == "pre-shutdown"))[0].body.id')
ev_jq -e 'map(select(.topic == "lifecycle.shutdown"))[0].body.expect_ack == ["t-saver"]' >/dev/null ||
    ct_fail "the notice does not name the daemons awaited"
# Nothing may be stopped before the daemons have saved their state.
[ ! -s "$CT_DIR/share/stops" ] || ct_fail "units stopped before the acknowledgement"
ct /opt/hl/bin/hlctl pub lifecycle.ack.t-saver "id=$id" daemon=t-saver ok=true detail=saved >/dev/null
wait "$hlctl_job" || ct_fail "hlctl shutdown failed: $(cat "$CT_DIR/report.err")"
report=$(cat "$CT_DIR/report.json")
ct_log "report: $(jq -c '[.steps[] | [.name, .outcome]]' <<<"$report")"
jq -e '.outcome == "ok" and .acked == ["t-saver"] and (.missing_acks | length == 0)
       and (.steps | map(.name) == ["pre-shutdown", "stop-applications", "stop-infrastructure", "cleanup", "archive", "instance-state"])
       and (.steps | all(.outcome == "ok"))' <<<"$report" >/dev/null || ct_fail "report: $report"

# Stop order: applications (any order among them), core, infrastructure.
order=$(tr '\n' ' ' < "$CT_DIR/share/stops")
case "$order" in
    "t-s-app-a t-s-app-b t-s-core t-s-infra "|"t-s-app-b t-s-app-a t-s-core t-s-infra ") ;;
    *) ct_fail "stop order: $order" ;;
esac
jq -e '.stopped | (index("t-s-core.service") < index("t-s-infra.service"))' <<<"$report" >/dev/null ||
    ct_fail "report's stop order"

# Cleanup: hl-* gone, links removed not followed, the rest kept.
ct_sh '[ ! -e /tmp/hl-tmp1 ] && [ ! -e /tmp/hl-dir ] && [ ! -L /tmp/hl-link ] && [ -d /etc ] && [ -f /etc/passwd ] && [ -f /tmp/other ]' ||
    ct_fail "temporary files: wrong things removed or kept"

# The archive.
latest=$(ct readlink /var/backups/hl/hl-state-latest.tar.gz)
archive=$(jq -r .archive <<<"$report")
[ "/var/backups/hl/$latest" = "$archive" ] || ct_fail "latest link '$latest' is not the archive '$archive'"
[ "$(ct stat -c %a "$archive")" = 600 ] || ct_fail "the archive is readable by others"
ct tar -tvzf "$archive" > "$CT_DIR/list"
grep -q ' var/lib/hl/t-s-core/data.txt$' "$CT_DIR/list" || ct_fail "state not archived"
grep -q ' var/log/hl/x.log$' "$CT_DIR/list" || ct_fail "logs not archived"
grep -q " ${E2E_CONFIG_FILE#/}\$" "$CT_DIR/list" || ct_fail "config not archived"
grep -q '^l.* var/lib/hl/link -> /etc/shadow$' "$CT_DIR/list" || ct_fail "the link was not stored as a link"
grep -q 'var/lib/hl/cache/' "$CT_DIR/list" && ct_fail "the excluded cache was archived"
grep -q ' etc/shadow$' "$CT_DIR/list" && ct_fail "a link was followed"
ct tar -xzOf "$archive" var/lib/hl/t-s-core/data.txt | grep -qx precious || ct_fail "archived content"
ls_backups=$(ct ls -A /var/backups/hl | tr '\n' ' ')
ct_log "backups: $ls_backups"
for gone in hl-state-20200101T000000Z.tar.gz hl-state-20261001T000000Z.tar.gz .hl-state-20261102T000000Z.tar.gz.part; do
    case " $ls_backups" in *" $gone "*) ct_fail "retention kept $gone" ;; esac
done
case " $ls_backups" in *" hl-state-20261101T000000Z.tar.gz "*) ;; *) ct_fail "retention removed the newest old archive" ;; esac
jq -e '.pruned | length == 3' <<<"$report" >/dev/null || ct_fail "pruned: $(jq -c .pruned <<<"$report")"
# Written by hl-backup, the program of the periodic backups: a full backup
# with its manifest, verified, which hl-backup itself lists and verifies again.
id=$(basename "$archive" .tar.gz)
ct test -s "/var/backups/hl/$id.manifest" || ct_fail "the archive has no manifest"
ct grep -q '^kind full$' "/var/backups/hl/$id.manifest" || ct_fail "the shutdown archive is not a full backup"
ct grep -q '^reason shutdown$' "/var/backups/hl/$id.manifest" || ct_fail "the manifest's reason"
ct /opt/hl/bin/hl-backup --config /dev/null --dir /var/backups/hl --path /var/lib/hl --json list |
    jq -e --arg id "$id" '.latest == $id and (.backups[] | select(.id == $id) | .state == "verified")' >/dev/null ||
    ct_fail "hl-backup list does not show the archive as the verified latest"
ct /opt/hl/bin/hl-backup --config /dev/null --dir /var/backups/hl --path /var/lib/hl verify "$id" >/dev/null ||
    ct_fail "hl-backup verify of the shutdown archive failed"

# The instance state, and the daemon gone (exit 0: inactive, not failed).
ct cat /var/lib/hl/hl-orchestrator/instance-state.json | jq -e --arg a "$archive" \
    '.state == "stopped" and .outcome == "ok" and .archive == $a' >/dev/null || ct_fail "instance state"
ev_jq -e 'map(select(.topic == "lifecycle.state")) | last | .body.state == "stopped"' >/dev/null ||
    ct_fail "lifecycle.state is not stopped"
ev_jq -e 'map(select(.topic == "lifecycle.instance")) | last | .body.state == "stopped"' >/dev/null ||
    ct_fail "no lifecycle.instance"
# The pre-shutdown notice came before any unit went down.
ev_jq -e '(map(.topic == "lifecycle.shutdown" and .body.step == "pre-shutdown") | index(true)) <
          (map(.topic == "service.t-s-app-a" and .body.active_state == "deactivating") | index(true))' >/dev/null ||
    ct_fail "units went down before the pre-shutdown notice"
ct_wait_for "the orchestrator to exit" 20 bash -c \
    "[ \"\$(nsenter -t $CT_PID -a systemctl show -P ActiveState hl-orchestrator.service)\" = inactive ]"
[ "$(unit_prop hl-orchestrator.service Result)" = success ] || ct_fail "the unit did not end cleanly"
[ "$(unit_prop hl-orchestrator.service NRestarts)" = 0 ] || ct_fail "systemd restarted it after the shutdown"

# --- B: `systemctl stop hl-orchestrator` alone stops nothing else: the
# managed units outlive it (ExecStop= asks for the sequence only at a system
# shutdown), and a start picks them up as they are.
: > "$CT_DIR/share/stops"
ct systemctl start hl-orchestrator.service
ct systemctl stop hl-orchestrator.service
[ ! -s "$CT_DIR/share/stops" ] || ct_fail "B: units were stopped: $(tr '\n' ' ' < "$CT_DIR/share/stops")"
for u in t-s-infra t-s-core t-s-app-a t-s-app-b; do
    [ "$(unit_prop $u.service ActiveState)" = active ] || ct_fail "B: $u is not active any more"
done
[ "$(unit_prop hl-orchestrator.service Result)" = success ] || ct_fail "B: the unit did not stop cleanly"
journal_has 'no graceful shutdown: the system is not shutting down' ||
    ct_fail "B: the skipped shutdown was not logged"

# --- C: a real system shutdown (the container powers off), the units
# ordered before the orchestrator (as hl-orchestrator.service is After= the
# default managed units): the sequence runs, in the orchestrator's order,
# without deadlock, and goes on without the acknowledgement nobody sends.
printf '[Unit]\nAfter=t-s-infra.service t-s-core.service t-s-app-a.service t-s-app-b.service\n' |
    ct_put /etc/systemd/system/hl-orchestrator.service.d/order.conf
ct systemctl daemon-reload
ct systemctl start hl-orchestrator.service
: > "$CT_DIR/share/stops"
ct systemctl poweroff --no-block
ct_wait_for "the container to power off" 120 bash -c "! kill -0 $E2E_NSPAWN 2>/dev/null"
order=$(tr '\n' ' ' < "$CT_DIR/share/stops")
case "$order" in
    "t-s-app-a t-s-app-b t-s-core t-s-infra "|"t-s-app-b t-s-app-a t-s-core t-s-infra ") ;;
    *) ct_fail "C: stop order: $order" ;;
esac
ct_log "PASS"
