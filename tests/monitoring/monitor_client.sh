#!/usr/bin/env bash
# A monitoring tool that is not ours reads our events from the installed
# contract: the build is installed (DESTDIR), its share/hl-freestyle/proto
# holds proto/ as written, protoc compiles those files for Python, and
# examples/monitor/hl-monitor.py (Debian's python3-zmq and python3-protobuf)
# subscribes to a real hl-bus with real hl-health and hl-failure behind it,
# beside `hlctl sub --json`. Both print the same events (topic, source,
# epoch, seq, ts, type, replay flag, and the same decoded body); both count
# the gap a publisher leaves and the body that does not decode; the tool
# warns of a daemon speaking a newer contract; its plain output is one line
# per event.
set -u
: "${HL_BUILD_DIR:?}" "${HL_SOURCE_DIR:?}"
. "$HL_SOURCE_DIR/tests/common/lib.sh"
need protoc
PY=/usr/bin/python3
$PY -c 'import zmq, google.protobuf' 2>/dev/null ||
    skip "python3-zmq or python3-protobuf is not installed (scripts/install-deps.sh)"
B=$HL_BUILD_DIR/daemons
client=$HL_SOURCE_DIR/examples/monitor/hl-monitor.py
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do [ "$p" -gt 0 ] 2>/dev/null && kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${HL_DEBUG:-}" ] && tail -n 20 "$dir"/*.log "$dir"/*.err >&2
    rm -rf "$dir"
}
trap cleanup EXIT
hlctl() { "$B/hlctl/hlctl" --runtime-dir "$dir/run" "$@"; }
mkdir -p "$dir/run"

