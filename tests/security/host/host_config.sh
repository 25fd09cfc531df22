#!/usr/bin/env bash
# #20: the host security files (deploy/security/) validated by the tools
# that read them, checked by hl-compliance, and a mutation test: broken
# variants (typos, weak ciphers, NOPASSWD: ALL, wildcard sudo rules, an
# accept-all firewall, an sshd drop-in turning passwords back on, audit
# globs, weak TLS) must each be caught by a validator or by the report.
#   sshd -t / sshd -T     (a private sshd_config that includes our drop-in dir)
#   visudo -c
#   nft -c -f             (inside `unshare -rn`: a network namespace of its own)
#   the firewall against deploy/security/security-groups.yml
#   hl-compliance --sshd-config/--sudoers/--nft-file/--audit-rules/--tls
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
set -u
S=$HL_SOURCE_DIR/deploy/security
C=${HL_BUILD_DIR:?}/daemons/hl-compliance/hl-compliance
RULES=$HL_BUILD_DIR/deploy/security/hl-freestyle.rules
for t in sshd visudo nft unshare; do
    command -v "$t" >/dev/null || PATH=$PATH:/usr/sbin
    command -v "$t" >/dev/null || { echo "SKIP: $t is not installed (scripts/install-deps.sh)"; exit 77; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# sshd -t wants its privilege separation directory (made at its first start).
[ -d /run/sshd ] || { mkdir -p /run/sshd && made_run_sshd=1; }
trap 'rm -rf "$dir"; [ -n "${made_run_sshd:-}" ] && rmdir /run/sshd 2>/dev/null' EXIT

# --- an sshd_config like Debian's: host keys, then our drop-in directory
ssh_setup() { # DIR: sshd_config there, drop-ins in DIR/d
    mkdir -p "$1/d"
    ssh-keygen -q -t ed25519 -N '' -f "$1/host_ed25519" </dev/null
    printf 'Include %s/d/*.conf\nHostKey %s/host_ed25519\nSubsystem sftp /usr/lib/openssh/sftp-server\n' \
        "$1" "$1" >"$1/sshd_config"
    cp "$S/sshd-hl-freestyle.conf" "$1/d/00-hl-freestyle.conf"
}
ssh_setup "$dir/ssh"
ok sshd -t -f "$dir/ssh/sshd_config"
# cloud-init's drop-in comes later in name order and loses (first value wins)
printf 'PasswordAuthentication yes\n' >"$dir/ssh/d/50-cloud-init.conf"
eff=$(sshd -T -f "$dir/ssh/sshd_config" -C user=hluser,host=localhost,addr=127.0.0.1)
ok grep -qx 'passwordauthentication no' <<<"$eff"
ok grep -qx 'permitrootlogin no' <<<"$eff"
ok visudo -c -q -f "$S/sudoers-hl-freestyle"
ok unshare -rn nft -c -f "$S/hl-freestyle.nft"
# applied twice (as a re-apply would): still one table, the same rules
twice=$(unshare -rn sh -c "nft -f '$S/hl-freestyle.nft' && nft -f '$S/hl-freestyle.nft' && nft list ruleset")
ok test "$(grep -c '^table inet hl_freestyle' <<<"$twice")" = 1
ok test "$(grep -c 'tcp dport 22 accept' <<<"$twice")" = 1

# --- the firewall says what the cloud security group says
fw=$(unshare -rn sh -c "nft -f '$S/hl-freestyle.nft' && nft -j list ruleset")
fw_rules=$(jq -r '.nftables[] | select(.rule and .rule.chain == "input") | .rule.expr as $e |
    select(any($e[]; has("accept"))) |
    ([$e[] | select(.match.left.payload.field == "dport") | .match.right | if type == "object" then .set[] else . end] ) as $ports |
    ([$e[] | select(.match.left.payload.field == "saddr") | .match.right] | if length == 0 then "0.0.0.0/0" else (.[0] | if type == "string" and startswith("@") then "10.0.0.0/8" else tostring end) end) as $src |
    $ports[] | "tcp \(.) \($src)"' <<<"$fw" | sort -u)
sg_rules=$(python3 -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
for g in d["security_groups"]:
    for r in g["rules"]["inbound"]:
        print(r["protocol"], r["port"], r["source"])' "$S/security-groups.yml" | sort -u)
if [ "$fw_rules" = "$sg_rules" ]; then pass=$((pass + 1)); else
    fail_check "firewall and security group differ:"$'\n'"nft: $fw_rules"$'\n'"sg:  $sg_rules"; fi

# --- the audit rules: the programs they name exist here (a stand-in bindir)
bindir=$(sed -n 's|^-w \(.*\)/hlctl -p x.*|\1|p' "$RULES")
ok test -n "$bindir"
confdir=$(sed -n 's|^-w \(.*\)/ -p wa -k hl-config$|\1|p' "$RULES")
ok test -n "$confdir"
mkdir -p "$dir/bin" "$dir/etc-hl" "$dir/var-lib-hl"
sed -e "s|$bindir/|$dir/bin/|g" -e "s|-w $confdir/ |-w $dir/etc-hl/ |" \
    -e "s|-w /var/lib/hl/ |-w $dir/var-lib-hl/ |" "$RULES" >"$dir/audit.rules"
for p in $(sed -n "s|^-w $dir/bin/\([^ ]*\) -p x.*|\1|p" "$dir/audit.rules"); do : >"$dir/bin/$p"; done
ok grep -q -- '-k hl-processes' "$dir/audit.rules"
ok bash -c "! grep -v '^#' '$dir/audit.rules' | grep -q 'path=.*[*]'"

# --- the report on the shipped files: nothing fails or warns
report() { # extra args: the report's exit status; its text in $dir/out
    "$C" --timeout 20000 --sshd-config "$dir/ssh/sshd_config" --sudoers "$S/sudoers-hl-freestyle" \
        --nft-file "$S/hl-freestyle.nft" --audit-rules "$dir/audit.rules" --tls "$S/tls.yml" \
        --units 'no-such-unit-*.service' "$@" >"$dir/out" 2>&1
}
report --all; rc=$?
[ "$rc" = 0 ] || cat "$dir/out" >&2
ok test "$rc" = 0
ok grep -q 'PASS .*firewall.input' "$dir/out"
ok grep -q 'PASS .*ssh.passwordauthentication' "$dir/out"
report --json
ok jq -e '.instance_id and .timestamp and (.compliance_checks | length > 30) and
    (.compliance_checks[0] | has("name") and has("status") and has("details") and has("timestamp"))' "$dir/out"
# the certificate tls.yml names is not here: said, not skipped
ok jq -e '.compliance_checks[] | select(.name == "tls.certificate.expiry" and .status == "NOT_EVALUATED")' "$dir/out"

# --- mutations: each one caught (a validator fails, or the report is not 0)
caught=0 missed=()
mutant() { # NAME KIND FILE: FILE is the broken variant of KIND
    local name=$1 kind=$2 f=$3 rc=0
    case $kind in
    sshd) cp "$f" "$dir/m/d/00-hl-freestyle.conf"
          if sshd -t -f "$dir/m/sshd_config" >/dev/null 2>&1; then
              report_with --sshd-config "$dir/m/sshd_config" || rc=1
          else rc=1; fi ;;
    sshd-dropin) cp "$S/sshd-hl-freestyle.conf" "$dir/m/d/00-hl-freestyle.conf"
          cp "$f" "$dir/m/d/00-a-later-dropin.conf"
          report_with --sshd-config "$dir/m/sshd_config" || rc=1
          rm -f "$dir/m/d/00-a-later-dropin.conf" ;;
    sudo) if visudo -c -q -f "$f" >/dev/null 2>&1; then
              report_with --sudoers "$f" || rc=1
          else rc=1; fi ;;
    nft)  if unshare -rn nft -c -f "$f" >/dev/null 2>&1; then
              report_with --nft-file "$f" || rc=1
          else rc=1; fi ;;
    audit) report_with --audit-rules "$f" || rc=1 ;;
    tls)  report_with --tls "$f" || rc=1 ;;
    esac
    if [ $rc = 1 ]; then caught=$((caught + 1)); else missed+=("$name"); fi
}
report_with() { # the shipped files but one (a later option wins)
    local args=(--sshd-config "$dir/ssh/sshd_config" --sudoers "$S/sudoers-hl-freestyle"
        --nft-file "$S/hl-freestyle.nft" --audit-rules "$dir/audit.rules" --tls "$S/tls.yml")
    "$C" "${args[@]}" "$@" --units 'none-*.service' >/dev/null 2>&1
}
ssh_setup "$dir/m"
n=0
# sshd: every option of ours given a bad value in our drop-in, and in a
# drop-in whose name sorts before ours (00-a-...: sshd keeps the first value
# it reads, so it wins); typos; weak algorithms.
while read -r opt bad; do
    sed -E "s/^$opt .*/$opt $bad/I" "$S/sshd-hl-freestyle.conf" >"$dir/v"
    mutant "sshd $opt $bad" sshd "$dir/v"
    printf '%s %s\n' "$opt" "$bad" >"$dir/v"
    mutant "drop-in $opt $bad" sshd-dropin "$dir/v"
    n=$((n + 2))
