#!/usr/bin/env bash
# The TLS policy (tls.yml, hlbus/tlspolicy.h) applied by every TLS client,
# against real TLS servers on loopback (tls_server.py) with a CA and a
# certificate made here by openssl (the CA is in no system store):
#   * a bad policy fails --check-config of hl-uplink, hl-health and hl-logs,
#     with the file and line;
#   * a server offering only TLS 1.1, or only a CBC suite (which libcurl and
#     OpenSSL would take by default), is refused by hl-uplink, by an
#     hl-health HTTPS check and by hl-logs' forwarder; the server sees the
#     failed handshake and no request;
#   * a compliant server signed by the policy's CA is accepted by all three;
#     hl-health's reload reads the policy again (without the CA the server
#     fails; a bad policy is refused and the running one kept);
#   * a check's own ca_file is its whole trust (the policy's CA not added),
#     and a check's min_version raises the policy's floor (one above the
#     policy's max_version is a config error).
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
need openssl python3
B=${HL_BUILD_DIR:?}
S=$HL_SOURCE_DIR
dir=$(mktemp -d)
pids=()
dpid=
cleanup() {
    [ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
hlctl() { "$B/daemons/hlctl/hlctl" --runtime-dir "$dir" "$@"; }
# started DAEMON: it answers, or the test ends here (nothing after it could pass)
started() {
    wait_for 30 hlctl --retries 0 --timeout 100 ping "$1" && return 0
    fail_check "$1 did not start"
    checks_done integration_tls_policy
    exit 1
}

# ---- a CA of our own and a server certificate it signed ----
(
    cd "$dir" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj /CN=hl-tls-test-ca &&
    openssl req -new -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > srv.ext &&
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile srv.ext -out srv.pem
) >"$dir/openssl.log" 2>&1
ok test -s "$dir/srv.pem"

# the policy as shipped, with our CA
sed "s#/etc/ssl/certs/hl-ca.crt#$dir/ca.pem#" "$S/deploy/security/tls.yml" > "$dir/tls.yml"
ok grep -q "ca_certificate: '$dir/ca.pem'" "$dir/tls.yml"
export HL_TLS_POLICY=$dir/tls.yml

# ---- servers: one per profile; each prints its port once it listens ----
declare -A port
for prof in good tls11 cbc; do
    exec {fd}< <(exec python3 -W ignore "$S/tests/integration/tls/tls_server.py" --profile "$prof" \
        --cert "$dir/srv.pem" --key "$dir/srv.key" --log "$dir/$prof.log" 2>"$dir/$prof.err")
    pids+=($!)
    read -r _ p <&$fd
    port[$prof]=$p
    ok test -n "$p"
    : > "$dir/$prof.log"
done
seen() { grep -q "$2" "$dir/$1.log"; }

# ---- a bad policy: every daemon's --check-config names the file and line ----
printf 'tls:\n  min_version: TLSv1.2\n  cipher_suites:\n    - TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256\n' \
    > "$dir/bad-tls.yml"
printf 'hl-health:\n  builtin: false\n' > "$dir/empty.yaml"
for d in hl-uplink hl-health hl-logs; do
    out=$(HL_TLS_POLICY=$dir/bad-tls.yml "$B/daemons/$d/$d" --config "$dir/empty.yaml" \
        --check-config 2>&1)
    rc=$?
    ok test "$rc" != 0
    ok grep -q "bad-tls.yml:4: 'cipher_suites': TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 is refused: not an AEAD cipher" <<<"$out"
done
printf 'tls:\n  min_version: TLSv1.3\n  max_version: TLSv1.2\n' > "$dir/bad-tls.yml"
out=$(HL_TLS_POLICY=$dir/bad-tls.yml "$B/daemons/hl-uplink/hl-uplink" --config "$dir/empty.yaml" \
    --check-config 2>&1)
ok grep -q "bad-tls.yml:2: 'min_version' TLSv1.3 is above 'max_version' TLSv1.2" <<<"$out"
# a check's min_version above the policy's max_version: refused, naming both
printf 'tls:\n  max_version: TLSv1.2\n' > "$dir/max12.yml"
cat > "$dir/min13.yaml" <<Y
hl-health:
  builtin: false
  services:
    x:
      unit: ""
      checks: [{name: x-https, type: http, url: "https://127.0.0.1:1/", tls: {min_version: "1.3"}}]
Y
out=$(HL_TLS_POLICY=$dir/max12.yml "$B/daemons/hl-health/hl-health" --config "$dir/min13.yaml" \
    --check-config 2>&1)
ok test $? != 0
ok grep -q "min13.yaml:6: check x-https: tls.min_version 1.3 is above the TLS policy's max_version TLSv1.2 ($dir/max12.yml)" <<<"$out"
# no policy file: the built-in policy, no error
out=$(HL_TLS_POLICY=$dir/none.yml "$B/daemons/hl-uplink/hl-uplink" --config "$dir/empty.yaml" \
    --check-config 2>&1)
ok test $? = 0

"$B/daemons/hl-bus/hl-bus" --runtime-dir "$dir" 2>"$dir/bus.log" &
pids+=($!)
started hl-bus

# ---- hl-health: one service per server, and the check options ----
url() { echo "https://127.0.0.1:${port[$1]}/"; }
check() { echo "      checks: [{name: $1, type: http, url: \"$2\"${3:+, $3}}]"; }
cat > "$dir/health.yaml" <<Y
hl-health:
  builtin: false
  spread: 0s
  defaults: {interval: 2s, timeout: 1900ms, retries: 1, failures: 1, successes: 1, grace: 0s}
  services:
    good:
      unit: ""
$(check good-https "$(url good)")
    tls11:
      unit: ""
$(check tls11-https "$(url tls11)")
    cbc:
      unit: ""
$(check cbc-https "$(url cbc)")
    ownca:
      unit: ""
$(check ownca-https "$(url good)" "tls: {ca_file: /etc/ssl/certs/ca-certificates.crt}")
    min13:
      unit: ""
$(check min13-https "$(url cbc)" "tls: {min_version: \"1.3\", ca_file: $dir/ca.pem}")
Y
ok "$B/daemons/hl-health/hl-health" --config "$dir/health.yaml" --check-config
"$B/daemons/hl-health/hl-health" --runtime-dir "$dir" --config "$dir/health.yaml" \
    2>"$dir/health.log" &
dpid=$!
started hl-health
why() { hlctl --json health --why "$1" 2>/dev/null; }
why_has() { why "$1" | grep -q "$2"; }
ok wait_for 30 rc_is 0 hlctl health good
ok wait_for 30 why_has good-https "HTTP 200"
ok seen good "handshake ok TLSv1.3"
ok wait_for 30 rc_is 1 hlctl health tls11
ok wait_for 30 rc_is 1 hlctl health cbc
ok wait_for 30 seen tls11 "handshake failed"
ok wait_for 30 seen cbc "handshake failed"
nok seen tls11 "request"
nok seen cbc "request"
ok wait_for 30 why_has cbc-https "SSL"
# its own ca_file is its whole trust: our CA is in no system store
ok wait_for 30 rc_is 1 hlctl health ownca
ok wait_for 30 why_has ownca-https "certificate"
# min_version 1.3 against a TLS 1.2 server, with the right CA: refused
ok wait_for 30 rc_is 1 hlctl health min13
ok wait_for 30 why_has min13-https "SSL"
# a reload reads the policy again: without its CA the good server fails
sed "/ca_certificate/d" "$dir/tls.yml" > "$dir/tls-noca.yml"
cp "$dir/tls.yml" "$dir/tls-ca.yml"
cp "$dir/tls-noca.yml" "$dir/tls.yml"
ok hlctl call hl-health reload
ok wait_for 30 rc_is 1 hlctl health good
ok wait_for 30 why_has good-https "certificate"
# and a bad one is refused, the running policy kept
printf 'tls:\n  min_version: TLSv1.0\n' > "$dir/tls.yml"
nok hlctl call hl-health reload
cp "$dir/tls-ca.yml" "$dir/tls.yml"
ok hlctl call hl-health reload
ok wait_for 30 rc_is 0 hlctl health good
kill -TERM "$dpid"; wait "$dpid" 2>/dev/null; dpid=

# ---- hl-uplink: the registration reaches the compliant server only ----
echo 0123456789abcdef0123456789abcdef > "$dir/machine-id"
(umask 077; echo tok > "$dir/token")
us() { hlctl --json uplink status 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); u=d.get('body', d); print($1)"; }
us_true() { [ "$(us "$1")" = True ]; }
uplink_against() {
    mkdir -p "$dir/outbox-$1"
    cat > "$dir/uplink.yaml" <<Y
hl-uplink:
  endpoint: "https://127.0.0.1:${port[$1]}"
  token_file: $dir/token
  identity_sources: [machine-id]
  machine_id_path: $dir/machine-id
  outbox_dir: $dir/outbox-$1
  alert_listen: ""
  backoff_base: 200ms
  backoff_cap: 1s
  request_timeout: 2s
  connect_timeout: 1s
  status_interval: 300ms
Y
    "$B/daemons/hl-uplink/hl-uplink" --runtime-dir "$dir" --config "$dir/uplink.yaml" \
        --log-level debug 2>>"$dir/uplink-$1.log" &
    dpid=$!
    started hl-uplink
}
stop_daemon() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; dpid=; }
for prof in good tls11 cbc; do : > "$dir/$prof.log"; done
uplink_against good
ok wait_for 30 seen good "request POST /instances"
ok grep -q "TLS policy: $dir/tls.yml (TLSv1.2-TLSv1.3, 4 suites, extra CA $dir/ca.pem)" \
    "$dir/uplink-good.log"
stop_daemon
for prof in tls11 cbc; do
    uplink_against "$prof"
    ok wait_for 30 seen "$prof" "handshake failed"
    ok wait_for 30 us_true "'SSL' in (u.get('last_error') or '')"
    nok seen "$prof" "request"
    stop_daemon
done

# ---- hl-logs' forwarder: up to the compliant collector only ----
logs_against() {
    mkdir -p "$dir/logs-$1" "$dir/lstate-$1" "$dir/journal"
    cat > "$dir/logs.yaml" <<Y
hl-logs:
  dir: $dir/logs-$1
  state_dir: $dir/lstate-$1
  journal_dir: $dir/journal
  forward:
    host: 127.0.0.1
    port: ${port[$1]}
    transport: tls
    server_name: localhost
    backoff_min_ms: 100ms
    backoff_max_ms: 500ms
    connect_timeout_ms: 2s
Y
    "$B/daemons/hl-logs/hl-logs" --runtime-dir "$dir" --config "$dir/logs.yaml" \
        2>>"$dir/logs-$1.log" &
    dpid=$!
    started hl-logs
}
status_has() { hlctl status hl-logs 2>/dev/null | grep -q "$1"; }
for prof in good tls11 cbc; do : > "$dir/$prof.log"; done
logs_against good
ok wait_for 30 seen good "handshake ok TLSv1.3"
ok wait_for 30 status_has "forward up"
stop_daemon
for prof in tls11 cbc; do
    logs_against "$prof"
    ok wait_for 30 seen "$prof" "handshake failed"
    ok wait_for 30 status_has "forward down"
    nok status_has "forward up"
    nok seen "$prof" "handshake ok"
    stop_daemon
done

checks_done integration_tls_policy