# --- the installed contract
DESTDIR=$dir/inst cmake --install "$HL_BUILD_DIR" >"$dir/install.log" 2>&1
ok test $? = 0
proto_dir=$(hlctl --json contract | $PY -c 'import json,sys; print(json.load(sys.stdin)["proto_dir"])')
inst=$dir/inst$proto_dir
ok test -d "$inst"
ok test "$(cd "$inst" && ls *.proto)" = "$(cd "$HL_SOURCE_DIR/proto" && ls *.proto)"
for f in "$HL_SOURCE_DIR"/proto/*.proto; do ok cmp -s "$f" "$inst/$(basename "$f")"; done
mkdir -p "$dir/py"
ok protoc -I "$inst" --python_out="$dir/py" "$inst"/*.proto
ok test -s "$dir/py/health_pb2.py"

# --- a real stack
exec {srv}< <(exec $PY -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
c = socket.socket(); c.bind(("127.0.0.1", 0))
print(s.getsockname()[1], c.getsockname()[1], flush=True)
while True:
    a, _ = s.accept(); a.close()
')
pids+=($!)
read -r open_port closed_port <&$srv
cat >"$dir/hl.yaml" <<Y
hl-health:
  builtin: false
  spread: 0s
  snapshot_interval: 1h
  # Each check runs once at start (spread 0s) and not again within the test:
  # a check that re-ran could flap under load and give the two subscribers
  # different streams (seen under ctest -j2).
  defaults: {interval: 1h, timeout: 2s, retries: 1, failures: 1, successes: 1, grace: 0s}
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
start() {
    "$B/$1/$1" --runtime-dir "$dir/run" --config "$dir/hl.yaml" 2>"$dir/$1.log" &
    pids+=($!)
    wait_for 10 hlctl --retries 0 --timeout 100 ping "$1"
}
ok start hl-bus
ok start hl-health
ok start hl-failure
ok wait_for 20 rc_is 2 hlctl health db
ok wait_for 20 rc_is 0 hlctl health web

# --- both subscribers, each until 4 s pass without an event
hlctl sub --stats --wait 4000 health. failure. test. >"$dir/hlctl.out" 2>"$dir/hlctl.err" &
sub_pid=$!
pids+=($sub_pid)
$PY "$client" --runtime-dir "$dir/run" --python-dir "$dir/py" --json --wait 4 \
    health. failure. test. >"$dir/client.out" 2>"$dir/client.err" &
client_pid=$!
pids+=($client_pid)
replays() { [ "$(grep -c '"replay": *true' "$1")" -ge 2 ]; }
ok wait_for 10 replays "$dir/hlctl.out"
ok wait_for 10 replays "$dir/client.out"

# events: a failure hl-failure detects (hl-daemon exits 78: configuration
# error), and from a publisher of the test's own on a free-form topic:
# seq 1, 2, 5 (2 lost), a body that does not decode, and a daemon that
# speaks a newer contract
ok hlctl pub service.hl-daemon unit=hl-daemon.service active_state=failed sub_state=failed \
    result=exit-code exit_code=1 exit_status=78 load_state=loaded
ok $PY - "$dir/run" "$dir/py" <<'PYEOF'
import sys, time, zmq
sys.path.insert(0, sys.argv[2])
import hlbus_pb2
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.connect(f"ipc://{sys.argv[1]}/bus/pub")
epoch = int(time.time() * 1e6)
def send(topic, seq, type_, body, source="gap-test"):
    env = hlbus_pb2.Envelope(source=source, epoch=epoch, seq=seq, ts_us=int(time.time() * 1e6),
                             type=type_, body=body)
    s.send_multipart([topic.encode(), env.SerializeToString()])
log = lambda m: hlbus_pb2.Log(level="info", message=m).SerializeToString()
send("test.gap", 1, "hl.Log", log("one"))
send("test.gap", 2, "hl.Log", log("two"))
send("test.gap", 5, "hl.Log", log("five"))
send("test.bad", 1, "hl.Log", b"\xff\xff\xff")
send("daemon.gap-test", 1, "hl.DaemonStatus",
     hlbus_pb2.DaemonStatus(name="gap-test", contract=99).SerializeToString())
s.close(linger=2000)
ctx.term()
PYEOF
wait "$sub_pid"
wait "$client_pid"
ok test $? = 0

# --- the same events, decoded the same
ok $PY - "$dir/hlctl.out" "$dir/client.out" <<'PYEOF'
import json, math, sys
def load(path):
    evs, gaps = {}, []
    for line in open(path):
        o = json.loads(line)
        if "gap" in o:
            gaps.append(o["gap"])
            continue
        evs[(o["topic"], o["source"], o["epoch"], o["seq"])] = o
    return evs, gaps
ours, _ = load(sys.argv[1])
theirs, gaps = load(sys.argv[2])
def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b
assert ours.keys() == theirs.keys(), f"only hlctl: {ours.keys() - theirs.keys()}; only the tool: {theirs.keys() - ours.keys()}"
for k, a in ours.items():
    b = theirs[k]
    assert same(a, b), f"{k}:\n hlctl {a}\n tool  {b}"
topics = sorted(k[0] for k in ours)
assert "health.db" in topics and "health.web" in topics, topics
fails = [e for e in ours.values() if e["topic"].startswith("failure.")]
assert any(e["type"] == "hl.Failure" and e["body"]["type"] == "configuration_error" and
           e["body"]["service"] == "hl-daemon" for e in fails), fails
db = [e for e in ours.values() if e["topic"] == "health.db"]
assert db and db[-1]["body"]["state"] == "unhealthy" and db[-1]["body"]["checks"][0]["name"] == "db-tcp", db
assert [e["seq"] for e in ours.values() if e["topic"] == "test.gap"] == [1, 2, 5]
assert gaps == [{"topic": "test.gap", "source": "gap-test", "epoch": gaps[0]["epoch"], "missed": 2,
                 "kind": "gap"}], gaps
assert not any(k[0] == "test.bad" for k in ours), "a body that does not decode was printed"
print(f"{len(ours)} events, identical in both")
PYEOF
ok grep -q "gaps 2 duplicates [0-9]* malformed 1\$" "$dir/hlctl.err"
ok grep -q "gaps 2 duplicates [0-9]* malformed 1\$" "$dir/client.err"
ok grep -q "gap-test speaks contract v99, newer than these files (v1)" "$dir/client.err"
ok grep -q "contract v1, " "$dir/client.err"

# --- people's lines: one per event, the cached state first
$PY "$client" --runtime-dir "$dir/run" --python-dir "$dir/py" --count 2 --wait 5 health. \
    >"$dir/plain.out" 2>"$dir/plain.err"
ok test $? = 0
ok test "$(wc -l <"$dir/plain.out")" = 2
ok grep -q ' health\.db  *hl-health#[0-9]* (cached) db unhealthy: ' "$dir/plain.out"
ok grep -q ' health\.web  *hl-health#[0-9]* (cached) web healthy' "$dir/plain.out"
# and from the installed files directly (protoc run by the tool itself)
$PY "$client" --runtime-dir "$dir/run" --proto-dir "$inst" --count 1 --wait 5 health.db \
    >"$dir/direct.out" 2>"$dir/direct.err"
ok grep -q 'db unhealthy' "$dir/direct.out"
# a bus that is not there: a clear error, exit 1
$PY "$client" --runtime-dir "$dir/nothing" --python-dir "$dir/py" >/dev/null 2>"$dir/nobus.err"
ok test $? = 1
ok grep -q "no bus at ipc://$dir/nothing/bus/sub" "$dir/nobus.err"
checks_done integration_monitor_client
