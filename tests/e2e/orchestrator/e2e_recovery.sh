#!/usr/bin/env bash
# Recovery actions (spec 2.2.2) as requests, and who may ask for them:
#  restart: a new process; reset: stop, state directory emptied (the
#  directory kept, links inside removed not followed), stale pid/lock files
#  removed but a lock held by a live process kept, start; rebuild without a
#  rebuild_command (the default): the built-in one, a reset that also makes
#  systemd forget the unit's failures and read its unit file again; rebuild
#  with one: stop, the command while the unit is down, start. Each is published as
#  recovery.<name>. A state directory that is a link out of /var/lib/hl is
#  refused. Read-only methods are open to group hl; changes need root or
#  the admin group; others cannot reach the socket at all.
set -euo pipefail
. "$(dirname "$0")/orchlib.sh"

CONFIG='
admin_group: hl-admin
hl-orchestrator:
  health: {gate: "off"}
  phases:
    - {name: infrastructure, timeout: 30s, units: []}
    - {name: core, timeout: 30s, units: [t-rc.service]}
    - {name: application, timeout: 30s, units: []}
    - {name: health, timeout: 30s}
  manage: [t-evil.service]
'
ct_boot
orch_setup "$CONFIG" "$HERE"/units-recovery/*.service
ct systemctl start hl-orchestrator.service
ct_sh 'useradd -M -G hl alice; useradd -M -G hl,hl-admin bob; useradd -M eve'
# setpriv, not runuser: the volatile /etc has no PAM configuration.
as() { local u=$1; shift; ct setpriv --reuid="$u" --regid="$(ct id -g "$u")" --init-groups -- /opt/hl/bin/hlctl "$@"; }

# --- restart
pid0=$(unit_prop t-rc.service MainPID)
ct /opt/hl/bin/hlctl recover t-rc --type restart --reason "e2e" || ct_fail "restart failed"
pid1=$(unit_prop t-rc.service MainPID)
[ "$pid1" -gt 0 ] && [ "$pid1" != "$pid0" ] || ct_fail "restart: no new process ($pid0 → $pid1)"
ct_wait_for "recovery.t-rc ok (restart)" 10 bash -c "jq -e -s 'map(select(.topic == \"recovery.t-rc\" and .body.type == \"restart\" and .body.outcome == \"ok\")) | length == 1' '$CT_DIR/share/events.jsonl'"
ev_jq -e 'map(select(.topic == "recovery.t-rc" and .body.type == "restart"))[0].body.outcome == "running"' >/dev/null ||
    ct_fail "no 'running' event before the outcome"

# --- reset
ct_sh '
mkdir -p /var/lib/hl/t-rc/sub; echo db > /var/lib/hl/t-rc/db; echo x > /var/lib/hl/t-rc/sub/x
ln -s /etc/passwd /var/lib/hl/t-rc/passwd-link; ln -s /etc /var/lib/hl/t-rc/etc-link
'
ct_wait_for "the stand-in's pid file" 10 bash -c "[ \"\$(nsenter -t $CT_PID -a cat /run/hl/t-rc.pid)\" = $pid1 ]"
out=$(ct /opt/hl/bin/hlctl recover t-rc --type reset) || ct_fail "reset failed"
ct_log "reset: $(tr '\n' '|' <<<"$out")"
ct_wait_for "the new run to write its state" 10 ct test -e /var/lib/hl/t-rc/runs
ct_sh '[ -d /var/lib/hl/t-rc ] && [ "$(ls -A /var/lib/hl/t-rc)" = runs ] && [ "$(cat /var/lib/hl/t-rc/runs)" = run ]' ||
    ct_fail "reset: the state directory was not emptied (only the new run may be there)"
ct_sh '[ -f /etc/passwd ] && [ -d /etc/systemd ]' || ct_fail "reset: followed a link"
pid2=$(unit_prop t-rc.service MainPID)
ct_wait_for "the new pid file" 10 bash -c "[ \"\$(nsenter -t $CT_PID -a cat /run/hl/t-rc.pid)\" = $pid2 ]"
grep -q 'stale pid/lock files: 2 removed' <<<"$out" || ct_fail "reset: stale files not reported"
ev_jq -e 'map(select(.topic == "recovery.t-rc" and .body.type == "reset")) | last | .body.outcome == "ok"
          and .body.steps[0] == "stop t-rc.service: done" and (.body.steps[-1] | startswith("start t-rc.service"))
          and .body.removed >= 6' >/dev/null || ct_fail "reset: recovery.t-rc event"

# A lock held by a live process is not stale.
ct systemd-run --unit=t-locker --quiet /usr/bin/flock /run/lock/hl/t-rc.lock /bin/sleep infinity
ct_wait_for "the lock to be held" 10 bash -c "! nsenter -t $CT_PID -a flock -n /run/lock/hl/t-rc.lock true"
ct /opt/hl/bin/hlctl recover t-rc --type reset >/dev/null || ct_fail "reset with a held lock failed"
ct test -e /run/lock/hl/t-rc.lock || ct_fail "reset removed a lock file in use"
journal_has 'kept /run/lock/hl/t-rc.lock: locked by a running process' ||
    ct_fail "the kept lock was not explained"
ct systemctl stop t-locker

# A state directory that leads out of /var/lib/hl is refused.
ct ln -s /etc /var/lib/hl/t-evil
ct systemctl start t-evil.service
if out=$(ct /opt/hl/bin/hlctl recover t-evil --type reset 2>&1); then ct_fail "reset through a link succeeded"; fi
grep -q 'symbolic link' <<<"$out" || ct_fail "reset through a link: unclear error: $out"
ct_sh '[ -f /etc/passwd ] && [ -d /etc/systemd ]' || ct_fail "reset followed /var/lib/hl/t-evil"
[ "$(unit_prop t-evil.service ActiveState)" = active ] || ct_fail "t-evil was left down"

# --- rebuild, built in (no rebuild_command: the shipped default). It is not
# refused: it empties the state as reset does, forgets the unit's failures,
# and reads its unit file again (a line added since takes effect).
ct_sh 'echo db > /var/lib/hl/t-rc/db
       cp /etc/systemd/system/t-rc.service /run/t-rc.service.orig
       echo "ExecStartPost=/bin/sh -c \"echo rebuilt > /run/t-rc-rebuilt\"" >> /etc/systemd/system/t-rc.service'
[ "$(unit_prop t-rc.service NeedDaemonReload)" = yes ] || ct_fail "the changed unit file is not pending"
pid=$(unit_prop t-rc.service MainPID)
out=$(ct /opt/hl/bin/hlctl recover t-rc --type rebuild 2>&1) || ct_fail "built-in rebuild failed: $out"
ct_log "built-in rebuild: $(tr '\n' '|' <<<"$out")"
ct test ! -e /var/lib/hl/t-rc/db || ct_fail "built-in rebuild: the state was kept"
ct test -e /run/t-rc-rebuilt || ct_fail "built-in rebuild: the unit file was not read again"
[ "$(unit_prop t-rc.service NeedDaemonReload)" = no ] || ct_fail "built-in rebuild: no daemon-reload"
[ "$(unit_prop t-rc.service ActiveState)" = active ] || ct_fail "built-in rebuild: not started again"
[ "$(unit_prop t-rc.service MainPID)" != "$pid" ] || ct_fail "built-in rebuild: the same process"
ct_wait_for "recovery.t-rc ok (built-in rebuild)" 10 bash -c "jq -e -s 'map(select(.topic == \"recovery.t-rc\" and .body.type == \"rebuild\" and .body.outcome == \"ok\")) | length == 1' '$CT_DIR/share/events.jsonl'"
ev_jq -e 'map(select(.topic == "recovery.t-rc" and .body.type == "rebuild" and .body.outcome == "ok"))[0].body.steps
          | (map(select(startswith("stop t-rc.service: done"))) | length == 1)
            and (map(select(startswith("clear /var/lib/hl/t-rc"))) | length == 1)
            and (map(select(startswith("reset-failed t-rc.service: done"))) | length == 1)
            and (map(select(startswith("daemon-reload: done"))) | length == 1)
            and (.[-1] | startswith("start t-rc.service: done"))' >/dev/null ||
    ct_fail "built-in rebuild: recovery.t-rc steps"
ct_sh 'mv /run/t-rc.service.orig /etc/systemd/system/t-rc.service; rm -f /run/t-rc-rebuilt
       systemctl daemon-reload' 

# --- rebuild with a rebuild_command (a reload takes it): the command runs
# while the unit is down, and wins over the built-in one.
printf '%s\n' "$CONFIG" '  recovery:' \
    '    rebuild_command: [/bin/sh, -c, "echo %n $(systemctl is-active %u) >> /share/rebuilds"]' |
    ct_put "$E2E_CONFIG_FILE"
ct /opt/hl/bin/hlctl call hl-orchestrator reload >/dev/null || ct_fail "reload with a rebuild_command"
ct /opt/hl/bin/hlctl recover t-rc --type rebuild >/dev/null || ct_fail "rebuild failed"
[ "$(cat "$CT_DIR/share/rebuilds")" = "t-rc inactive" ] || ct_fail "rebuild: $(cat "$CT_DIR/share/rebuilds")"
[ "$(unit_prop t-rc.service ActiveState)" = active ] || ct_fail "rebuild: not started again"

# --- who may
as alice services >/dev/null || ct_fail "a member of hl cannot list services"
as alice phases >/dev/null || ct_fail "a member of hl cannot list phases"
pid=$(unit_prop t-rc.service MainPID)
if out=$(as alice recover t-rc --type restart 2>&1); then ct_fail "a non-admin could recover"; fi
grep -q 'permission denied' <<<"$out" || ct_fail "non-admin: unclear refusal: $out"
if as alice restart t-rc 2>/dev/null; then ct_fail "a non-admin could restart"; fi
if as alice shutdown 2>/dev/null; then ct_fail "a non-admin could shut down"; fi
[ "$(unit_prop t-rc.service MainPID)" = "$pid" ] || ct_fail "the refused request still did something"
as bob restart t-rc >/dev/null || ct_fail "an admin-group member was refused"
if out=$(as eve services 2>&1); then ct_fail "someone outside group hl reached the socket"; fi
grep -q 'permission denied' <<<"$out" || ct_fail "outsider: unclear refusal: $out"
# Units the orchestrator does not manage are off limits even for root.
if out=$(ct /opt/hl/bin/hlctl restart dbus 2>&1); then ct_fail "restarted an unmanaged unit"; fi
grep -q 'not managed' <<<"$out" || ct_fail "unmanaged: unclear refusal: $out"
# Bad requests get clear errors, and change nothing.
bad() {
    local want=$1; shift
    local out
    if out=$(ct /opt/hl/bin/hlctl call hl-orchestrator "$@" 2>&1); then ct_fail "accepted: $*"; fi
    grep -q -- "$want" <<<"$out" || ct_fail "for '$*': expected '$want' in: $out"
}
bad 'unit= is required' recover
bad 'restart, reset or rebuild' recover unit=t-rc type=explode
bad 'not a unit name' start 'unit=../../etc/passwd'
bad 'not managed' stop unit=ssh.service
bad 'has no method' reboot
ct /opt/hl/bin/hlctl call hl-orchestrator recover unit=t-rc type=rebuild > /dev/null || ct_fail "a good request after bad ones"
ct_log "PASS"
