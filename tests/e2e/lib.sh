# shellcheck shell=bash
# The end-to-end tier's shell library: a throw-away system-mode systemd in a
# systemd-nspawn container, booted from the host's own /usr, with the build
# installed into it the way a package would be. Sourced by the ctest scripts
# (setup.sh, cleanup.sh, scenarios/*.sh) and by scripts/run-local.sh.
#
# How the container is made (facts checked on these machines, DESIGN.md):
#   * nspawn runs inside `unshare --mount --propagation private` with a tmpfs
#     on /run/systemd, so nothing it writes there reaches the host's /run, and
#     /run/systemd/system is never created on the host;
#   * --volatile=yes: the root is a tmpfs, /usr is the host's, read-only;
#     --register=no --keep-unit (no machined here), --private-network;
#   * a fresh machine-id bound read-only, systemd.firstboot=off and
#     systemd-machine-id-commit masked, so the first boot asks nothing;
#   * `DESTDIR=stage cmake --install`, then the stage's prefix is bound at the
#     prefix itself (/usr/local by default): every path in the units is the
#     installed one. The stand-ins for the managed services sit at the spec's
#     paths (/usr/local/bin/hl-daemon, /usr/local/bin/claude-code-server);
#   * commands run inside with nsenter into the container's PID 1.
#
# Environment: HL_BUILD_DIR (required), HL_SOURCE_DIR, E2E_DIR (where the
# state, stage and logs live; default $HL_BUILD_DIR/tests/e2e/run).

E2E_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

e2e_die() { echo "e2e: $*" >&2; exit 1; }
e2e_log() { echo "e2e: $*" >&2; }

# Reads the build's facts (install prefix, unit directory, fixture paths)
# that tests/e2e/CMakeLists.txt wrote.
e2e_init() {
  : "${HL_BUILD_DIR:?HL_BUILD_DIR must name the build tree}"
  HL_BUILD_DIR=$(cd "$HL_BUILD_DIR" && pwd)
  HL_SOURCE_DIR=${HL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
  local env_file=$HL_BUILD_DIR/tests/e2e/e2e.env
  [ -r "$env_file" ] || e2e_die "$env_file is missing: configure and build first"
  # shellcheck disable=SC1090
  . "$env_file"
  E2E_DIR=${E2E_DIR:-$HL_BUILD_DIR/tests/e2e/run}
  E2E_STATE=$E2E_DIR/state
}

# Whether nspawn can run here; prints why not.
e2e_can_run() {
  [ "$(id -u)" = 0 ] || { echo "not root"; return 1; }
  local t
  for t in systemd-nspawn nsenter unshare systemd-id128 setsid; do
    command -v "$t" >/dev/null || { echo "$t is missing (apt-get install systemd-container util-linux)"; return 1; }
  done
  [ -d /sys/fs/cgroup ] || { echo "no cgroup file system"; return 1; }
  return 0
}

# --- staging: the build, installed as a package would install it -------------

e2e_stage() {
  local stage=$E2E_DIR/stage
  rm -rf "$stage"
  mkdir -p "$stage"
  DESTDIR=$stage cmake --install "$HL_BUILD_DIR" >"$E2E_DIR/install.log" 2>&1 ||
    { cat "$E2E_DIR/install.log" >&2; e2e_die "cmake --install failed"; }
  # The managed services are third-party programs; the stand-ins take their
  # place at the paths the spec's units name.
  install -D -m 0755 "$E2E_FAKE_HL_DAEMON" "$stage/usr/local/bin/hl-daemon"
  install -D -m 0755 "$E2E_FAKE_CLAUDE_CODE" "$stage/usr/local/bin/claude-code-server"
  # What only the tests install: the test daemon, its unit, test drop-ins.
  install -D -m 0755 "$E2E_HL_TESTD" "$stage$E2E_BINDIR/hl-testd"
  mkdir -p "$stage/e2e"
  cp -a "$E2E_TEST_UNITS" "$stage/e2e/units"
  cp "$HL_SOURCE_DIR/tests/e2e/container-install.sh" "$stage/e2e/"
  # the HL cloud API's reference server, for e2e.uplink
  cp "$HL_SOURCE_DIR/tests/fixtures/uplink/refserver.py" "$stage/e2e/"
  cp "$HL_BUILD_DIR/tests/e2e/e2e.env" "$stage/e2e/"
}

# --- the container's life ------------------------------------------------------

# Descendants of PID (breadth first).
e2e__descendants() {
  local queue=("$1") p c
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}; queue=("${queue[@]:1}")
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
      echo "$c"; queue+=("$c")
    done
  done
}

