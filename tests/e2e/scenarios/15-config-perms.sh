#!/usr/bin/env bash
# The installed config is root:hl 0640 (#12 item 4): the daemons read it, a
# local user outside group hl cannot, and the running stack started on it.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-bus.service

conf=$E2E_CONFIG_FILE
confdir=$(dirname "$conf")
e2e_ok test "$(e2e_exec stat -c '%a %U %G' "$conf")" = "640 root hl"
e2e_ok test "$(e2e_exec stat -c '%a %U %G' "$confdir/hl.d")" = "750 root hl"
e2e_exec sh -c 'id e2e-outsider >/dev/null 2>&1 || useradd --no-create-home --user-group e2e-outsider'
e2e_exec setpriv --reuid=e2e-outsider --regid="$(e2e_exec id -g e2e-outsider)" --init-groups -- \
  cat "$conf" >/dev/null 2>&1
e2e_ok test $? != 0
# hl-bus (its own user, group hl) read it: it runs, and --check-config as
# that user passes
e2e_ok e2e_hlctl ping hl-bus
user=$(e2e_exec systemctl show -P User hl-bus.service)
e2e_ok test -n "$user"
e2e_ok e2e_exec setpriv --reuid="${user:-hl-bus}" --regid=hl --init-groups -- \
  "$E2E_BINDIR/hl-bus" --check-config --config "$conf"
e2e_exec sh -c 'userdel e2e-outsider; groupdel e2e-outsider 2>/dev/null; true'
