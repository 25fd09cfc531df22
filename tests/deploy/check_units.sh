#!/usr/bin/env bash
# Static checks of the systemd units, as `cmake --install` installs them:
#   * `systemd-analyze verify` on every unit (and its drop-ins), with the
#     installed programs at their paths;
#   * `systemd-analyze security --offline=true` on every unit of ours,
#     printing each exposure score; above 3.0 fails;
#   * the rules our units follow (tests/e2e/units too): Type=notify with a
#     watchdog, restart with a start limit, exit 78 not retried, user hl,
#     the shared runtime directory kept, part of hl.target, wanting the bus
#     sockets, and never Requires=/BindsTo=/PartOf= a managed service.
# The managed services (the spec's units for third-party programs) are
# verified and their scores shown, but not held to our rules.
set -u
if [ "${1:-}" != --private-run ]; then
  # systemd-analyze touches /run/systemd/systemd-units-load: in a mount
  # namespace of its own with a tmpfs there, nothing reaches the host's /run
  # (where e2e_cleanup would find it, and apt would think systemd runs).
  exec unshare --mount --propagation private -- bash "$0" --private-run "$@"
fi
shift
mount -n -t tmpfs -o mode=0755,size=1m tmpfs /run/systemd || { echo "cannot mount a private /run/systemd" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../e2e/lib.sh"
e2e_init
MANAGED=" hl-daemon.service claude-code.service hl-service@.service fl-victim.service fl-cfg.service fl-cfgloop.service fl-gate.service "
# Helpers of ours that are not daemons (oneshots run by a timer): verified
# and scored, but the daemon rules below are not theirs.
HELPERS=" hl-revive@.service "
MAX_EXPOSURE=3.0
# hl-orchestrator runs as root (starting units over the system bus needs it
# without polkit) and cleans the real /tmp: systemd would chown the shared
# runtime and logs directories to root, and a private /tmp hides /tmp/hl-*.
# See deploy/systemd/hl-orchestrator.service.
declare -A EXEMPT=(
  [hl-orchestrator.service]=" User=hl RuntimeDirectory=hl LogsDirectory=hl PrivateTmp=yes "
  [hl-failure.service]=" User=hl RuntimeDirectory=hl " # root: admin calls (see its unit)
)

E2E_DIR=$(mktemp -d) # our own stage: an e2e run may be using its own
trap 'rm -rf "$E2E_DIR"' EXIT
e2e_stage
stage=$E2E_DIR/stage
units=$stage$E2E_UNITDIR
mkdir -p "$E2E_DIR/units"
cp -a "$units"/. "$E2E_DIR/units/"
cp -a "$stage/e2e/units"/. "$E2E_DIR/units/" # the e2e-only units follow the rules too
cd "$E2E_DIR/units"
all=$(ls -1 -- *.service *.socket *.target *.timer 2>/dev/null)
[ -n "$all" ] || e2e_die "no units installed in $units"

pass=0 fail=0
bad() { fail=$((fail + 1)); echo "FAILED: $*"; }

# --- verify, in a private mount namespace where the installed programs are
# at their paths: the stage's prefix over the prefix, and /usr/local (the
# stand-ins for the managed services) when the prefix is another one.
verify_out=$(unshare --mount --propagation private -- bash -c '
  set -e
  mount -n --bind "$1$2" "$2"
  [ "$2" = /usr/local ] || mount -n --bind "$1/usr/local" /usr/local
  shift 2
  for u in "$@"; do
    if out=$(systemd-analyze verify --man=no "$PWD/$u" 2>&1) && [ -z "$out" ]; then
      echo "ok $u"
    else
      echo "bad $u"; echo "$out" | sed "s/^/    /"
    fi
  done' _ "$stage" "$E2E_PREFIX" $all 2>&1)
while IFS= read -r line; do
  case $line in
    "ok "*) pass=$((pass + 1)); printf '  verify   %-28s ok\n' "${line#ok }" ;;
    "bad "*) bad "systemd-analyze verify ${line#bad }" ;;
    *) echo "$line" ;;
  esac
done <<<"$verify_out"

