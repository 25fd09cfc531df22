# Helpers shared by hl-orchestrator's end-to-end scenarios (on top of ctlib.sh).
#
#   orch_setup CONFIG_YAML [UNIT_FILE...]   users, bus, units, config, tap
#   ev_jq FILTER        runs jq -s over the events seen so far
#   unit_prop UNIT PROP systemctl show -P inside
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ctlib.sh
. "$HERE/ctlib.sh"

EVENTS=/share/events.jsonl

unit_prop() { ct systemctl show -P "$2" "$1"; }

ev_jq() { jq -s "$@" "$CT_DIR/share/events.jsonl"; }

# Writes a file inside the container from stdin.
ct_put() { ct /bin/bash -c "mkdir -p \"\$(dirname '$1')\" && cat > '$1'"; }

orch_setup() {
    local config=$1
    shift
    local stage=/opt/hl-e2e/stage
    # What the package and cloud-init would do (as tests/e2e/container-install.sh),
    # but nothing enabled or started: the scenario decides.
    ct_sh "systemd-sysusers $stage$E2E_SYSUSERSDIR/*.conf >/dev/null
           systemd-tmpfiles --create $stage$E2E_TMPFILESDIR/*.conf
           install -d /etc/systemd/system
           cp -a $stage$E2E_UNITDIR/. /etc/systemd/system/
           mkdir -p /etc/hl /var/lib/hl /var/log/hl"
    for u in "$@"; do
        ct_put "/etc/systemd/system/$(basename "$u")" < "$u"
    done
    # Tests restart a killed orchestrator at once. A sanitizer build's leak
    # check stops the threads with ptrace, which the seccomp filter forbids.
    local dropin='[Service]\nRestartSec=100ms\n'
    grep -q '^HL_SANITIZE:BOOL=ON' "$HL_BUILD_DIR/CMakeCache.txt" 2>/dev/null &&
        dropin="$dropin"'SystemCallFilter=\n'
    printf "$dropin" | ct_put /etc/systemd/system/hl-orchestrator.service.d/test.conf
    printf '%s\n' "$config" | ct_put "$E2E_CONFIG_FILE"
    ct systemctl daemon-reload
    ct systemctl start hl-bus-pub.socket hl-bus-sub.socket hl-bus.service
    # A tap on the bus, as a unit of its own, into /share/events.jsonl.
    ct systemd-run --unit=t-tap --quiet -p StandardOutput=file:$EVENTS -p StandardError=journal \
        -E HL_RUNTIME_DIR=/run/hl /opt/hl/bin/hlctl sub service. lifecycle. recovery. health. test.
    ct_wait_for "the tap to receive" 20 tap_sees_marker
}

tap_sees_marker() {
    ct /opt/hl/bin/hlctl pub test.marker hello=1 >/dev/null
    grep -q '"test.marker"' "$CT_DIR/share/events.jsonl"
}

# The orchestrator's main PID inside the container (0 when none).
orch_pid() { unit_prop hl-orchestrator.service MainPID; }

# Whether the journal of UNIT (default hl-orchestrator) has a line matching
# PATTERN. (Not `journalctl | grep -q`: grep's early exit would make
# journalctl die of SIGPIPE and fail the pipeline under pipefail.)
journal_has() {
    local pattern=$1 unit=${2:-hl-orchestrator}
    ct journalctl -u "$unit" --no-pager -o cat > "$CT_DIR/journal.txt" 2>/dev/null || true
    grep -q -- "$pattern" "$CT_DIR/journal.txt"
}