e2e__comm() { cat /proc/"$1"/comm 2>/dev/null; }
e2e__starttime() { awk '{ print $22 }' /proc/"$1"/stat 2>/dev/null; }

# wait_for SECONDS CMD... (waiting, with a deadline, for an event we cannot be
# told about), ok, skip: the shared test library.
# shellcheck source=../common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
# The old name, for branches written before tests/common/lib.sh.
e2e__poll() { wait_for "$@"; }

# What a container of ours could leave in the host's /run, which it must
# leave as it was: /run/systemd three levels down (where a careless nspawn
# leaves nspawn/ or machines/, a systemd tool systemd-units-load, and, worst,
# system/, which makes apt and friends believe systemd is PID 1), and our own
# paths (/run/hl*). The rest of /run belongs to whatever else runs on the
# machine (a package install creating /run/sshd, another test's daemons) and
# is not ours to judge.
# e2e__run_snapshot [RUN]: RUN is /run but for the check's own test.
e2e__run_snapshot() {
  local run=${1:-/run}
  { find "$run/systemd" -maxdepth 3 2>/dev/null; find "$run" -maxdepth 1 -name 'hl*' 2>/dev/null; } | sort -u
}

# Boots the container. e2e_boot [MAX_LIFETIME_S]: with a lifetime, the
# container is stopped after it even if nobody calls e2e_stop (a ctest run
# killed before its cleanup).
e2e_boot() {
  local lifetime=${1:-0}
  mkdir -p "$E2E_DIR"
  e2e_stop --quiet || true # a container left by an interrupted run
  e2e__run_snapshot >"$E2E_DIR/run-before"
  systemd-id128 new >"$E2E_DIR/machine-id"
  local name
  name=${E2E_MACHINE_PREFIX:-hl-e2e}-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
  local stage=$E2E_DIR/stage
  [ -d "$stage/e2e" ] || e2e_die "nothing staged: call e2e_stage first"
  local -a binds=(
    "--bind-ro=$E2E_DIR/machine-id:/etc/machine-id"
    "--bind=$stage$E2E_PREFIX:$E2E_PREFIX"
    "--bind-ro=$stage:/opt/hl-e2e/stage"
  )
  if [ "$E2E_PREFIX" != /usr/local ]; then
    binds+=("--bind-ro=$stage/usr/local:/usr/local")
  fi
  local -a cmd=(systemd-nspawn --directory=/ --volatile=yes --register=no --keep-unit
    --private-network --console=passive "--machine=$name" "${binds[@]}"
    --boot systemd.mask=systemd-machine-id-commit.service systemd.firstboot=off)
  if [ "$lifetime" -gt 0 ]; then
    cmd=(timeout --foreground --kill-after=10 "$lifetime" "${cmd[@]}")
  fi
  # setsid: the container is nobody's child and holds none of our fds, so a
  # ctest test that boots it can end while it runs on.
  setsid unshare --mount --propagation private -- sh -c \
    'mount -n -t tmpfs -o mode=0755,size=16m tmpfs /run/systemd && exec "$@"' sh "${cmd[@]}" \
    </dev/null >"$E2E_DIR/console.log" 2>&1 &
  local leader=$! nspawn= pid1= p
  find_nspawn() {
    for p in "$leader" $(e2e__descendants "$leader"); do
      [ "$(e2e__comm "$p")" = systemd-nspawn ] && { nspawn=$p; return 0; }
    done
    return 1
  }
  find_pid1() {
    for p in $(e2e__descendants "$nspawn"); do
      [ "$(e2e__comm "$p")" = systemd ] && { pid1=$p; return 0; }
    done
    return 1
  }
  local end=$((SECONDS + 30))
  until find_nspawn && find_pid1; do
    if ! kill -0 "$leader" 2>/dev/null || [ $SECONDS -ge $end ]; then
      cat "$E2E_DIR/console.log" >&2
      e2e_die "the container did not start"
    fi
    sleep 0.05
  done
  cat >"$E2E_STATE" <<EOF
E2E_MACHINE=$name
E2E_LEADER=$leader
E2E_NSPAWN=$nspawn
E2E_NSPAWN_START=$(e2e__starttime "$nspawn")
E2E_PID1=$pid1
E2E_PID1_START=$(e2e__starttime "$pid1")
EOF
  E2E_MACHINE=$name E2E_LEADER=$leader E2E_NSPAWN=$nspawn E2E_PID1=$pid1
  # The manager answers once it has set itself up; then wait for the boot.
  local state=
  end=$((SECONDS + 60))
  until state=$(e2e_exec systemctl is-system-running --wait 2>/dev/null) &&
    [ "$state" = running ] || [ "$state" = degraded ]; do
    if [ $SECONDS -ge $end ] || ! kill -0 "$pid1" 2>/dev/null; then
      tail -50 "$E2E_DIR/console.log" >&2
      e2e_die "the container's systemd did not finish booting (state '$state')"
    fi
    sleep 0.1
  done
  e2e_log "booted $name (PID 1 is $pid1 on the host), system $state"
}