# --- exposure scores
for u in $(ls -1 -- *.service); do
  out=$(systemd-analyze security --offline=true --no-pager "$PWD/$u" 2>&1)
  score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \(.*\)$/\1 \2/p' <<<"$out")
  if [ -z "$score" ]; then
    bad "systemd-analyze security $u: no score"; echo "$out" | tail -5
    continue
  fi
  if [[ $MANAGED == *" $u "* ]]; then
    printf '  exposure %-28s %s (managed service: not ours to sandbox)\n' "$u" "$score"
  elif awk -v s="${score%% *}" -v m=$MAX_EXPOSURE 'BEGIN { exit !(s <= m) }'; then
    pass=$((pass + 1))
    printf '  exposure %-28s %s\n' "$u" "$score"
  else
    bad "exposure of $u is $score, above $MAX_EXPOSURE"
    grep '✗' <<<"$out" | sed 's/^/    /'
  fi
done

# --- our rules
has() { grep -Eq "^$2\$" "$1"; } # has FILE REGEX: a whole line
for u in $all; do
  # Whoever shares /run/hl runs as hl:hl and keeps the directory: systemd
  # chowns an existing RuntimeDirectory to the unit's user, and removes it
  # when the unit stops unless it is preserved.
  if has "$u" 'RuntimeDirectory=hl'; then
    for rule in 'User=hl' 'Group=hl' 'RuntimeDirectoryPreserve=yes'; do
      has "$u" "$rule" && pass=$((pass + 1)) || bad "$u shares RuntimeDirectory=hl without $rule"
    done
  fi
  [[ $u == *.service ]] || continue
  # A member of a startup phase (joined in its own [Install]) is ordered
  # before the orchestrator, which stops first at a system shutdown and runs
  # the ordered shutdown (docs/orchestrator.md).
  if grep -Eq '^(WantedBy|RequiredBy)=.*hl-phase-' "$u"; then
    grep -Eq '^Before=.*hl-orchestrator\.service' "$u" && pass=$((pass + 1)) ||
      bad "$u joins a phase but is not Before=hl-orchestrator.service"
  fi
  if [[ $MANAGED == *" $u "* ]]; then
    # hl-orchestrator starts the managed services and is ready only once they
    # are up: a managed unit ordered after it (or wanting it) would deadlock.
    if grep -Eq '^(After|Requires|Wants|BindsTo|Requisite)=.*hl-orchestrator\.service' "$u"; then
      bad "$u is ordered after or depends on hl-orchestrator.service (a deadlock: see docs/orchestrator.md)"
    else
      pass=$((pass + 1))
    fi
    continue
  fi
  [[ $HELPERS == *" $u "* ]] && continue
  for rule in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=[0-9].*' 'Restart=on-failure' \
    'RestartPreventExitStatus=78' 'StartLimitBurst=[0-9]+' 'StartLimitIntervalSec=.+' \
    'User=hl' 'Group=hl' 'RuntimeDirectory=hl' 'StateDirectory=hl/%N' 'LogsDirectory=hl' \
    'ConfigurationDirectory=hl' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'PrivateTmp=yes' \
    'PartOf=hl.target' 'WantedBy=hl.target'; do
    [[ ${EXEMPT[$u]:-} == *" $rule "* ]] && continue
    has "$u" "$rule" && pass=$((pass + 1)) || bad "$u lacks $rule (see deploy/systemd/hl-bus.service)"
  done
  # Every daemon needs only the bus, and the bus's sockets are enough ...
  if [ "$u" != hl-bus.service ]; then
    for rule in 'Wants=.*hl-bus-pub\.socket.*' 'Wants=.*hl-bus-sub\.socket.*' \
      'After=.*hl-bus-pub\.socket.*' 'After=.*hl-bus-sub\.socket.*'; do
      has "$u" "$rule" && pass=$((pass + 1)) || bad "$u lacks ${rule//\\/} (it needs the bus)"
    done
  fi
  # ... and monitoring outlives what it monitors: no daemon of ours lives and
  # dies with a managed service.
  if grep -Eq '^(Requires|Requisite|BindsTo|PartOf)=.*(hl-daemon|claude-code|hl-service@[^ ]*)\.service' "$u"; then
    bad "$u ties its life to a managed service (Requires/BindsTo/PartOf): use After= at most"
  else
    pass=$((pass + 1))
  fi
done

echo "units: $pass passed, $fail failed"
[ $fail = 0 ]
