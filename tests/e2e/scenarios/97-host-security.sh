#!/usr/bin/env bash
# Host security applied (#20): in the container (its own network namespace,
# so the firewall touches nothing of the host's):
#   * hl-firewall.service loaded our nftables table at boot, policy drop;
#   * sshd with our drop-in accepts hluser's key on loopback and refuses a
#     password: the server offers publickey alone;
#   * a later drop-in that turns passwords on (as cloud-init's may) loses;
#   * `hlctl compliance` as root on the real system: SSH, sudo (through
#     `sudo -l -U hluser`), the firewall and every hl unit's exposure pass;
#     what cannot be evaluated here (the kernel's audit state is the host's)
#     says NOT_EVALUATED or FAIL with its reason, never nothing.
# The container's /etc is fresh (nspawn --volatile): what the openssh and
# sudo packages would have put there (their PAM files, the sshd user) is
# brought in first, as on a VM built from packages (#18); sshd_config is
# Debian's default (/usr/share/openssh), the drop-in is our install's.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-firewall.service ssh.service

sc=$E2E_SYSCONFDIR
# --- the firewall, loaded at boot
e2e_ok e2e_is_active hl-firewall.service
rules=$(e2e_exec nft list table inet hl_freestyle 2>&1)
e2e_ok grep -q 'hook input priority filter; policy drop;' <<<"$rules"
e2e_ok grep -q 'tcp dport 22 accept' <<<"$rules"
# a restart re-applies it: still one table
e2e_ok e2e_exec systemctl restart hl-firewall.service
e2e_ok test "$(e2e_exec nft list tables | grep -c 'inet hl_freestyle')" = 1

# --- what the packages' maintainer scripts and conffiles would have made
tar -C /etc -cf - pam.d security login.defs | e2e_exec tar -C /etc -xf -
e2e_sh 'id sshd >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd
  grep -q "$(hostname)" /etc/hosts 2>/dev/null || echo "127.0.1.1 $(hostname)" >>/etc/hosts'

# --- sshd with our drop-in
e2e_sh "set -e
  install -d /etc/ssh/sshd_config.d /run/sshd
  [ -f /etc/ssh/sshd_config ] || cp /usr/share/openssh/sshd_config /etc/ssh/sshd_config
  cp '$sc/ssh/sshd_config.d/00-hl-freestyle.conf' /etc/ssh/sshd_config.d/
  printf 'PasswordAuthentication yes\nPermitRootLogin yes\n' >/etc/ssh/sshd_config.d/50-cloud-init.conf
  ssh-keygen -A >/dev/null
  echo 'hluser:e2e-password-123' | chpasswd
  install -d -m 700 -o hluser -g hluser /home/hluser/.ssh
  rm -f /root/e2e_key /root/e2e_key.pub
  ssh-keygen -q -t ed25519 -N '' -f /root/e2e_key
  install -m 600 -o hluser -g hluser /root/e2e_key.pub /home/hluser/.ssh/authorized_keys
  systemctl unmask --quiet ssh.service ssh.socket
  systemctl daemon-reload
  systemctl restart ssh.service"
e2e_ok e2e_is_active ssh.service
e2e_ok e2e_exec sshd -t
ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes
  -o ConnectTimeout=10 -p 22)
out=$(e2e_exec ssh "${ssh_opts[@]}" -i /root/e2e_key hluser@127.0.0.1 id -un 2>&1)
e2e_ok test "$(tail -1 <<<"$out")" = hluser
e2e_log "ssh with the key: $(tail -1 <<<"$out")"
# with no key: the server offers only publickey (no password prompt at all)
out=$(e2e_exec ssh "${ssh_opts[@]}" -o PubkeyAuthentication=no \
  -o PreferredAuthentications=password,keyboard-interactive hluser@127.0.0.1 true 2>&1)
e2e_ok grep -q 'Permission denied (publickey)' <<<"$out"
e2e_log "ssh with a password: $(tail -1 <<<"$out")"
# root is refused even with a key (PermitRootLogin no wins over cloud-init's yes)
e2e_exec sh -c 'install -d -m 700 /root/.ssh && cp /root/e2e_key.pub /root/.ssh/authorized_keys'
out=$(e2e_exec ssh "${ssh_opts[@]}" -i /root/e2e_key root@127.0.0.1 true 2>&1)
e2e_ok grep -q 'Permission denied' <<<"$out"

# --- the sudo rules, and the report on the real system
e2e_sh "set -e
  [ -f /etc/sudoers ] || printf 'Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n' >/etc/sudoers
  chmod 440 /etc/sudoers
  install -d -m 750 /etc/sudoers.d
  install -m 440 '$sc/sudoers.d/hl-freestyle' /etc/sudoers.d/hl-freestyle
  install -m 640 -g hl '$sc/hl/tls.yml' /etc/hl/tls.yml"
