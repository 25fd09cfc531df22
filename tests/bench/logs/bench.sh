#!/usr/bin/env bash
# hl-logs against rsyslog 8.2302 (Debian's), in an e2e container with a real
# journald: N records written by a unit into the journal first, then read
# from the journal by each in turn (hl-logs from an empty cursor, rsyslog's
# imjournal from an empty state file), so both do the same work:
#   1. journal -> JSON lines in a file (hl-logs files; rsyslog omfile with a
#      JSON template of the same fields)
#   2. journal -> a collector (rsyslog imtcp, octet-counted TCP on loopback):
#      hl-logs forward (plus its files and fsync'd spool), rsyslog omfwd
#   3. the drain after an outage: the collector away while all N are read,
#      then started; records per second from its start to the last record.
#      hl-logs from its disk spool, rsyslog from an in-memory action queue.
# Figures per run: records/s, CPU per 100k records (utime+stime of the
# process), peak RSS (VmHWM). HL_BENCH_LOGS_RECORDS (default 300000).
# Prints a table and one JSON line; asserts no wall time.
set -uo pipefail
. "$HL_SOURCE_DIR/tests/e2e/lib.sh"
e2e_init
if ! why=$(e2e_can_run); then echo "SKIPPED: $why"; exit 77; fi
command -v rsyslogd >/dev/null || { echo "SKIPPED: rsyslog missing (scripts/install-deps.sh)"; exit 77; }
N=${HL_BENCH_LOGS_RECORDS:-300000}
E2E_DIR=$HL_BUILD_DIR/tests/bench/logs/run
E2E_MACHINE_PREFIX=hl-bench-logs
e2e_stage
e2e_boot 1200
trap 'e2e_stop --quiet' EXIT
B=/run/bench
e2e_exec sh -c "mkdir -p $B /etc/systemd/journald.conf.d && printf '[Journal]\nRateLimitIntervalSec=0\n' >/etc/systemd/journald.conf.d/90-bench.conf && systemctl restart systemd-journald"

# The records: one unit, N lines, as fast as journald takes them.
e2e_exec systemd-run --quiet --wait --unit=bench-writer python3 -c '
import sys
n, out, pad = int(sys.argv[1]), sys.stdout, "p" * 60
for i in range(1, n + 1):
    out.write(f"bench {i} request_duration=0.{i % 1000:03d} {pad}\n")' "$N"
in_journal() { [ "$(e2e_exec journalctl -q -u bench-writer.service -o cat --no-pager | grep -c '^bench ')" -ge "$N" ]; }
wait_for 300 in_journal || { echo "the journal did not get $N records"; exit 1; }

