#!/usr/bin/env bash
# Runs the hl-freestyle stack under a real systemd, the way the end-to-end
# tier does (tests/e2e/lib.sh): a throw-away container booted with
# systemd-nspawn from this machine's /usr, the build installed into it with
# `cmake --install`, the default config, every unit enabled. The managed
# services are the test stand-ins (tests/fixtures) at the spec's paths.
#
#   scripts/run-local.sh [start]     build if needed, boot, install, start
#   scripts/run-local.sh hlctl ARGS  hlctl inside (status, sub health., bus stats ...)
#   scripts/run-local.sh shell       a root shell inside (systemctl, journalctl, hlctl)
#   scripts/run-local.sh exec CMD    any command inside
#   scripts/run-local.sh status      units and daemons
#   scripts/run-local.sh stop        power it off; nothing is left behind
#
# Needs root and scripts/install-deps.sh. HL_BUILD_DIR picks the build tree
# (default: build/ beside this script's repository), HL_RUN_LOCAL_DIR where
# its state lives (default: $HL_BUILD_DIR/run-local).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export HL_SOURCE_DIR=$repo
export HL_BUILD_DIR=${HL_BUILD_DIR:-$repo/build}
. "$repo/tests/e2e/lib.sh"
me=${0#"$repo/"}
# Its own state, apart from a test run's (tests/e2e/run): both may run at once.
export E2E_DIR=${HL_RUN_LOCAL_DIR:-$HL_BUILD_DIR/run-local} E2E_MACHINE_PREFIX=hl-local
E2E_STATE=$E2E_DIR/state

running() { [ -r "$E2E_STATE" ] && (e2e_load) >/dev/null 2>&1; }
need_running() { running || e2e_die "nothing is running: start it with $me"; e2e_load; }

start() {
  why=$(e2e_can_run) || e2e_die "cannot run systemd-nspawn here: $why"
  if running; then
    e2e_load
    echo "already running (container $E2E_MACHINE); '$me stop' first to start afresh"
    return 0
  fi
  if [ ! -f "$HL_BUILD_DIR/CMakeCache.txt" ]; then
    echo "configuring $HL_BUILD_DIR"
    cmake -S "$repo" -B "$HL_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  echo "building"
  cmake --build "$HL_BUILD_DIR" -j"$(nproc)" >"$HL_BUILD_DIR/run-local-build.log" 2>&1 ||
    { tail -30 "$HL_BUILD_DIR/run-local-build.log"; e2e_die "the build failed"; }
  e2e_init
  echo "installing into a stage and booting systemd"
  e2e_stage
  e2e_boot 0
  e2e_install
  cat <<EOT

hl-freestyle runs under systemd in container $E2E_MACHINE (its PID 1 is $E2E_PID1 here).
$(e2e_exec systemctl list-units --no-legend --plain 'hl*' 'claude-code*' | sed 's/^/  /')

The daemons, through their ctl sockets:     $me hlctl status
Every bus event as JSON (Ctrl-C ends it):   $me hlctl sub
What the bus carried:                       $me hlctl bus stats
A root shell inside (systemctl, journalctl -f, hlctl,
  curl localhost:8080/health):              $me shell
Power it off, leaving nothing behind:       $me stop

The config is $E2E_CONFIG_FILE inside (the installed default); drop-ins go in
$(dirname "$E2E_CONFIG_FILE")/hl.d/, then: $me hlctl call hl-bus reload
EOT
}

cmd=${1:-start}
[ $# -gt 0 ] && shift
case $cmd in start|-h|--help|help) ;; *) e2e_init ;; esac
case $cmd in
  start) start ;;
  hlctl) need_running; e2e_exec "$E2E_BINDIR/hlctl" "$@" ;;
  exec) need_running; e2e_exec "$@" ;;
  shell)
    need_running
    echo "inside $E2E_MACHINE; exit (or Ctrl-D) leaves it running"
    nsenter -t "$E2E_PID1" -a -- env -i PATH="$E2E_PATH" HOME=/root LANG=C.UTF-8 \
      TERM="${TERM:-xterm}" PS1="[$E2E_MACHINE \\w]# " bash --norc -i
    ;;
  status)
    need_running
    e2e_exec systemctl list-units --no-pager 'hl*' 'claude-code*'
    echo
    e2e_exec "$E2E_BINDIR/hlctl" status || true
    ;;
  stop)
    if [ -r "$E2E_STATE" ]; then
      e2e_stop && echo "stopped; the host's /run is as it was"
      rm -rf "$E2E_DIR/stage"
    else
      echo "nothing is running"
    fi
    ;;
  -h|--help|help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) e2e_die "unknown command '$cmd' (start, hlctl, shell, exec, status, stop)" ;;
esac
