# A throw-away system-mode systemd in a container, for hl-orchestrator's
# end-to-end tests (DESIGN.md, "Real systemd on these machines"): the host's
# /usr booted volatile with systemd-nspawn inside a private mount namespace
# (tmpfs on /run/systemd), the build installed under /opt/hl and bound in.
#
#   ct_boot            boots; sets CT_PID (the container's PID 1) and CT_DIR
#   ct CMD...          runs CMD inside (all namespaces), stdin passed through
#   ct_sh 'script'     runs a shell script inside
#   ct_stop            powers off and waits; ct_boot arms it on EXIT
#   ct_wait_for DESC DEADLINE_S CMD...   polls a condition inside until true
#
# Needs: systemd-nspawn (systemd-container), nsenter/unshare (util-linux).
set -euo pipefail

: "${HL_BUILD_DIR:?HL_BUILD_DIR is not set}"
: "${HL_SOURCE_DIR:?HL_SOURCE_DIR is not set}"

CT_PID=
CT_NSPAWN=
CT_DIR=

ct_log() { printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }
ct_fail() { ct_log "FAIL: $*"; exit 1; }

ct() { nsenter -t "$CT_PID" -a --wdns=/ env -i PATH=/opt/hl/bin:/usr/sbin:/usr/bin:/sbin:/bin HL_RUNTIME_DIR=/run/hl "$@"; }
ct_sh() { ct /bin/bash -euo pipefail -c "$1"; }

# ct_wait_for DESCRIPTION DEADLINE_S COMMAND...: the condition is checked
# every 50 ms until it holds; failing the test at the deadline.
ct_wait_for() {
    local what=$1 deadline=$2
    shift 2
    local end=$(( $(date +%s%N) + deadline * 1000000000 ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$end" ] || ct_fail "timed out after ${deadline}s waiting for: $what"
        sleep 0.05
    done
}

ct_install() {
    # The build, installed as a package would be, under /opt/hl.
    DESTDIR="$CT_DIR/dest" cmake --install "$HL_BUILD_DIR" --prefix /opt/hl >/dev/null
    mkdir -p "$CT_DIR/dest/opt/hl/bin"
    for f in "$@"; do cp "$f" "$CT_DIR/dest/opt/hl/bin/"; done
}

ct_boot() {
    CT_DIR=$(mktemp -d /tmp/hl-orch-e2e.XXXXXX)
    trap ct_stop EXIT
    ct_install "$@"
    systemd-id128 new > "$CT_DIR/machine-id"
    mkdir -p "$CT_DIR/share"
    unshare --mount --propagation private /bin/bash -c '
        mount -t tmpfs -o mode=0755 tmpfs /run/systemd
        exec systemd-nspawn -D / --volatile=yes --register=no --keep-unit --private-network \
            --console=passive --quiet --bind-ro="$1/machine-id:/etc/machine-id" \
            --bind-ro="$1/dest/opt/hl:/opt/hl" --bind="$1/share:/share" -b \
            systemd.mask=systemd-machine-id-commit.service systemd.firstboot=off' \
        ct-boot "$CT_DIR" >"$CT_DIR/console.log" 2>&1 &
    CT_NSPAWN=$!
    local end=$(( $(date +%s) + 30 ))
    while [ -z "$CT_PID" ]; do
        CT_PID=$(pgrep -P "$CT_NSPAWN" -x systemd || true)
        [ -n "$CT_PID" ] && break
        kill -0 "$CT_NSPAWN" 2>/dev/null || { cat "$CT_DIR/console.log" >&2; ct_fail "nspawn exited"; }
        [ "$(date +%s)" -lt "$end" ] || ct_fail "the container did not start"
        sleep 0.05
    done
    local state=
    # PID 1 takes a moment to open its bus; until then systemctl cannot ask.
    end=$(( $(date +%s) + 60 ))
    while :; do
        state=$(timeout 60 nsenter -t "$CT_PID" -a systemctl is-system-running --wait 2>/dev/null || true)
        [ -n "$state" ] && break
        [ "$(date +%s)" -lt "$end" ] || break
        sleep 0.05
    done
    case "$state" in
        running|degraded) ct_log "container up (PID 1 = $CT_PID, $state)" ;;
        *) ct_fail "the container's systemd is '$state'" ;;
    esac
}

ct_stop() {
    local rc=$?
    if [ -n "$CT_NSPAWN" ] && kill -0 "$CT_NSPAWN" 2>/dev/null; then
        if [ -n "${CT_DEBUG:-}" ] && [ -n "$CT_PID" ]; then
            nsenter -t "$CT_PID" -a journalctl --no-pager -o short-precise -u hl-orchestrator -u 't-*' >&2 || true
            cat "$CT_DIR/share/events.jsonl" >&2 || true
        fi
        if [ "$rc" -ne 0 ] && [ -n "$CT_PID" ]; then
            ct_log "--- journal of the failed test ---"
            nsenter -t "$CT_PID" -a journalctl --no-pager -o short-precise -n 300 >&2 || true
        fi
        [ -n "$CT_PID" ] && nsenter -t "$CT_PID" -a systemctl poweroff --no-block >/dev/null 2>&1 || true
        local end=$(( $(date +%s) + 20 ))
        while kill -0 "$CT_NSPAWN" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
        kill -KILL "$CT_NSPAWN" 2>/dev/null || true
        wait "$CT_NSPAWN" 2>/dev/null || true
    fi
    [ -n "$CT_DIR" ] && rm -rf "$CT_DIR"
    CT_NSPAWN=
    return $rc
}
