# hl-orchestrator's end-to-end scenarios each boot a container of their own
# (their own config, kills, shutdowns of the whole stack), with the shared
# tier's library (tests/e2e/lib.sh): the build staged with `cmake --install`
# and bound at its prefix, systemd-nspawn in a private mount namespace, the
# host's /run checked afterwards. Unlike the shared fixture nothing is
# enabled: each scenario installs the units, starts the bus and then the
# orchestrator when it wants to.
#
#   ct_boot [PROGRAM...]  boots (PROGRAMs are added to the installed bin dir);
#                         sets CT_PID (the container's PID 1) and CT_DIR
#   ct CMD...             runs CMD inside, as root
#   ct_sh 'script'        runs a shell script inside
#   ct_stop               powers off and checks /run; armed on EXIT by ct_boot
#   ct_wait_for DESC DEADLINE_S CMD...   polls a condition until it holds
#
# Inside, /share is a directory the host sees as $CT_DIR/share, and
# /opt/hl/bin the installed programs.
set -euo pipefail

: "${HL_BUILD_DIR:?HL_BUILD_DIR is not set}"
: "${HL_SOURCE_DIR:?HL_SOURCE_DIR is not set}"
# shellcheck source=../lib.sh
. "$HL_SOURCE_DIR/tests/e2e/lib.sh"

CT_PID=
CT_DIR=

ct_log() { printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }
ct_fail() { ct_log "FAIL: $*"; exit 1; }

ct() { e2e_exec env PATH=/opt/hl/bin:$E2E_PATH HL_RUNTIME_DIR=/run/hl "$@"; }
ct_sh() { ct /bin/bash -euo pipefail -c "$1"; }

# ct_wait_for DESCRIPTION DEADLINE_S COMMAND...: the condition is checked
# every 50 ms until it holds; the test fails at the deadline.
ct_wait_for() {
    local what=$1 deadline=$2
    shift 2
    wait_for "$deadline" "$@" || ct_fail "timed out after ${deadline}s waiting for: $what"
}

ct_boot() {
    e2e_init
    if ! why=$(e2e_can_run); then
        echo "SKIPPING: $why" >&2
        exit 77
    fi
    mkdir -p "$HL_BUILD_DIR/tests/e2e"
    # A container of our own: not the shared fixture's directory.
    E2E_DIR=$(mktemp -d "$HL_BUILD_DIR/tests/e2e/orch.XXXXXX")
    E2E_STATE=$E2E_DIR/state
    E2E_MACHINE_PREFIX=hl-orch
    CT_DIR=$E2E_DIR
    trap ct_stop EXIT
    e2e_stage
    local f
    for f in "$@"; do install -m 0755 "$f" "$E2E_DIR/stage$E2E_BINDIR/"; done
    mkdir -p "$E2E_DIR/stage$E2E_PREFIX/.orch-share"
    e2e_boot 900
    CT_PID=$E2E_PID1
    ln -s "stage$E2E_PREFIX/.orch-share" "$CT_DIR/share"
    e2e_sh "mkdir -p /share /opt/hl && mount --bind $E2E_PREFIX/.orch-share /share &&
            ln -s $E2E_BINDIR /opt/hl/bin"
    ct_log "container $E2E_MACHINE up (PID 1 = $CT_PID)"
}

ct_stop() {
    local rc=$?
    if [ -n "$CT_DIR" ] && [ -r "$E2E_STATE" ]; then
        if [ -n "${CT_DEBUG:-}" ]; then
            e2e_exec journalctl --no-pager -o short-precise -u hl-orchestrator -u 't-*' >&2 || true
            cat "$CT_DIR/share/events.jsonl" >&2 || true
        fi
        if [ "$rc" -ne 0 ]; then
            ct_log "--- journal of the failed test ---"
            e2e_exec journalctl --no-pager -o short-precise -n 200 >&2 || true
        fi
        e2e_stop || rc=1
    fi
    [ -n "$CT_DIR" ] && rm -rf "$CT_DIR"
    CT_DIR=
    return $rc
}
