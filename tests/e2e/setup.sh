#!/usr/bin/env bash
# e2e fixture setup: stage the build, boot the container, install and start
# the stack. The container outlives this script; cleanup.sh stops it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init
if ! why=$(e2e_can_run); then
  printf '\n%s\n!!! SKIPPING the end-to-end tier: %s\n!!! (it needs root, systemd-nspawn and nsenter)\n%s\n\n' \
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' "$why" \
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
  exit 77
fi
e2e_stage
# A ctest run killed before its cleanup must not leave the container running
# for ever: it powers off after this long in any case.
e2e_boot "${HL_E2E_MAX_LIFETIME:-1800}"
e2e_install --with-test-units
e2e_exec systemctl list-units --no-legend --plain 'hl*' 'claude-code*' | sed 's/^/  /'
echo "setup: container $E2E_MACHINE up; stack active"