lines() { e2e_exec sh -c "cat $1 2>/dev/null | grep -c 'bench [0-9]'" || echo 0; }
cpu_us() { e2e_exec cat "/proc/$1/stat" | awk -v t="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000000 / t)}'; }
hwm_kb() { e2e_exec sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
now_ms() { date +%s%3N; }
collector() { # up|down
  if [ "$1" = up ]; then
    e2e_exec sh -c "cat >$B/coll.conf" <<CONF
global(workDirectory="$B" maxMessageSize="64k")
module(load="imtcp")
template(name="raw" type="string" string="%msg%\n")
ruleset(name="c" queue.type="Direct") { action(type="omfile" file="$B/collected.log" template="raw") }
input(type="imtcp" port="10600" ruleset="c")
CONF
    e2e_exec systemd-run --quiet --unit=bench-collector /usr/sbin/rsyslogd -n -iNONE -f "$B/coll.conf"
    wait_for 10 e2e_exec sh -c "ss -Hltn 'sport = :10600' | grep -q LISTEN"
  else
    e2e_exec systemctl stop bench-collector 2>/dev/null; e2e_exec systemctl reset-failed bench-collector 2>/dev/null; true
  fi
}

# Starts a reader as a transient unit, waits until FILE has N records, and
# prints "seconds cpu_us hwm_kb". run_reader NAME FILE CMD...
run_reader() {
  local name=$1 file=$2; shift 2
  local t0 pid t1
  t0=$(now_ms)
  e2e_exec systemd-run --quiet --unit="bench-$name" "$@"
  pid=$(e2e_exec systemctl show -P MainPID "bench-$name")
  local done_n=0
  for _ in $(seq 6000); do
    done_n=$(lines "$file")
    [ "$done_n" -ge "$N" ] && break
    sleep 0.1
  done
  t1=$(now_ms)
  echo "$(( t1 - t0 )) $(cpu_us "$pid") $(hwm_kb "$pid") $done_n"
  e2e_exec systemctl stop "bench-$name" >/dev/null 2>&1
}

hl_conf() { # DIR FORWARD(yes/no)
  local fwd=""
  [ "$2" = yes ] && fwd="  forward: {host: 127.0.0.1, port: 10600, transport: tcp, backoff_min_ms: 100ms, backoff_max_ms: 1s, spool_max_bytes: 1GiB}"
  e2e_exec sh -c "rm -rf $1 && mkdir -p $1/log $1/state && cat >$1/hl.yaml" <<CONF
hl-logs:
  dir: $1/log
  state_dir: $1/state
  units: [bench-writer.service]
  bus: false
  max_bytes: 1GiB
$fwd
CONF
}
hl_cmd() { echo "$E2E_BINDIR/hl-logs --config $1/hl.yaml --runtime-dir $1/rt"; }

rs_conf() { # DIR ACTION(file|fwd) [QUEUE]
  local act
  if [ "$2" = file ]; then
    act="action(type=\"omfile\" file=\"$1/out.log\" template=\"j\")"
  else
    act="action(type=\"omfwd\" target=\"127.0.0.1\" port=\"10600\" protocol=\"tcp\" TCP_Framing=\"octet-counted\" template=\"j\" action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\" ${3:-})"
  fi
  e2e_exec sh -c "rm -rf $1 && mkdir -p $1 && cat >$1/rs.conf" <<CONF
global(workDirectory="$1" maxMessageSize="64k")
module(load="imjournal" StateFile="$1/imjournal.state" IgnorePreviousMessages="off" Ratelimit.Interval="0")
template(name="j" type="list" option.jsonf="on") {
  property(outname="asctime" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="name" name="programname" format="jsonf")
  property(outname="levelname" name="syslogseverity-text" format="jsonf")
  property(outname="unit" name="\$!_SYSTEMD_UNIT" format="jsonf")
  property(outname="pid" name="\$!_PID" format="jsonf")
  property(outname="boot_id" name="\$!_BOOT_ID" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}
if \$!_SYSTEMD_UNIT == "bench-writer.service" then { $act }
CONF
}
rs_cmd() { echo "/usr/sbin/rsyslogd -n -iNONE -f $1/rs.conf"; }

declare -A R
measure() { # KEY NAME FILE CMD
  local key=$1; shift
  read -r ms cpu hwm got <<<"$(run_reader "$@")"
  R[$key]="$ms $cpu $hwm $got"
  echo "  $key: $got records in $ms ms, cpu $cpu us, VmHWM $hwm kB" >&2
}

# 1. to a file
hl_conf $B/hl1 no;  measure hl_file hl1 "$B/hl1/log/bench-writer.log" $(hl_cmd $B/hl1)
rs_conf $B/rs1 file; measure rs_file rs1 "$B/rs1/out.log" $(rs_cmd $B/rs1)
# 2. to the collector
collector up
hl_conf $B/hl2 yes; e2e_exec rm -f $B/collected.log
measure hl_fwd hl2 "$B/collected.log" $(hl_cmd $B/hl2)
collector down; collector up; e2e_exec rm -f $B/collected.log; collector down; collector up
rs_conf $B/rs2 fwd; measure rs_fwd rs2 "$B/collected.log" $(rs_cmd $B/rs2)
collector down

# 3. the drain after an outage: everything read while the collector is away
drain() { # KEY NAME CMD... ; the reader's own readiness: its CPU stops moving
  local key=$1 name=$2; shift 2
  e2e_exec rm -f $B/collected.log
  e2e_exec systemd-run --quiet --unit="bench-$name" "$@"
  local pid prev=-1 cur
  pid=$(e2e_exec systemctl show -P MainPID "bench-$name")
  for _ in $(seq 300); do
    sleep 1; cur=$(cpu_us "$pid")
    [ "$cur" = "$prev" ] && break
    prev=$cur
  done
  local c0 t0 t1 got=0
  c0=$(cpu_us "$pid")
  t0=$(now_ms); collector up
  for _ in $(seq 6000); do got=$(lines $B/collected.log); [ "$got" -ge "$N" ] && break; sleep 0.1; done
  t1=$(now_ms)
  R[$key]="$(( t1 - t0 )) $(( $(cpu_us "$pid") - c0 )) $(hwm_kb "$pid") $got"
  echo "  $key: $got records in $(( t1 - t0 )) ms after the collector came back" >&2
  e2e_exec systemctl stop "bench-$name" >/dev/null 2>&1
  collector down
}
hl_conf $B/hl3 yes; drain hl_drain hl3 $(hl_cmd $B/hl3)
rs_conf $B/rs3 fwd 'queue.type="LinkedList" queue.size="2000000" queue.dequeueBatchSize="1024"'
drain rs_drain rs3 $(rs_cmd $B/rs3)

load=$(cut -d' ' -f1-3 /proc/loadavg)
row() { # LABEL KEY_HL KEY_RS
  read -r hms hcpu hhwm hgot <<<"${R[$2]}"; read -r rms rcpu rhwm rgot <<<"${R[$3]}"
  awk -v l="$1" -v n="$N" -v hms="$hms" -v hcpu="$hcpu" -v hhwm="$hhwm" -v rms="$rms" -v rcpu="$rcpu" -v rhwm="$rhwm" \
    -v hgot="$hgot" -v rgot="$rgot" 'BEGIN {
      printf "| %s | %.0fk rec/s, %.0f ms CPU/100k, %.1f MB | %.0fk rec/s, %.0f ms CPU/100k, %.1f MB |%s\n", l,
        hgot / (hms / 1000) / 1000, hcpu / 1000 / (n / 100000), hhwm / 1024,
        rgot / (rms / 1000) / 1000, rcpu / 1000 / (n / 100000), rhwm / 1024,
        (hgot < n || rgot < n) ? " INCOMPLETE" : "" }'
}
echo
echo "hl-logs against rsyslog $(rsyslogd -v | head -1 | awk '{print $2}' | tr -d ,), $N records, load $load:"
echo "| | hl-logs | rsyslog |"
echo "|---|---|---|"
row "journal → file" hl_file rs_file
row "journal → collector (TCP)" hl_fwd rs_fwd
row "drain after an outage" hl_drain rs_drain
json="{\"records\":$N,\"load\":\"$load\""
for k in "${!R[@]}"; do read -r ms cpu hwm got <<<"${R[$k]}"; json+=",\"$k\":{\"ms\":$ms,\"cpu_us\":$cpu,\"hwm_kb\":${hwm:-0},\"got\":$got}"; done
echo "$json}"
for k in hl_file hl_fwd hl_drain; do read -r ms cpu hwm got <<<"${R[$k]}"; [ "$got" -ge "$N" ] || { echo "hl-logs delivered $got of $N in $k"; exit 1; }; done
