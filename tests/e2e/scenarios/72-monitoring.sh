#!/usr/bin/env bash
# Monitoring tools under a real systemd (#22): hlctl check, as a user in
# group hl (a Nagios/Icinga user), gives plugin lines in the published
# format for phases, health, a service, the bus and failures, with the exit
# codes of hlctl phases/health/failures, and a -c range turns a live figure
# CRITICAL; the example Python client, as a user in group hl-watch only,
# compiles the installed .proto files and prints the same events as hlctl
# sub, cached and live (hl-health restarted); a user outside hl-watch gets
# a clear refusal.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-orchestrator.service hl-health.service hl-failure.service hl-bus.service
PY=/usr/bin/python3
fmt=$HL_SOURCE_DIR/tests/monitoring/plugin_format.py
if ! e2e_exec systemctl cat hl-orchestrator.service >/dev/null 2>&1; then
  echo "!!! SKIPPED: hl-orchestrator is not installed"
  trap - EXIT
  exit 77
fi
if ! $PY -c 'import zmq, google.protobuf' 2>/dev/null || ! command -v protoc >/dev/null; then
  echo "!!! SKIPPED: python3-zmq, python3-protobuf or protoc is not installed (scripts/install-deps.sh)"
  trap - EXIT
  exit 77
fi
e2e_ok e2e_wait_unit_active hl-orchestrator.service 60
e2e_ok wait_for 60 rc_is 0 e2e_hlctl phases
e2e_ok wait_for 60 rc_is 0 e2e_hlctl health

e2e_exec sh -c 'for u in e2e-nagios:hl e2e-watch:hl-watch e2e-nobody:; do
  n=${u%%:*} g=${u#*:}; userdel "$n" 2>/dev/null; groupdel "$n" 2>/dev/null
  useradd --no-create-home --user-group ${g:+--groups "$g"} "$n"; done'
as() { local u=$1; shift; e2e_exec setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"; }

# plugin WANT ARGS...: hlctl check ARGS as e2e-nagios exits WANT, in the format
plugin() {
  local want=$1 rc
  shift
  LINE=$(as e2e-nagios "$E2E_BINDIR/hlctl" check "$@"); rc=$?
  echo "  hlctl check $*: $rc $LINE"
  [ "$rc" = "$want" ] && printf '%s\n' "$LINE" | $PY "$fmt" "$rc" >/dev/null
}
has() { grep -qF -- "$1" <<<"$LINE"; }
e2e_ok plugin 0 phases
e2e_ok has "PHASES OK - ready, 4 of 4 phases done ("
e2e_ok bash -c "! grep -q '(ready: ' <<<\"\$1\"" _ "$LINE"
e2e_ok grep -Eq "'boot_to_ready'=[0-9.]+s;;;0; " <<<"$LINE"
e2e_ok plugin 2 phases -w 0.000001 -c 0.000002
e2e_ok has "'boot_to_ready'="
e2e_ok has "s;0.000001;0.000002;0;"
e2e_ok plugin 0 health
e2e_ok has "HEALTH OK - "
e2e_ok plugin 0 service claude-code
e2e_ok has "SERVICE OK - claude-code healthy"
e2e_ok plugin 0 bus
e2e_ok has "BUS OK - hl-bus up"
# failures: the same verdict as hlctl failures (0 all well, 1 recovering, 2 a person)
e2e_hlctl failures >/dev/null; frc=$?
e2e_ok plugin "$frc" failures
e2e_ok has "FAILURES "
# a user outside group hl cannot call: UNKNOWN, saying why
LINE=$(as e2e-nobody "$E2E_BINDIR/hlctl" check health); rc=$?
e2e_ok test "$rc" = 3
e2e_ok has "HEALTH UNKNOWN - permission denied on /run/hl/ctl/hl-health"

# --- the Python client from the installed files, as a watcher only
client=$E2E_PREFIX/share/doc/hl-freestyle/examples/monitor/hl-monitor.py
protos=$E2E_PREFIX/share/hl-freestyle/proto
e2e_ok e2e_exec test -x "$client"
e2e_ok e2e_exec test -s "$protos/health.proto"
out=$E2E_DIR/monitoring
mkdir -p "$out"
e2e_hlctl sub --wait 6000 health. failure. >"$out/hlctl.json" 2>/dev/null &
sub=$!
as e2e-watch "$PY" "$client" --proto-dir "$protos" --json --wait 6 health. failure. \
  >"$out/client.json" 2>"$out/client.err" &
cli=$!
e2e_ok wait_for 20 grep -q '"replay":true' "$out/hlctl.json"
e2e_ok wait_for 20 grep -q '"replay": true' "$out/client.json"
# live events while both listen, touching no managed service: hl-health
# restarted (a new epoch; every service unknown, then healthy again)
e2e_ok e2e_exec systemctl restart hl-health.service
e2e_ok wait_for 60 rc_is 0 e2e_hlctl health
wait $sub
wait $cli
e2e_ok test $? = 0
e2e_ok $PY - "$out/hlctl.json" "$out/client.json" <<'PYEOF'
import json, sys
def keys(path):
    return {(o["topic"], o["source"], o["epoch"], o["seq"]): o for o in map(json.loads, open(path))
            if "gap" not in o}
a, b = keys(sys.argv[1]), keys(sys.argv[2])
assert a.keys() == b.keys(), (a.keys() ^ b.keys())
for k in a:
    assert a[k]["body"] == b[k]["body"] and a[k]["type"] == b[k]["type"], k
assert any(a[k].get("replay") for k in a), "no cached state"
assert len({k[2] for k in a if k[0] == "health.claude-code"}) == 2, "no event of the new hl-health"
assert any(k[0] == "health.claude-code" and a[k]["body"]["state"] == "healthy" and not a[k].get("replay")
           for k in a), "claude-code not healthy again"
print(f"  {len(a)} events, the same from hlctl sub and the Python client")
PYEOF
e2e_ok grep -q "hl-monitor: contract v1, " "$out/client.err"
# outside hl-watch: refused with the reason, at once
msg=$(as e2e-nobody "$PY" "$client" --proto-dir "$protos" 2>&1 >/dev/null); rc=$?
e2e_ok test "$rc" = 1
e2e_ok grep -q "permission denied on /run/hl/bus/sub: watching needs group hl-watch" <<<"$msg"
e2e_exec sh -c 'for n in e2e-nagios e2e-watch e2e-nobody; do userdel "$n"; groupdel "$n" 2>/dev/null; done; true'
