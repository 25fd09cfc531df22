#!/usr/bin/env bash
# A user manager instead of the system's (bus: private:PATH, manager: user):
# the phases start user units, their state is reported, recovery works.
set -euo pipefail
. "$(dirname "$0")/orchlib.sh"

ct_boot
orch_setup 'hl-orchestrator: {}'
# root's user manager, run directly (the volatile /etc has no PAM for user@.service)
ct_sh 'mkdir -p -m 0700 /run/user/0 /etc/systemd/user
printf "[Unit]\nDescription=user stand-in\n[Service]\nType=exec\nExecStart=/bin/sleep infinity\n" > /etc/systemd/user/t-u.service
systemd-run --quiet --unit=t-usermgr -p Type=notify -E XDG_RUNTIME_DIR=/run/user/0 /usr/lib/systemd/systemd --user'
user() { ct env XDG_RUNTIME_DIR=/run/user/0 systemctl --user "$@"; }
ct_wait_for "the user manager" 20 user is-system-running
printf '%s\n' '
hl-orchestrator:
  bus: private:/run/user/0/systemd/private
  manager: user
  health: {gate: "off"}
  phases:
    - {name: one, timeout: 30s, units: [t-u.service]}
  watch: []
' | ct_put /etc/hl/user.yaml
ct systemd-run --quiet --unit=t-orch-user -p Type=notify -p NotifyAccess=main -E HL_RUNTIME_DIR=/run/hl \
    /opt/hl/bin/hl-orchestrator --config /etc/hl/user.yaml
[ "$(user is-active t-u.service)" = active ] || ct_fail "the user unit was not started"
ct_wait_for "service.t-u" 10 grep -q '"unit":"t-u.service","active_state":"active"' "$CT_DIR/share/events.jsonl"
pid=$(user show -P MainPID t-u.service)
ct /opt/hl/bin/hlctl recover t-u --type restart >/dev/null || ct_fail "recover in the user manager"
[ "$(user show -P MainPID t-u.service)" != "$pid" ] || ct_fail "not restarted"
ct systemctl stop t-orch-user
ct_log "PASS"
