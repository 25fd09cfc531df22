#!/usr/bin/env bash
# Installs the Debian 12 packages hl-freestyle needs to build, test and run.
# Usage: scripts/install-deps.sh [--runtime-only]
set -euo pipefail
runtime=(libzmq5 libczmq4 libprotobuf-c1 libmsgpackc2 libcurl4 libsystemd0 libyaml-0-2
         libmicrohttpd12 systemd-container git tar gzip libssl3 zlib1g)
build=(build-essential cmake pkg-config clang libclang-rt-14-dev
       libzmq3-dev libczmq-dev libprotobuf-c-dev protobuf-c-compiler libmsgpack-dev
       libcurl4-openssl-dev libsystemd-dev libyaml-dev libmicrohttpd-dev
       # test peers and tools
       valgrind socat curl iproute2 procps jq prometheus prometheus-alertmanager
       prometheus-node-exporter monit
       # hl-logs: TLS (OpenSSL), gzip of rotated files (zlib), and its test
       # collector and benchmark peer (rsyslog, with gtls for TLS)
       libssl-dev zlib1g-dev rsyslog rsyslog-gnutls
       # hl-git-sync: the basic-auth HTTP peer around git http-backend
       python3)
pkgs=("${runtime[@]}")
[ "${1:-}" = --runtime-only ] || pkgs+=("${build[@]}")
[ "${1:-}" = --runtime-only ] || pkgs+=(openssl)  # hl-health: the TLS test peer (openssl s_server)
pkgs+=(nginx)  # the development servers' proxy (#17): its own unit, the host's nginx.service never started
[ "${1:-}" = --runtime-only ] || pkgs+=(nodejs python3)  # #17: the e2e tier's dev servers (WebSocket, http.server)
# Host security (#20): what the shipped files are for and validated with
# (sshd -t/-T, visudo -c, nft -c, auditctl), the compliance report's tools,
# and Lynis, its benchmark peer.
pkgs+=(nftables openssh-server openssh-client sudo auditd)
[ "${1:-}" = --runtime-only ] || pkgs+=(lynis python3-yaml)
# #22: the foreign monitoring client (Debian's Python, protoc's Python output),
# and the monitoring-plugins' Perl library that parses hlctl check's output.
[ "${1:-}" = --runtime-only ] || pkgs+=(python3-zmq python3-protobuf protobuf-compiler
                                        libmonitoring-plugin-perl)
# #11: scripts/format.sh applies .clang-format
[ "${1:-}" = --runtime-only ] || pkgs+=(clang-format)
# The OpenAPI validator of hl-uplink's contract (docs/api/hl-cloud-api.yaml,
# test static_uplink_openapi), from the npm registry with the machine's Node.js;
# pinned, and only when it is not there already.
redocly_version=2.77.0
if [ "${1:-}" != --runtime-only ] && command -v npm >/dev/null 2>&1 &&
   [ "$(redocly --version 2>/dev/null | head -n1)" != "$redocly_version" ]; then
  echo "install-deps: npm install -g @redocly/cli@$redocly_version"
  npm install -g --no-audit --no-fund "@redocly/cli@$redocly_version" >/dev/null
fi
pkgs+=(libvterm0)  # hl-stdio, hl-pty: the terminal screen (#16)
# hl-pty (#16): libvterm's headers; tmux drives the terminal tests, dtach and tmux
# are the latency benchmark's peers, asciinema replays the recordings.
[ "${1:-}" = --runtime-only ] || pkgs+=(libvterm-dev tmux dtach asciinema)
# #18: the Debian package (lintian), its install test's throwaway root
# (mmdebstrap), and the cloud-init user-data's schema check (cloud-init).
[ "${1:-}" = --runtime-only ] || pkgs+=(dpkg-dev lintian mmdebstrap cloud-init)
# #19: restic, the backup benchmark's peer (tests/bench/backup).
[ "${1:-}" = --runtime-only ] || pkgs+=(restic)
cloud_init_was_here=
dpkg-query -W -f='${Status}' cloud-init 2>/dev/null | grep -q 'install ok installed' &&
  cloud_init_was_here=1
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "install-deps: all ${#pkgs[@]} packages present"; exit 0; fi
echo "install-deps: installing ${missing[*]}"
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# Debian starts services on install where it can; we never want that here.
printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
$SUDO chmod +x /usr/sbin/policy-rc.d
trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# rsyslog is a test peer here, never the host's logger: its service stays off
# (policy-rc.d kept it from starting; this keeps it from starting at boot).
if dpkg-query -W -f='${Status}' rsyslog 2>/dev/null | grep -q 'install ok installed' &&
   command -v systemctl >/dev/null; then
  $SUDO systemctl disable --quiet rsyslog.service 2>/dev/null || true
fi
# cloud-init is a validator here: where this script installed it, it must not
# run at the host's next boot (a cloud VM that came with it keeps it).
if [ -z "$cloud_init_was_here" ] &&
   dpkg-query -W -f='${Status}' cloud-init 2>/dev/null | grep -q 'install ok installed'; then
  $SUDO install -d /etc/cloud
  $SUDO touch /etc/cloud/cloud-init.disabled
fi
echo "install-deps: done"
