#!/usr/bin/env bash
# The Debian package's life on a bare Debian 12 (issue #18 item 1): build it,
# lintian clean (overrides argued), then in a throwaway root (mmdebstrap
# minbase + only the package's Depends, so a missing dependency shows as a
# library not found) install -> users, config, units enabled by our preset ->
# remove (conffiles stay) -> purge (nothing of ours left but the users).
# The root is cached as a tarball keyed by its inputs ($HL_PKG_CACHE, default
# /var/cache/hl-freestyle); a first run builds it from the mirror (~1 min).
set -euo pipefail
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn)"
need dpkg-deb dpkg-shlibdeps lintian mmdebstrap systemd-nspawn
src=$HL_SOURCE_DIR
work=$(mktemp -d "${TMPDIR:-/tmp}/hl-pkg.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. Build, lintian.
ok "$src/scripts/build-deb.sh" --out "$work/dist" --build-dir "${HL_BUILD_DIR:?}-deb" --lintian
deb=$(ls "$work"/dist/hl-freestyle_*.deb)
preset=$src/deploy/systemd-preset/90-hl-freestyle.preset

# 2. Every unit the package can enable is named by our preset file (else the
# distribution's 99-default.preset, "disable *", would decide).
dpkg-deb -x "$deb" "$work/x"
for f in "$work"/x/lib/systemd/system/*; do
  u=${f##*/}
  case "$u" in *@*) continue ;; esac
  [ -f "$f" ] && grep -q '^\[Install\]' "$f" || continue
  ok grep -qx "enable $u" "$preset"
done

# 3. The throwaway root: minbase plus the Depends' package names.
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' |
       grep -v '^$' | sort -u | paste -sd, -)
key=$(printf '%s\n' bookworm minbase "$deps" "$(dpkg-query -W -f='${Version}' mmdebstrap)" |
      sha256sum | cut -c1-16)
cache=${HL_PKG_CACHE:-/var/cache/hl-freestyle}
tarball=$cache/rootfs-bookworm-$key.tar
if [ ! -s "$tarball" ]; then
  install -d "$cache"
  rm -f "$cache"/rootfs-bookworm-*.tar # older keys
  mmdebstrap --quiet --format=tar --variant=minbase --include="$deps" bookworm "$tarball.part" ||
    skip "mmdebstrap could not build a Debian 12 root (no mirror?)"
  mv "$tarball.part" "$tarball"
fi
root=$work/root
install -d "$root"
tar -C "$root" -xf "$tarball"
# (not /tmp: nspawn mounts a tmpfs there)
t=$root/var/tmp/hl-test
install -d "$t"
cp "$deb" "$t/hl-freestyle.deb"
cp "$preset" "$t/preset"

# 4. Inside: one nspawn run (no boot: the maintainer scripts' offline path,
# as in an image build), its checks counted in there and reported back.
cat >"$t/lifecycle.sh" <<'EOF'
set -u
pass=0 fail=0
ok() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $*" >&2; fi; }
nok() { if "$@" >/dev/null 2>&1; then fail=$((fail + 1)); echo "FAILED (should fail): $*" >&2; else pass=$((pass + 1)); fi; }
snapshot() {
  # What exists, with owner and mode; what apt, dpkg and the user database
  # record about the transaction is not ours.
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /var/tmp/hl-test -o -path /var/lib/dpkg \
    -o -path /var/lib/apt -o -path /var/cache/apt -o -path /var/cache/debconf -o -path /var/log/apt \
    -o -path /var/log/dpkg.log -o -path /var/log/alternatives.log -o -path '/etc/passwd*' \
    -o -path '/etc/group*' -o -path '/etc/shadow*' -o -path '/etc/gshadow*' \
    -o -path /etc/ld.so.cache \) -prune -o -printf '%p %M %u:%g\n' | sort
}
snapshot >/var/tmp/hl-test/before
export DEBIAN_FRONTEND=noninteractive
ok apt-get install -y -qq --no-install-recommends /var/tmp/hl-test/hl-freestyle.deb
# Users and groups (sysusers), directories (tmpfiles), config's mode.
ok getent passwd hl-bus
ok getent group hl-watch
ok test "$(stat -c '%U:%G %a' /etc/hl/hl.yaml)" = "root:hl 640"
ok test "$(stat -c '%U:%G %a' /var/log/hl)" = "hl-logs:hl 750"
ok test -d /var/lib/hl
# Conffiles, docs, man pages.
ok sh -c "dpkg-query -W -f='\${Conffiles}' hl-freestyle | grep -q ' /etc/hl/hl.yaml '"
ok test -s /usr/share/doc/hl-freestyle/README.md
ok test -s /usr/share/man/man1/hlctl.1.gz
# Every program finds its libraries: the Depends are complete.
for b in /usr/bin/hl*; do
  ok sh -c "! ldd $b | grep -q 'not found'"
done
ok hlctl --version
# The preset enabled what it names (the units this package ships).
for u in $(sed -n 's/^enable //p' /var/tmp/hl-test/preset); do
  [ -e "/lib/systemd/system/$u" ] || continue
  ok test "$(systemctl is-enabled "$u" 2>&1)" = enabled
done
ok test -L /etc/systemd/system/multi-user.target.wants/hl.target
# An admin's edit of a conffile survives a remove.
echo '# edited' >>/etc/hl/hl.yaml
ok apt-get remove -y -qq hl-freestyle
ok test ! -e /usr/bin/hlctl
ok test ! -e /lib/systemd/system/hl.target
ok grep -q '^# edited' /etc/hl/hl.yaml
ok sh -c "dpkg-query -W -f='\${Status}' hl-freestyle | grep -q 'config-files'"
ok apt-get purge -y -qq hl-freestyle
nok dpkg-query -W hl-freestyle
snapshot >/var/tmp/hl-test/after
if ! diff -u /var/tmp/hl-test/before /var/tmp/hl-test/after; then
  fail=$((fail + 1)); echo "FAILED: the purge left the above behind" >&2
else
  pass=$((pass + 1))
fi
ok test ! -e /run/hl
# The system users stay (Debian policy; packaging/debian/README.md).
ok getent passwd hl-bus
echo "inside: $pass passed, $fail failed"
[ "$fail" = 0 ]
EOF
if systemd-nspawn -q --register=no --keep-unit --private-network -D "$root" --pipe \
     /bin/bash /var/tmp/hl-test/lifecycle.sh; then
  pass=$((pass + 1))
else
  fail_check "the install/remove/purge cycle in the throwaway root (see above)"
fi
checks_done package_deb
