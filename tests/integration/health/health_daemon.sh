#!/usr/bin/env bash
# hl-health as a daemon on a private bus: config errors with file:line, unit
# state from service.* events (msgpack bodies, as hlctl pub sends them),
# HTTP and exec checks against real peers, hlctl health exit codes 0/1/2,
# --why, health.* events with the last-value cache, reload keeping state,
# and a clean stop that kills a hung exec check's process group.
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
B=${HL_BUILD_DIR:?}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
hlctl() { "$B/daemons/hlctl/hlctl" --runtime-dir "$dir" "$@"; }

# The server prints "PORT n" once it listens: read blocks until then.
exec {httpd_fd}< <(exec "$B/tests/integration/health/hl-test-httpd" --port 0)
pids+=($!)
read -r _ port <&$httpd_fd
ok test -n "$port"
get() { curl -s -o /dev/null "http://127.0.0.1:$port$1"; }

# The documented example validates, as shipped and with its commented
# "every option" service switched on.
mkdir -p "$dir/example"
cp "${HL_SOURCE_DIR:?}/deploy/config/hl-health.yaml.example" "$dir/example/hl.yaml"
ok "$B/daemons/hl-health/hl-health" --config "$dir/example/hl.yaml" --check-config
sed -i 's/^    # example:/    example:/; s/^    #   /      /' "$dir/example/hl.yaml"
# its token comes from a file, which the example names under /etc/hl/secrets
(umask 077; echo example-token > "$dir/example/token")
sed -i "s#/etc/hl/secrets/example-api.token#$dir/example/token#" "$dir/example/hl.yaml"
ok grep -q "^    example:" "$dir/example/hl.yaml"
ok "$B/daemons/hl-health/hl-health" --config "$dir/example/hl.yaml" --check-config

mkdir -p "$dir/etc/hl.d"
cat > "$dir/etc/hl.yaml" <<Y
hl-health:
  builtin: false
  snapshot_interval: 1s
  spread: 0s
  defaults: {interval: 200ms, timeout: 150ms, retries: 1, failures: 2, successes: 1, grace: 0s}
  services:
    web:
      unit: web.service
      checks:
        - {name: web-http, type: http, url: "http://127.0.0.1:$port/flip", body_match: flip}
    batch:
      unit: ""
      checks:
        - {name: batch-exec, type: exec, argv: [/bin/sh, -c, "echo ran; exit 0"]}
        - {name: batch-disk, type: disk, path: /, warn_free: "0%", crit_free: "0%"}
Y

# Bad configs: every error named with its file and line.
cat > "$dir/etc/hl.d/50-bad.yaml" <<'Y'
hl-health:
  services:
    bad:
      checks:
        - {type: ftp}
        - {type: exec, argv: [sh, -c, "true"]}
        - {type: http, url: "http://x/", status: "200-99"}
        - {type: http, url: "http://x/", body_regex: "([a"}
        - {type: tcp, port: 99999}
        - {type: disk, warn_free: "lots"}
Y
out=$("$B/daemons/hl-health/hl-health" --config "$dir/etc/hl.yaml" --check-config 2>&1); rc=$?
ok test $rc = 1
ok grep -q "50-bad.yaml:5: a check's 'type' must be http, tcp, exec or disk, not 'ftp'" <<<"$out"
ok grep -q "50-bad.yaml:6: an exec check needs 'argv'" <<<"$out"
ok grep -q "50-bad.yaml:7: 'status' must be" <<<"$out"
ok grep -q "50-bad.yaml:9: 'port' must be between" <<<"$out"
ok grep -q "50-bad.yaml:10: 'warn_free' must be a percentage" <<<"$out"
sed -i '/status: "200-99"/d; /type: ftp/d; /argv: \[sh/d; /port: 99999/d; /lots/d' "$dir/etc/hl.d/50-bad.yaml"
out=$("$B/daemons/hl-health/hl-health" --config "$dir/etc/hl.yaml" --check-config 2>&1); rc=$?
ok test $rc = 1
ok grep -q "body_regex" <<<"$out"
rm "$dir/etc/hl.d/50-bad.yaml"
ok "$B/daemons/hl-health/hl-health" --config "$dir/etc/hl.yaml" --check-config

"$B/daemons/hl-bus/hl-bus" --runtime-dir "$dir" 2>"$dir/bus.log" &
pids+=($!)
wait_for 30 hlctl --retries 0 --timeout 100 ping hl-bus
"$B/daemons/hl-health/hl-health" --config "$dir/etc/hl.yaml" --runtime-dir "$dir" 2>"$dir/health.log" &
hpid=$!
pids+=($hpid)
wait_for 30 hlctl --retries 0 --timeout 100 ping hl-health

get /set-flip/200
# web: its check passes but its unit's state is not known yet → unknown → 1
wait_for 30 hlctl health batch
ok wait_for 30 rc_is 1 hlctl health web
ok bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir' health web | grep -q 'no state of unit web.service'"
hlctl pub service.web unit=web.service active_state=active sub_state=running >/dev/null
ok wait_for 30 hlctl health web
ok wait_for 30 hlctl health

