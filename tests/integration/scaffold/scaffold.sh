#!/usr/bin/env bash
# A new daemon, hl-scaffold, made of exactly the files README "Adding a
# daemon" lists as its own (daemons/hl-scaffold/, its unit, its proto, its
# config example) and nothing else, in a copy of the source tree: CMake
# configures it as a daemon (executable, install of the binary, its unit and
# its example), its config section is one every daemon knows, and without its
# unit the configuration fails and says why. Configure only: no build.
set -euo pipefail
. "$HL_SOURCE_DIR/tests/common/lib.sh"
need git cmake
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/src
mkdir -p "$src"
# The tracked files, as a fresh checkout has them (plus uncommitted edits).
(cd "$HL_SOURCE_DIR" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 cp --parents -t "$src" 2>/dev/null) || true
[ -f "$src/CMakeLists.txt" ] || { echo "could not copy the source tree"; exit 1; }

mkdir -p "$src/daemons/hl-scaffold"
echo 'hl_daemon(hl-scaffold SOURCES scaffold.c)' >"$src/daemons/hl-scaffold/CMakeLists.txt"
printf 'int scaffold(void);\nint scaffold(void) { return 0; }\n' >"$src/daemons/hl-scaffold/scaffold.c"
printf 'int main(void) { return 0; }\n' >"$src/daemons/hl-scaffold/main.c"
printf 'syntax = "proto3";\npackage hl;\nmessage ScaffoldStatus { string what = 1; }\n' >"$src/proto/scaffold.proto"
cp "$src/deploy/systemd/hl-metrics.service" "$src/deploy/systemd/hl-scaffold.service"
printf 'hl-scaffold: {}\n' >"$src/deploy/config/hl-scaffold.yaml.example"

build=$work/build
ok cmake -S "$src" -B "$build" -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
inst=$build/daemons/hl-scaffold/cmake_install.cmake
ok grep -q 'bin" TYPE EXECUTABLE FILES "[^"]*/hl-scaffold"' "$inst"
ok grep -q 'examples" TYPE FILE FILES "[^"]*/hl-scaffold.yaml.example"' "$inst"
ok grep -q 'TYPE FILE FILES "[^"]*/deploy/systemd/hl-scaffold.service"' "$build/deploy/cmake_install.cmake"
ok grep -q '"hl-scaffold"' "$build/libhlbus/daemon_sections.c"
ok grep -q 'scaffold.pb-c.c' "$build/proto/CMakeFiles/hlproto.dir/build.make"

# Without its unit: a configure-time error naming the file.
rm "$src/deploy/systemd/hl-scaffold.service"
out=$(cmake -S "$src" -B "$work/build2" -DBUILD_TESTING=OFF 2>&1) && fail_check "configured without a unit"
ok grep -q 'hl_daemon(hl-scaffold): no unit file' <<<"$out"
ok grep -q 'deploy/systemd/hl-scaffold.service' <<<"$out"
checks_done static_daemon_scaffold
