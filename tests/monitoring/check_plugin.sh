#!/usr/bin/env bash
# hlctl check as a Nagios/Icinga plugin against real daemons (hl-bus,
# hl-health with checks on a listening and a closed loopback port, hl-failure
# fed service.* events): every output is one status line in the published
# format with the exit code of its status word (plugin_format.py, strict),
# its perfdata is what --json reports and what the monitoring-plugins' own
# Perl parser (Monitoring::Plugin::Performance) reads from it; -w/-c ranges
# change the verdict on live figures; a daemon that is down is UNKNOWN (or
# CRITICAL for check bus, where it is the thing checked); bad arguments are
# UNKNOWN with the reason.
set -u
: "${HL_BUILD_DIR:?}" "${HL_SOURCE_DIR:?}"
. "$HL_SOURCE_DIR/tests/common/lib.sh"
need perl
PY=/usr/bin/python3
perl -MMonitoring::Plugin::Performance -e 1 2>/dev/null ||
    skip "Monitoring::Plugin is not installed (libmonitoring-plugin-perl, scripts/install-deps.sh)"
B=$HL_BUILD_DIR/daemons
T=$HL_SOURCE_DIR/tests/monitoring
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do [ "$p" -gt 0 ] 2>/dev/null && kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${HL_DEBUG:-}" ] && tail -n 20 "$dir"/*.log >&2
    rm -rf "$dir"
}
trap cleanup EXIT
hlctl() { "$B/hlctl/hlctl" --runtime-dir "$dir/run" --timeout 1000 --retries 1 "$@"; }
mkdir -p "$dir/run"