# Loads the state of the running container; fails unless it still runs.
e2e_load() {
  [ -r "$E2E_STATE" ] || e2e_die "no container: the e2e_container fixture (setup.sh) did not run"
  # shellcheck disable=SC1090
  . "$E2E_STATE"
  [ "$(e2e__comm "$E2E_PID1")" = systemd ] &&
    [ "$(e2e__starttime "$E2E_PID1")" = "$E2E_PID1_START" ] ||
    e2e_die "the container $E2E_MACHINE is not running any more"
}

# Runs a command inside the container, as root, with a clean environment.
e2e_exec() {
  nsenter -t "$E2E_PID1" -a -- env -i PATH=$E2E_PATH HOME=/root LANG=C.UTF-8 TERM=dumb \
    SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# Runs a bash script (one string) inside the container.
e2e_sh() { e2e_exec bash -c "$1"; }

# hlctl inside the container.
e2e_hlctl() { e2e_exec "$E2E_BINDIR/hlctl" "$@"; }

# Installs the staged build into the running container (users, runtime
# directories, units, config), enables every unit, starts the stack, and
# waits until every enabled unit is active (a target is active even when
# what it wants failed). e2e_install [--with-test-units]
e2e_install() {
  e2e_exec bash /opt/hl-e2e/stage/e2e/container-install.sh "$@" >"$E2E_DIR/container-install.log" 2>&1 ||
    { cat "$E2E_DIR/container-install.log" >&2; e2e_journal | tail -60 >&2; e2e_die "installing into the container failed"; }
  local u bad=()
  for u in $(e2e_exec cat /run/e2e-enabled-units); do
    e2e_wait_unit_active "$u" 30 || bad+=("$u")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    for u in "${bad[@]}"; do echo "--- journal of $u" >&2; e2e_journal "$u" -n 30 >&2; done
    e2e_die "not active after the install: ${bad[*]}"
  fi
}

# Stops the container: an orderly poweroff (nspawn turns SIGTERM into one),
# SIGKILL after 30 s. Then checks that the host's /run is as it was.
# e2e_stop [--quiet]: --quiet when there may be nothing to stop.
e2e_stop() {
  local quiet=${1:-}
  [ -r "$E2E_STATE" ] || { [ -n "$quiet" ] && return 0; e2e_die "no container state"; }
  # shellcheck disable=SC1090
  . "$E2E_STATE"
  # Ours only if it is the very process we started (a PID can be reused,
  # by another run's nspawn even).
  if [ "$(e2e__comm "$E2E_NSPAWN")" = systemd-nspawn ] &&
    [ "$(e2e__starttime "$E2E_NSPAWN")" = "${E2E_NSPAWN_START:-}" ]; then
    [ -n "$quiet" ] && e2e_log "stopping container $E2E_MACHINE left by an earlier run"
    kill -TERM "$E2E_NSPAWN" 2>/dev/null
    if ! wait_for 30 bash -c "! kill -0 $E2E_NSPAWN"; then
      e2e_log "container $E2E_MACHINE did not power off in 30 s: killing it"
      kill -KILL "$E2E_NSPAWN" 2>/dev/null
      # An orphaned container init would run on: killing it ends its PID
      # namespace, every process inside with it.
      [ "$(e2e__starttime "$E2E_PID1")" = "${E2E_PID1_START:-}" ] && kill -KILL "$E2E_PID1" 2>/dev/null
      wait_for 10 bash -c "! kill -0 $E2E_NSPAWN" || e2e_die "cannot kill nspawn $E2E_NSPAWN"
    fi
  fi
  # A container init whose nspawn was killed from outside runs on, orphaned.
  if [ "$(e2e__comm "$E2E_PID1")" = systemd ] &&
    [ "$(e2e__starttime "$E2E_PID1")" = "${E2E_PID1_START:-}" ]; then
    e2e_log "killing the orphaned init of $E2E_MACHINE"
    kill -KILL "$E2E_PID1" 2>/dev/null
    wait_for 10 bash -c "! kill -0 $E2E_PID1" || e2e_die "cannot kill $E2E_PID1"
  fi
  # The wrapper (timeout, when there is one) ends with its child.
  wait_for 10 bash -c "! kill -0 $E2E_LEADER 2>/dev/null" || true
  rm -f "$E2E_STATE"
  local rc=0
  if [ -r "$E2E_DIR/run-before" ]; then
    e2e__run_snapshot >"$E2E_DIR/run-after"
    local added
    added=$(comm -13 "$E2E_DIR/run-before" "$E2E_DIR/run-after")
    if [ -n "$added" ]; then
      e2e_log "the container left these in the host's /run:"; echo "$added" >&2
      rc=1
    fi
    rm -f "$E2E_DIR/run-before" "$E2E_DIR/run-after"
  fi
  return $rc
}

# --- inside: units, journal ----------------------------------------------------

e2e_prop() { e2e_exec systemctl show -P "$2" "$1"; }
# A field of /proc/PID/status of a process in the container. (The container's
# /etc is empty: commands that live behind /etc/alternatives, awk among them,
# do not exist inside; filter on the host side.)
e2e_proc_status() { e2e_exec cat "/proc/$1/status" | sed -n "s/^$2:[[:space:]]*//p"; }
e2e_main_pid() { e2e_prop "$1" MainPID; }
e2e_is_active() { [ "$(e2e_exec systemctl is-active "$1")" = active ]; }

# Waits until UNIT is active (default 30 s), giving up early when it has
# failed for good (not waiting for an automatic restart).
# e2e_wait_unit_active UNIT [S]
e2e_wait_unit_active() {
  local state end=$((SECONDS + ${2:-30}))
  while :; do
    state=$(e2e_exec systemctl is-active "$1")
    [ "$state" = active ] && return 0
    if [ "$state" = failed ] || [ $SECONDS -ge $end ]; then
      e2e_log "$1 is not active: $state"
      return 1
    fi
    sleep 0.05
  done
}

# Waits until UNIT's property PROP has VALUE. e2e_wait_prop UNIT PROP VALUE [S]
e2e_wait_prop() {
  local unit=$1 prop=$2 want=$3
  wait_for "${4:-30}" bash -c '[ "$(nsenter -t '"$E2E_PID1"' -a -- systemctl show -P '"$prop $unit"')" = "$1" ]' _ "$want"
}

# Waits until UNIT runs a main process other than OLD_PID (a restart) and is
# active. e2e_wait_restarted UNIT OLD_PID [S]; prints the new MainPID.
e2e_wait_restarted() {
  local unit=$1 old=$2 end=$((SECONDS + ${3:-30})) pid
  while :; do
    pid=$(e2e_main_pid "$unit")
    if [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "$old" ] && e2e_is_active "$unit"; then
      echo "$pid"; return 0
    fi
    [ $SECONDS -ge $end ] && { e2e_log "$unit was not restarted (MainPID $pid)"; return 1; }
    sleep 0.05
  done
}

# The container's journal, of one unit or all. e2e_journal [UNIT] [journalctl args]
e2e_journal() {
  if [ $# -gt 0 ] && [[ $1 != -* ]]; then
    local u=$1; shift
    e2e_exec journalctl --no-pager -q -o short-monotonic -u "$u" "$@"
  else
    e2e_exec journalctl --no-pager -q -o short-monotonic "$@"
  fi
}

# The journal's position now, to look only at what comes after it.
e2e_journal_cursor() {
  e2e_exec journalctl -n 1 -o cat --no-pager --show-cursor | sed -n 's/^-- cursor: //p'
}

# Waits until the journal of UNIT has a line matching REGEX (extended), after
# CURSOR if given. e2e_wait_journal UNIT REGEX [S] [CURSOR]
# (journalctl 252 skips the first match after a cursor when -u is given too,
# so with a cursor the lines are picked by the unit's name instead: systemd's
# "UNIT: ..." lines and the process's own "NAME[PID]: ..." lines.)
e2e_wait_journal() {
  if [ -n "${4:-}" ]; then
    wait_for "${3:-30}" bash -c 'nsenter -t '"$E2E_PID1"' -a -- journalctl --no-pager -q --after-cursor="$3" |
      grep -F -e "$1:" -e "${1%.*}[" | grep -Eq "$2"' _ "$1" "$2" "$4"
  else
    wait_for "${3:-30}" bash -c 'nsenter -t '"$E2E_PID1"' -a -- journalctl --no-pager -q -u "$1" | grep -Eq "$2"' _ "$1" "$2"
  fi
}

# kill -9 of UNIT's main process; refuses PID 0 (that would be our own group).
e2e_kill9() {
  local pid
  pid=$(e2e_main_pid "$1")
  [ -n "$pid" ] && [ "$pid" -gt 1 ] || { e2e_log "$1 has no main process to kill"; return 1; }
  e2e_exec kill -9 "$pid"
}

# --- scenarios: checks and the closing line ------------------------------------

E2E_PASS=0
E2E_FAIL=0
E2E_FAILED_UNITS=()

# A check: runs CMD, counts it, says what failed. e2e_ok CMD...
e2e_ok() {
  if "$@"; then
    E2E_PASS=$((E2E_PASS + 1))
  else
    E2E_FAIL=$((E2E_FAIL + 1))
    echo "FAILED (${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}): $*" >&2
  fi
}

# Starts a scenario: loads the container, and on exit prints the closing
# line and, if anything failed, the journal of the units named.
# e2e_scenario UNIT... (the units whose journal helps when it fails)
e2e_scenario() {
  e2e_init
  local why
  if ! why=$(e2e_can_run); then
    echo "!!! SKIPPED: the end-to-end tier cannot run here: $why"
    exit 77
  fi
  e2e_load
  E2E_FAILED_UNITS=("$@")
  trap e2e__finish EXIT
}

e2e__finish() {
  local rc=$?
  [ $rc != 0 ] && [ $E2E_FAIL = 0 ] && E2E_FAIL=1 # died on an error
  if [ $E2E_FAIL != 0 ]; then
    local u
    for u in "${E2E_FAILED_UNITS[@]}"; do
      echo "--- journal of $u (last 40 lines)" >&2
      e2e_journal "$u" -n 40 >&2 || true
    done
  fi
  echo "${0##*/}: $E2E_PASS passed, $E2E_FAIL failed"
  [ $E2E_FAIL = 0 ] && exit 0 || exit 1
}
