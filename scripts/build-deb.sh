#!/usr/bin/env bash
# Builds the Debian package of hl-freestyle from the CMake install (issue #18
# item 1): hl-freestyle_<version>_<arch>.deb, prefix /usr, config in /etc.
#   scripts/build-deb.sh [--out DIR] [--build-dir DIR] [--lintian]
# --out        where the .deb goes (default: dist/)
# --build-dir  the CMake build directory (default: build-deb/; tests off,
#              Debian's hardening flags)
# --lintian    run lintian on the result; any error or warning not argued in
#              packaging/debian/lintian-overrides fails the build
# Needs dpkg-dev (dpkg-shlibdeps, dpkg-buildflags) and fakeroot-free dpkg-deb
# (--root-owner-group). The maintainer scripts are packaging/debian/*.in.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/dist
build=$src/build-deb
run_lintian=
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --lintian) run_lintian=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for t in dpkg-deb dpkg-shlibdeps dpkg-buildflags cmake; do
  command -v "$t" >/dev/null || { echo "build-deb: $t not found (scripts/install-deps.sh)" >&2; exit 1; }
done
pkg=hl-freestyle
version=$(sed -n 's/^project(hl-freestyle VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || { echo "build-deb: no version in CMakeLists.txt's project()" >&2; exit 1; }
arch=$(dpkg --print-architecture)
# Reproducible: timestamps from the last commit, not from now.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}

# Debian's hardening flags (PIE, RELRO, BIND_NOW, stack protector, fortify).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CFLAGS LDFLAGS
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_SYSCONFDIR=/etc -DCMAKE_INSTALL_LOCALSTATEDIR=/var \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
  -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS" >/dev/null
cmake --build "$build" -j"${HL_BUILD_JOBS:-2}"

stage=$(mktemp -d "${TMPDIR:-/tmp}/hl-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root
DESTDIR=$root cmake --install "$build" --strip >/dev/null

# Debian's documentation set: changelog (native package) and copyright.
doc=$root/usr/share/doc/$pkg
install -d "$doc" "$root/usr/share/lintian/overrides"
{
  printf '%s (%s) unstable; urgency=medium\n\n' "$pkg" "$version"
  printf '  * Built from the hl-freestyle tree, commit %s.\n\n' \
    "$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  printf ' -- hl-freestyle maintainers <hl-freestyle@humanlayer.dev>  %s\n' \
    "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.gz"
install -m 0644 "$src/packaging/debian/copyright" "$doc/copyright"
install -m 0644 "$src/packaging/debian/lintian-overrides" "$root/usr/share/lintian/overrides/$pkg"

# A manual page per program, from its --help (the text the program itself
# prints, so the two cannot drift apart).
man1=$root/usr/share/man/man1
install -d "$man1"
for b in "$root"/usr/bin/*; do
  name=${b##*/}
  help=$("$b" --help 2>&1) || { echo "build-deb: $name --help failed" >&2; exit 1; }
  summary=$(printf '%s\n' "$help" | sed -n '2p' | sed 's/[.:;,]*$//')
  [ -n "$summary" ] || summary="hl-freestyle program"
  {
    printf '.TH %s 1 "%s" "hl-freestyle %s" "hl-freestyle"\n' \
      "$(printf '%s' "$name" | tr a-z A-Z)" "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)" "$version"
    printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
    printf '.SH DESCRIPTION\n.nf\n'
    # roff: a backslash is \e, a line starting with . or ' is escaped by \&.
    printf '%s\n' "$help" | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
    printf '.fi\n.SH SEE ALSO\n/usr/share/doc/hl-freestyle/README.md and docs/ there.\n'
  } | gzip -9n >"$man1/$name.1.gz"
done

# Permissions as dpkg and lintian expect; the few that differ on purpose
# (/etc/hl, sudoers.d, audit rules) are set by `install` and kept.
find "$root" -type d -perm /022 -exec chmod go-w {} +
find "$root" -type f -perm /022 -exec chmod go-w {} +

# The units this package ships and may enable: every unit with an [Install]
# section, templates aside; our preset file decides which (first install).
unitdir=$(cd "$root" && find lib usr/lib -path '*/systemd/system' -type d 2>/dev/null | head -n1)
units=$(cd "$root/$unitdir" && for f in *.service *.socket *.target *.timer; do
          [ -f "$f" ] || continue
          case "$f" in *@*) continue ;; esac
          grep -q '^\[Install\]' "$f" && printf '%s ' "$f"
        done)
units=${units% }
sysusers=$(cd "$root" && ls usr/lib/sysusers.d/*.conf | sed 's|^|/|' | tr '\n' ' ')
tmpfiles=$(cd "$root" && ls usr/lib/tmpfiles.d/*.conf | sed 's|^|/|' | tr '\n' ' ')

control=$root/DEBIAN
install -d -m 0755 "$control"
for s in postinst prerm postrm; do
  sed -e "s|@UNITS@|$units|g" -e "s|@SYSUSERS@|${sysusers% }|g" -e "s|@TMPFILES@|${tmpfiles% }|g" \
    "$src/packaging/debian/$s.in" >"$control/$s"
  chmod 0755 "$control/$s"
done
# Every file under /etc is a conffile: an admin's edit survives an upgrade.
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$control/conffiles"

# Runtime dependencies: the shared libraries (dpkg-shlibdeps) and the tools
# the stack runs. Why each is Depends or Recommends: packaging/debian/README.md.
shl=$stage/shl
install -d "$shl/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$shl/debian/control"
mapfile -t elves < <(cd "$root" && find . -type f -perm -u+x -exec sh -c \
  'head -c4 "$1" | grep -q "ELF" && echo "$1"' _ {} \;)
shlibs=$(cd "$shl" && dpkg-shlibdeps -O -e"${elves[@]/#/$root/}" 2>/dev/null |
         sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build-deb: dpkg-shlibdeps found no libraries" >&2; exit 1; }
depends="$shlibs, systemd (>= 252), git, nftables"
recommends="openssh-server, sudo"
suggests="auditd, prometheus, prometheus-alertmanager, docker.io"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$control/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: hl-freestyle maintainers <hl-freestyle@humanlayer.dev>
Installed-Size: $size
Depends: $depends
Recommends: $recommends
Suggests: $suggests
Section: admin
Priority: optional
Homepage: https://www.humanlayer.dev/
Description: lifecycle agent of a HumanLayer Freestyle VM
 hl-freestyle runs the VM's lifecycle as a set of small systemd services on a
 local ZeroMQ bus: a phased startup and an ordered shutdown of the managed
 services (hl-daemon, Claude Code), health checks, failure detection and
 recovery, metrics for Prometheus, the agent's terminal relay, logs and the
 uplink to the HL API, and the host's firewall and compliance report.
 .
 The package creates the daemons' system users (sysusers.d), their runtime
 and state directories (tmpfiles.d), and enables hl.target through a systemd
 preset file. The user the managed services run as (hluser) is created by
 cloud-init (deploy/cloud-init/user-data.yaml) or by the administrator.
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print |
  sed 's|^\./||' | sort | xargs -r md5sum) >"$control/md5sums"
chmod 0644 "$control/control" "$control/conffiles" "$control/md5sums"

install -d "$out"
deb=$out/${pkg}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "build-deb: $deb"
if [ -n "$run_lintian" ]; then
  command -v lintian >/dev/null || { echo "build-deb: lintian not found (scripts/install-deps.sh)" >&2; exit 1; }
  lintian --fail-on error,warning --info "$deb"
fi
