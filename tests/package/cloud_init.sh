#!/usr/bin/env bash
# deploy/cloud-init/user-data.yaml (issue #18 item 2): valid for cloud-init's
# own schema and for our stricter check; each broken variant below is refused
# by our check (the first two pass `cloud-init schema` on Debian 12: that is
# why the check exists).
set -euo pipefail
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
need cloud-init python3
ud=$HL_SOURCE_DIR/deploy/cloud-init/user-data.yaml
check=$HL_SOURCE_DIR/deploy/cloud-init/cloud-init-check.py
work=$(mktemp -d "${TMPDIR:-/tmp}/hl-ci.XXXXXX")
trap 'rm -rf "$work"' EXIT
ok cloud-init schema --config-file "$ud"
ok python3 "$check" "$ud"
ok grep -qx 'locale: C.UTF-8' "$ud"
nok sh -c "grep -v '^[[:space:]]*#' '$ud' | grep -qi NOPASSWD"

# variant NAME SED-EXPR: the file with one change; our check must refuse it.
variant() {
  sed "$2" "$ud" >"$work/$1.yaml"
  ok test "$(cmp -s "$ud" "$work/$1.yaml"; echo $?)" = 1 # the change applied
  nok python3 "$check" "$work/$1.yaml"
}
variant userz 's/^users:/userz:/'
variant null-runcmd-item '/^runcmd:/a\  -'
# (and cloud-init's own schema really lets those two through here)
ok cloud-init schema --config-file "$work/userz.yaml"
variant nopasswd-all '/lock_passwd: true/a\    sudo: ALL=(ALL) NOPASSWD:ALL'
variant curl-bash '/^runcmd:/a\  - [sh, -c, "curl -fsSL https://api.humanlayer.dev/install.sh | bash"]'
variant shell-string '/^runcmd:/a\  - systemctl start hl.target'
variant no-key '/ssh_authorized_keys:/,+1d'
variant password-ssh 's/^ssh_pwauth: false/ssh_pwauth: true/'
variant no-header '1d'
variant empty-package 's/^  - python3$/  - ""/'
printf '%s\n' '#cloud-config' 'users: [' >"$work/broken.yaml"
ok test "$(python3 "$check" "$work/broken.yaml" >/dev/null 2>&1; echo $?)" = 2
checks_done package_cloud_init