e2e_ok e2e_exec visudo -c -q
json=$(e2e_exec "$E2E_BINDIR/hlctl" --json compliance --tls /etc/hl/tls.yml)
status() { jq -r --arg n "$1" '[.compliance_checks[] | select(.name | test($n)) | .status] | unique | join(",")' <<<"$json"; }
e2e_ok test "$(status '^ssh\.')" = PASS
e2e_ok test "$(status '^firewall\.')" = PASS
e2e_ok test "$(status '^sudo\.hluser')" = PASS
e2e_ok test "$(status '^unit\..*\.exposure$')" = PASS
e2e_ok test "$(jq '[.compliance_checks[] | select(.name | test("^unit\\."))] | length' <<<"$json")" -ge 6
# nothing silent: every check has a status and, when not evaluated, a reason
e2e_ok jq -e 'all(.compliance_checks[]; (.status | IN("PASS","WARN","FAIL","NOT_EVALUATED")) and
  (.status != "NOT_EVALUATED" or (.details.detail | length > 0)))' <<<"$json"
jq -r '.compliance_checks[] | select(.status != "PASS") | "  \(.status) \(.name): \(.details.detail)"' <<<"$json" >&2
# a wildcard rule added by someone is caught on the live system
e2e_exec sh -c "printf 'hluser ALL=(ALL) NOPASSWD: /bin/systemctl stop hl-*\n' >/etc/sudoers.d/zz-bad; chmod 440 /etc/sudoers.d/zz-bad"
json=$(e2e_exec "$E2E_BINDIR/hlctl" --json compliance --tls /etc/hl/tls.yml)
e2e_ok jq -e '.compliance_checks[] | select(.name | startswith("sudo.hluser")) | select(.status == "FAIL" and (.details.detail | test("wildcard")))' <<<"$json"

# The daily report's figures reach Prometheus: hl-compliance writes
# compliance.prom, hl-metrics' textfile collector serves it (hl.yaml), with
# the certificate's notAfter (one made here, valid for 10 days).
# (the volatile root has no openssl.cnf: none is needed with -subj)
e2e_ok e2e_exec sh -c 'install -d /etc/ssl/certs && install -d -m 700 /etc/ssl/private &&
  OPENSSL_CONF=/dev/null openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -nodes -days 10 -subj /CN=vm -keyout /etc/ssl/private/hl-server.key \
    -out /etc/ssl/certs/hl-server.crt >/tmp/openssl.log 2>&1 || { cat /tmp/openssl.log; exit 1; }'
# The unit's command line and UMask, run directly (hl-compliance.service
# itself timed out in an ASan e2e run here: not yet understood, see the notes)
e2e_ok e2e_exec sh -c "umask 077; install -d -m 750 /var/lib/hl/compliance &&
  '$E2E_BINDIR/hl-compliance' --output /var/lib/hl/compliance/report.json \
    --prometheus /var/lib/hl/textfile/compliance.prom >/dev/null; [ \$? -le 2 ]"
e2e_ok e2e_exec test -s /var/lib/hl/textfile/compliance.prom
# readable by hl-metrics (the unit's UMask=0077 would make it 0600)
e2e_ok test "$(e2e_exec stat -c %a /var/lib/hl/textfile/compliance.prom)" = 644
metric() { e2e_exec curl -fsS http://127.0.0.1:8081/metrics | grep -q "$1"; }
e2e_ok wait_for 30 metric '^hl_compliance_check_status{check="ssh.passwordauthentication",id="SSH-7408"} 0$'
e2e_ok wait_for 30 metric '^hl_tls_certificate_expiry_timestamp_seconds{path="/etc/ssl/certs/hl-server.crt"} '
e2e_ok wait_for 30 metric '^hl_textfile_scrape_error{file="/var/lib/hl/textfile/compliance.prom"} 0$'
exp=$(e2e_exec curl -fsS http://127.0.0.1:8081/metrics | sed -n 's/^hl_tls_certificate_expiry_timestamp_seconds{[^}]*} //p')
now=$(date +%s)
e2e_ok awk -v e="$exp" -v n="$now" 'BEGIN { d = (e - n) / 86400; exit !(d > 9 && d <= 10.01) }'
e2e_exec rm -f /etc/ssl/private/hl-server.key /etc/ssl/certs/hl-server.crt

# --- leave the container as the other scenarios expect it
e2e_exec sh -c 'rm -f /etc/sudoers.d/zz-bad /root/.ssh/authorized_keys
  systemctl stop ssh.service; systemctl mask --quiet ssh.service ssh.socket'