# The endpoint fails: two bad runs (failures: 2), then degraded → 1
get /set-flip/500
ok wait_for 30 rc_is 1 hlctl health web
out=$(hlctl health --why web-http); rc=$?
ok test $rc = 2
ok grep -q "state      unhealthy" <<<"$out"
ok grep -q "HTTP 500, expected 200-399" <<<"$out"
ok grep -q "streak 0 good / [0-9]* bad" <<<"$out"
ok grep -q "^  | flip" <<<"$out"
ok grep -q "service    degraded: check web-http failing: HTTP 500" <<<"$out"
hlctl --json health --why web-http > "$dir/why.json"
ok grep -q '"last_detail":"HTTP 500, expected 200-399"' "$dir/why.json"
out=$(hlctl health --why nosuch 2>&1); rc=$?
ok test $rc = 2
ok grep -q "no check 'nosuch'; checks: web-unit, web-http" <<<"$out"

# The unit fails: unhealthy → 2, whatever the checks say
hlctl pub service.web unit=web.service active_state=failed sub_state=failed >/dev/null
ok wait_for 30 rc_is 2 hlctl health web
ok wait_for 30 rc_is 2 hlctl health
# a late subscriber sees the current state at once (last-value cache)
out=$(hlctl sub --count 1 --wait 3000 health.web)
ok grep -q '"state":"unhealthy"' <<<"$out"
ok grep -q 'unit web.service is failed' <<<"$out"

# Recovery: active again and the endpoint fine → healthy
get /set-flip/200
hlctl pub service.web unit=web.service active_state=active sub_state=running >/dev/null
ok wait_for 30 hlctl health web

# Reload: a new check comes, the old ones keep their state and counters
runs_before=$(hlctl --json health --why batch-exec | grep -o '"runs":[0-9]*' | cut -d: -f2)
cat > "$dir/etc/hl.d/60-more.yaml" <<Y
hl-health:
  services:
    batch:
      unit: ""
      checks:
        - {name: batch-exec, type: exec, argv: [/bin/sh, -c, "echo ran; exit 0"]}
        - {name: batch-disk, type: disk, path: /, warn_free: "0%", crit_free: "0%"}
        - {name: batch-hang, type: exec, argv: [/bin/sh, -c, "sleep 600 & sleep 600"], timeout: 5s, interval: 10s}
        - {name: batch-hourly, type: exec, argv: [/bin/sh, -c, "echo run >>$dir/hourly.log"], interval: 1h}
Y
ok hlctl call hl-health reload
ok wait_for 30 bash -c "'$B/daemons/hlctl/hlctl' --runtime-dir '$dir' health --why batch-hang | grep -q 'last run   never'; test \$? = 1"

# hlctl call hl-health run: a check runs now, off its schedule (an hourly one
# has run once, at its start); a running, unknown, unit or missing check is
# refused with the reason.
lines() { wc -l <"$dir/hourly.log" 2>/dev/null || echo 0; }
lines_are() { [ "$(lines)" = "$1" ]; }
ok wait_for 30 lines_are 1
out=$(hlctl call hl-health run check=batch-hourly); rc=$?
ok test $rc = 0
ok grep -q "started.*batch-hourly" <<<"$out"
ok wait_for 30 lines_are 2
hourly_runs() { hlctl --json health --why batch-hourly | grep -o '"runs":[0-9]*' | cut -d: -f2; }
runs_are() { [ "$(hourly_runs)" = "$1" ]; }
ok wait_for 30 runs_are 2
out=$(hlctl call hl-health run check=batch-hang 2>&1); rc=$?
ok test $rc != 0
ok grep -q "check 'batch-hang' is running" <<<"$out"
out=$(hlctl call hl-health run check=nosuch 2>&1); rc=$?
ok test $rc != 0
ok grep -q "no check 'nosuch'" <<<"$out"
out=$(hlctl call hl-health run check=web-unit 2>&1); rc=$?
ok test $rc != 0
ok grep -q "give check=NAME of a probed (not unit) check" <<<"$out"
out=$(hlctl call hl-health run 2>&1); rc=$?
ok test $rc != 0
ok grep -q "give check=NAME" <<<"$out"
ok lines_are 2
runs_after=$(hlctl --json health --why batch-exec | grep -o '"runs":[0-9]*' | cut -d: -f2)
ok test "${runs_after:-0}" -ge "${runs_before:-1}"
ok wait_for 30 hlctl health web

# Stop while the hung check runs: its whole process group dies with us.
pgid=$(ps -eo pgid=,args= | awk '/sleep 600 & sleep 600/ && !/awk/ {print $1; exit}')
ok test -n "$pgid"
kill -TERM $hpid
wait $hpid; rc=$?
ok test $rc = 0
ok test -z "$(ps -eo pgid=,stat= | awk -v g="$pgid" '$1 == g && $2 !~ /Z/')"
ok grep -q "hl-health .* running" "$dir/health.log"

checks_done
