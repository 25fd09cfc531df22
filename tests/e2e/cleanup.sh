#!/usr/bin/env bash
# e2e fixture cleanup: keeps the container's journal for the record, stops
# the container, and fails if it left anything in the host's /run.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init
if [ ! -r "$E2E_STATE" ]; then
  echo "cleanup: no container to stop"
  exit 0
fi
. "$E2E_STATE"
if [ "$(e2e__comm "$E2E_PID1")" = systemd ]; then
  e2e_exec journalctl --no-pager -o short-monotonic >"$E2E_DIR/journal.txt" 2>&1 &&
    echo "cleanup: the container's journal is in $E2E_DIR/journal.txt"
fi
if e2e_stop; then
  rm -rf "$E2E_DIR/stage"
  echo "cleanup: container $E2E_MACHINE stopped; the host's /run is as it was"
else
  echo "cleanup: FAILED"
  exit 1
fi