# a listening port (web) and a closed one (db)
exec {srv}< <(exec $PY -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
c = socket.socket(); c.bind(("127.0.0.1", 0))
print(s.getsockname()[1], c.getsockname()[1], flush=True)
while True:
    a, _ = s.accept(); a.close()
')
pids+=($!)
read -r open_port closed_port <&$srv
ok test -n "$open_port"
cat >"$dir/hl.yaml" <<Y
hl-health:
  builtin: false
  spread: 0s
  defaults: {interval: 200ms, timeout: 150ms, retries: 1, failures: 1, successes: 1, grace: 0s}
  services:
    web:
      unit: ""
      checks:
        - {name: web-tcp, type: tcp, host: 127.0.0.1, port: $open_port}
    db:
      unit: ""
      checks:
        - {name: db-tcp, type: tcp, host: 127.0.0.1, port: $closed_port, critical: true}
hl-failure:
  require_lifecycle: false
Y
start() { # start NAME: the daemon on the private runtime dir, answering
    "$B/$1/$1" --runtime-dir "$dir/run" --config "$dir/hl.yaml" 2>"$dir/$1.log" &
    pids+=($!)
    eval "pid_${1//-/_}=$!"
    wait_for 10 hlctl --retries 0 --timeout 100 ping "$1"
}
ok start hl-bus
ok start hl-health
ok start hl-failure

# run WANT_EXIT ARGS...: hlctl check ARGS; the exit is WANT_EXIT, the line is
# in the published format, and its perfdata is the same three ways.
n=0
run() {
    local want=$1
    shift
    n=$((n + 1))
    hlctl check "$@" >"$dir/out.$n" 2>"$dir/err.$n"
    local rc=$?
    LINE=$(cat "$dir/out.$n")
    if [ "$rc" != "$want" ]; then
        fail_check "hlctl check $*: exit $rc, wanted $want: $LINE $(cat "$dir/err.$n")"
        return
    fi
    if ! $PY "$T/plugin_format.py" "$rc" <"$dir/out.$n" >"$dir/fmt.$n"; then
        fail_check "hlctl check $*: not the plugin format"
        return
    fi
    hlctl --json check "$@" >"$dir/json.$n" 2>/dev/null
    local jrc=$?
    # --json says the same (a fresh run: figures may move, so compare labels
    # and status, and the values of the text run against the Perl parse)
    if ! $PY - "$dir/fmt.$n" "$dir/json.$n" "$jrc" <<'PYEOF'; then
import json, sys
fmt, js, jrc = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
assert js["code"] == jrc, (js["code"], jrc)
assert js["check"] == fmt["check"], (js["check"], fmt["check"])
assert [p["label"] for p in js["perfdata"]] == [p["label"] for p in fmt["perfdata"]], (js, fmt)
for a, b in zip(js["perfdata"], fmt["perfdata"]):
    for k in ("uom", "warn", "crit", "min", "max"):
        assert a.get(k) == b.get(k), (k, a, b)
PYEOF
        fail_check "hlctl --json check $*: not the same as the text line: $(cat "$dir/json.$n")"
        return
    fi
    # Monitoring::Plugin::Performance reads every item with our values
    if ! perl "$T/perfdata.pl" <"$dir/out.$n" >"$dir/perl.$n" 2>"$dir/perl-err.$n"; then
        fail_check "Monitoring::Plugin refused: $LINE: $(cat "$dir/perl-err.$n")"
        return
    fi
    if ! $PY - "$dir/fmt.$n" "$dir/perl.$n" <<'PYEOF'; then
import json, sys
fmt = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()
status = lines[0].split("\t")
assert status[1] == fmt["status"] and status[2] == fmt["text"], (status, fmt)
items = [l.split("\t") for l in lines[1:]]
assert len(items) == len(fmt["perfdata"]), (items, fmt["perfdata"])
for (label, value, uom, w, c, lo, hi), p in zip(items, fmt["perfdata"]):
    assert label == p["label"] and float(value) == float(p["value"]) and uom == p["uom"], (label, p)
    # the Perl parser knows no '@' in thresholds (and then loses the fields
    # after it): those items are checked by the strict format alone
    if "@" in p.get("warn", "") + p.get("crit", ""):
        continue
    assert w == p.get("warn", "") and c == p.get("crit", ""), (w, c, p)
    assert (lo == "" and "min" not in p) or float(lo) == p["min"], (lo, p)
    assert (hi == "" and "max" not in p) or float(hi) == p["max"], (hi, p)
PYEOF
        fail_check "hlctl check $*: Monitoring::Plugin read it differently: $(cat "$dir/perl.$n")"
        return
    fi
    pass=$((pass + 1))
}
has() { grep -qF -- "$1" <<<"$LINE" || fail_check "'$1' not in: $LINE"; }

# --- health: web healthy, db unhealthy
ok wait_for 20 rc_is 2 hlctl health db
ok wait_for 20 rc_is 0 hlctl health web
run 2 health
has "HEALTH CRITICAL - 1 of 2 services not healthy: db unhealthy"
has "'unhealthy'=1;;;0;2"
has "'not_healthy'=1;;;0;2"
# thresholds on the not-healthy count replace the state mapping
run 1 health -w 0 -c 1
has "'not_healthy'=1;0;1;0;2"
run 0 health -w 1 -c 2
run 2 health -c 0
run 0 health web
has "HEALTH OK - 1 of 1 services healthy"
# --- service: state plus the slowest check's duration
run 0 service web
has "SERVICE OK - web healthy"
has "'web-tcp'="
run 2 service db
has "SERVICE CRITICAL - db unhealthy"
run 2 service web -c @0:1000
has ";;@0:1000;0;"
run 1 service web -w '~:0' -c 1000
run 3 service nosuch
has "hl-health: no service 'nosuch'"
# --- bus
run 0 bus
has "BUS OK - hl-bus up"
has "'gaps'=0c;;;0;"
run 1 bus -w 1:
run 2 bus -w 1: -c @0
# --- failures: none, then a configuration error of hl-daemon (exit 78)
run 0 failures
has "FAILURES OK - 0 open incidents, 0 targets need a person"
ok hlctl pub service.hl-daemon unit=hl-daemon.service active_state=failed sub_state=failed \
    result=exit-code exit_code=1 exit_status=78 load_state=loaded
ok wait_for 20 rc_is 2 hlctl check failures
run 2 failures
has "hl-daemon config-error"
has "'need_person'=1;;;0;"
has "'recovering'=0;;;0;"
nok grep -qF "'detected'=0c" <<<"$LINE"
# --- phases: without an orchestrator, UNKNOWN (the e2e scenario has one)
run 3 phases
has "PHASES UNKNOWN - hl-orchestrator is not running"
# --- usage: UNKNOWN with the reason, never a usage exit 64
run 3 bus -w 20:10
has "-w '20:10': the start is above the end"
run 3 health -c abc
run 3 nosuch
has "unknown check or wrong arguments: 'nosuch'"
run 3
run 3 service
run 3 bus -t 0
has "-t takes whole seconds"
run 0 bus -t 5
# --- a daemon that is down
kill "$pid_hl_health"; wait "$pid_hl_health" 2>/dev/null
run 3 health
has "HEALTH UNKNOWN - hl-health is not running"
kill "$pid_hl_bus"; wait "$pid_hl_bus" 2>/dev/null
run 2 bus
has "BUS CRITICAL - hl-bus is not running"
echo "$n outputs checked"
checks_done integration_check_plugin