done <<'M'
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication yes
PermitEmptyPasswords yes
PubkeyAuthentication no
MaxAuthTries 10
MaxSessions 10
ClientAliveInterval 0
ClientAliveCountMax 10
AllowTcpForwarding yes
AllowAgentForwarding yes
X11Forwarding yes
PermitTunnel yes
GatewayPorts yes
Compression yes
TCPKeepAlive yes
LogLevel QUIET
AllowUsers root
UsePAM no
Ciphers aes128-cbc,aes256-ctr
MACs hmac-sha1,hmac-sha2-256
KexAlgorithms diffie-hellman-group14-sha1,curve25519-sha256
M
for typo in 'PermitRootLogn no' 'PasswordAuthentication maybe' 'MaxAuthTries three' 'Ciphers rot13' 'KexAlgorithms nope'; do
    sed "1i $typo" "$S/sshd-hl-freestyle.conf" >"$dir/v"
    mutant "sshd typo $typo" sshd "$dir/v"; n=$((n + 1))
done
# sudo: the spec's wildcard rules, ALL, a bare command, syntax errors
while IFS= read -r rule; do
    printf '%s\n' "$rule" >"$dir/v"
    mutant "sudo $rule" sudo "$dir/v"; n=$((n + 1))
done <<'M'
hluser ALL=(ALL) NOPASSWD: ALL
hluser ALL=(ALL) ALL
hluser ALL=(ALL) NOPASSWD: /usr/local/bin/hl-*
hluser ALL=(ALL) NOPASSWD: /bin/systemctl restart hl-*
hluser ALL=(ALL) NOPASSWD: /bin/systemctl start hl-*
hluser ALL=(ALL) NOPASSWD: /bin/systemctl stop hl-*
hluser ALL=(ALL) NOPASSWD: /bin/systemctl status hl-*
hluser ALL=(root) NOPASSWD: /usr/bin/systemctl
hluser ALL=(root) NOPASSWD: /usr/bin/systemctl status hl.target, /bin/sh
hluser ALL=(root) NOPASSWD: systemctl status hl.target
hluser ALL=(root) NOPASSWD: /usr/bin/systemctl status hl.target, /usr/bin/vi /etc/h?.yaml
ALL ALL=(ALL) NOPASSWD: ALL
hluser ALL=(ALL NOPASSWD: ALL
hluser ALL=(root) NOPASWD: /usr/bin/true ""
M
printf 'Cmnd_Alias EVERYTHING = ALL\nhluser ALL=(root) NOPASSWD: EVERYTHING\n' >"$dir/v"
mutant "sudo alias of ALL" sudo "$dir/v"; n=$((n + 1))
printf 'Cmnd_Alias HL = /usr/bin/systemctl stop hl-*\nhluser ALL=(root) NOPASSWD: HL\n' >"$dir/v"
mutant "sudo alias with a wildcard" sudo "$dir/v"; n=$((n + 1))
printf 'Cmnd_Alias HL = /usr/bin/systemctl status hl.target, \\\n  /usr/bin/bash\nhluser ALL=(root) NOPASSWD: HL\n' >"$dir/v"
mutant "sudo continued alias with a shell" sudo "$dir/v"; n=$((n + 1))
# nftables: accept-all, open ports, the table or chain gone, syntax errors
nftm() { # NAME SED-EXPRESSION
    sed -E "$2" "$S/hl-freestyle.nft" >"$dir/v"
    mutant "nft $1" nft "$dir/v"; n=$((n + 1))
}
nftm 'policy accept' 's/policy drop;/policy accept;/'
nftm 'accept everything' 's/^( *)ct state invalid drop/\1accept/'
nftm 'tcp any port' 's/^( *)ct state invalid drop/\1meta l4proto tcp accept/'
nftm '8080 from anywhere' 's/ip saddr @private_v4 tcp dport 8080 accept/tcp dport 8080 accept/'
nftm '3000 from anywhere' 's/ip saddr @private_v4 tcp dport 3000 accept/tcp dport 3000 accept/'
nftm 'metrics from anywhere' 's/ip saddr @private_v4 tcp dport \{ 8081, 9100 \} accept/tcp dport { 8081, 9100 } accept/'
nftm 'postgres open' 's/^( *)tcp dport 22 accept/\1tcp dport 22 accept\n\1tcp dport 5432 accept/'
nftm 'udp open' 's/^( *)tcp dport 22 accept/\1tcp dport 22 accept\n\1udp dport 53 accept/'
nftm 'hook forward' 's/hook input priority filter; policy drop;/hook forward priority filter; policy drop;/'
nftm 'table renamed' 's/hl_freestyle/hl_fw/g'
nftm 'typo' 's/policy drop;/policy dorp;/'
nftm 'missing brace' '0,/^    }/s/^    }//'
nftm 'unknown set' 's/@private_v4/@private_v5/'
nftm 'input chain gone' 's/chain input/chain inbound/'
# audit: the spec's errors, missing keys, junk
auditm() { # NAME SED-EXPRESSION
    sed -E "$2" "$dir/audit.rules" >"$dir/v"
    mutant "audit $1" audit "$dir/v"; n=$((n + 1))
}
auditm 'glob in path' '0,/-S execve -F path=[^ ]*/s//-S execve -F path=\/usr\/local\/bin\/hl-*/'
auditm 'spec watch hl-' '0,/^-w [^ ]*hlctl -p x/s//-w \/usr\/local\/bin\/hl- -p x/'
auditm 'no config watch' '/-k hl-config/d'
auditm 'no data watch' '/-k hl-data/d'
auditm 'no sudoers watch' '/-k privilege-escalation/d'
auditm 'no process rules' '/-k hl-processes/d'
auditm 'no executable watches' '/-k hl-executables/d'
auditm 'junk line' '1i wat'
auditm 'no action' 's/-a always,exit -F arch=b64 -S socket -F a0=2/-a exit -F arch=b64 -S socket -F a0=2/'
auditm 'watch in a missing dir' '1i -w /nonexistent-dir/x -p wa -k hl-config'
auditm 'relative watch' '1i -w etc/hl -p wa -k hl-config'
auditm 'everything gone' 'd'
# TLS: old versions, weak suites, typos
tlsm() { # NAME SED-EXPRESSION
    sed -E "$2" "$S/tls.yml" >"$dir/v"
    mutant "tls $1" tls "$dir/v"; n=$((n + 1))
}
tlsm 'TLS 1.0' "s/min_version: 'TLSv1.2'/min_version: 'TLSv1.0'/"
tlsm 'TLS 1.1' "s/min_version: 'TLSv1.2'/min_version: 'TLSv1.1'/"
tlsm 'SSLv3 max' "s/max_version: 'TLSv1.3'/max_version: 'SSLv3'/"
tlsm 'no min' '/min_version/d'
tlsm 'CBC suite' "s/TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256/TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256/"
tlsm 'RC4 suite' "s/TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256/TLS_ECDHE_RSA_WITH_RC4_128_SHA/"
tlsm '3DES suite' "s/TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256/TLS_RSA_WITH_3DES_EDE_CBC_SHA/"
tlsm 'no forward secrecy' "s/TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256/TLS_RSA_WITH_AES_128_GCM_SHA256/"
tlsm 'NULL cipher' "s/TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256/TLS_ECDHE_RSA_WITH_NULL_SHA/"
tlsm 'key typo' 's/min_version/min_verison/'
tlsm 'no tls section' 's/^tls:/tlz:/'
tlsm 'not yaml' '1i : : [ {'

echo "mutations: $caught of $n caught"
if [ ${#missed[@]} = 0 ] && [ "$caught" = "$n" ] && [ "$n" -ge 100 ]; then pass=$((pass + 1)); else
    fail_check "missed ${#missed[@]} of $n mutations: ${missed[*]}"; fi
checks_done security_host_config
