#!/usr/bin/env bash
# Runs inside the e2e container, as root: installs the staged build the way
# a package's post-installation step and the VM's cloud-init would, then
# starts everything that is enabled.
#   container-install.sh [--with-test-units]
# --with-test-units adds the e2e tier's own units and drop-ins (hl-testd,
# shorter watchdogs, the runtime's test knobs); scripts/run-local.sh goes
# without them.
set -euo pipefail
with_test_units=${1:-}
stage=/opt/hl-e2e/stage
. "$stage/e2e/e2e.env"

# cloud-init's part (spec 1.1.3): the user the managed services run as.
useradd --create-home --user-group --shell /bin/bash hluser
install -d -o hluser -g hluser /home/hluser/workspace

# The package's part: users, runtime directories, units, config.
systemd-sysusers "$stage$E2E_SYSUSERSDIR"/*.conf
systemd-tmpfiles --create "$stage$E2E_TMPFILESDIR"/*.conf
install -d /etc/systemd/system
cp -a "$stage$E2E_UNITDIR"/. /etc/systemd/system/
# The generators (hl-dev-generator: dev-server.yaml -> units, #17), where
# systemd looks for an admin's own (/usr is the host's, read-only).
if [ -d "$stage$E2E_GENERATORDIR" ]; then
  install -d /etc/systemd/system-generators
  for g in "$stage$E2E_GENERATORDIR"/*; do ln -sf "$g" /etc/systemd/system-generators/; done
fi
if [ "$with_test_units" = --with-test-units ]; then
  cp -a "$stage/e2e/units"/. /etc/systemd/system/
  install -d /etc/sysusers.d /etc/tmpfiles.d
  # hl-testd is a daemon of ours like the others: a user of its own and a
  # root-owned ctl link into its runtime directory (deploy/tmpfiles.d).
  printf '%s\n' 'u hl-testd -:hl "hl-freestyle test daemon" - -' 'm hl-testd hl-watch' \
    >/etc/sysusers.d/hl-e2e.conf
  printf '%s\n' 'L /run/hl/ctl/hl-testd - - - - ../hl-testd/ctl' >/etc/tmpfiles.d/hl-e2e.conf
  systemd-sysusers /etc/sysusers.d/hl-e2e.conf
  systemd-tmpfiles --create /etc/tmpfiles.d/hl-e2e.conf
fi
# The default config: under the prefix it came in with the prefix's bind;
# elsewhere (a /opt prefix installs it in /etc/opt) it is copied.
if [ ! -e "$E2E_CONFIG_FILE" ]; then
  install -d "$E2E_SYSCONFDIR"
  cp -a "$stage$E2E_SYSCONFDIR/hl" "$E2E_SYSCONFDIR/"
  systemd-tmpfiles --create "$stage$E2E_TMPFILESDIR"/hl-config.conf # root:hl 0640 again
fi
install -d /etc/hl /etc/hl/services
if [ "$with_test_units" = --with-test-units ]; then
  # hl-bus's topic ACL knows the shipped daemons' users; hl-testd, a daemon
  # of the tests only, is given its own families the way an admin would.
  # (hl.d exists, root:hl 0750, from the install: not touched here)
  printf '%s\n' 'hl-bus:' '  topic_owners:' '    daemon.hl-testd: [hl-testd]' \
    '    log.hl-testd.: [hl-testd]' >"$E2E_SYSCONFDIR/hl/hl.d/00-e2e-testd.yaml"
fi
if [ "$with_test_units" = --with-test-units ]; then
  # The workspace's remote for hl-git-sync (e2e.git-sync): a bare repository
  # that e2e-gitd.service serves with git daemon on 127.0.0.1:9418, and the
  # spec's HL_REPO_URL in the config, so that phase 2 clones it.
  install -d /srv/git
  git init -q --bare --initial-branch=main /srv/git/workspace.git
  seed=$(mktemp -d)
  git -C "$seed" init -q --initial-branch=main
  echo "the e2e workspace" >"$seed/README"
  git -C "$seed" add README
  git -C "$seed" -c user.name=e2e -c user.email=e2e@localhost commit -qm "e2e: first commit"
  git -C "$seed" push -q /srv/git/workspace.git main
  rm -rf "$seed"
  useradd --system --user-group --no-create-home --shell /usr/sbin/nologin hl-e2e-git
  chown -R hl-e2e-git:hl-e2e-git /srv/git
  printf '%s\n' 'hl-git-sync:' '  repo_url: git://127.0.0.1:9418/workspace.git' '  interval: 5s' \
    >"$E2E_SYSCONFDIR/hl/hl.d/00-e2e-git.yaml"
fi
# The stand-in hl-daemon's own config (the spec's --config /etc/hl/daemon.conf).
printf 'port = 8080\n' >/etc/hl/daemon.conf
# Claude Code on hl-pty: the stand-in in place of the CLI, full-screen on its
# terminal, with its /health on port 3000 (deploy/systemd/claude-code.service).
printf '%s\n' 'HL_AGENT=/usr/local/bin/claude-code-server' \
  'HL_AGENT_ARGS=--port 3000 --stdio-socket -' >/etc/hl/claude-code.env
# The container boots the host's /usr: units installed on the host (docker,
# containerd, ssh...) are not part of the test, and masked, so that the run
# does not depend on what else the host has (the stack treats a masked unit
# as not installed).
# rsyslog too: the host has it for hl-logs' tests, whose collector is an
# rsyslogd of their own (tests/e2e/scenarios/76-logs-no-loss.sh).
# cloud-init too: the host has it to validate deploy/cloud-init (#18), and its
# generator would run it at the container's boot. nginx.service is Debian's
# own nginx, installed for the dev proxy: only our hl-dev-proxy.service runs it.
for u in docker.service docker.socket containerd.service ssh.service ssh.socket \
  rsyslog.service syslog.socket cloud-init.target cloud-init-local.service cloud-init.service \
  cloud-config.service cloud-final.service cloud-init-hotplugd.socket nginx.service; do
  if systemctl cat "$u" >/dev/null 2>&1; then systemctl mask --quiet "$u"; fi
done
systemctl daemon-reload

# Every unit with an [Install] section, templates aside, is enabled: a
# daemon added to deploy/systemd/ joins the e2e stack by itself.
units=()
for f in /etc/systemd/system/*.service /etc/systemd/system/*.socket /etc/systemd/system/*.target; do
  u=${f##*/}
  [[ $u == *@* ]] && continue
  grep -q '^\[Install\]' "$f" && units+=("$u")
done
systemctl enable "${units[@]}"
printf '%s\n' "${units[@]}" >/run/e2e-enabled-units
# As at boot: everything multi-user.target wants, hl.target among it.
timeout 120 systemctl start multi-user.target
