#!/usr/bin/env bash
# e2e__run_snapshot, the check of e2e_cleanup and run-local stop, on a fake
# /run: what a container could leave (under systemd/, our hl* paths) is
# seen; what the rest of the machine does to /run (sshd, another package) is
# not, so a package install during a run fails nothing.
set -u
. "$(dirname "$0")/lib.sh"
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
mkdir -p "$run/systemd/machines" "$run/lock"
e2e__run_snapshot "$run" >"$run.before"
mkdir -p "$run/sshd" "$run/systemd/nspawn/propagate/hl-e2e-1" "$run/systemd/system" "$run/hl"
touch "$run/systemd/systemd-units-load" "$run/utmp"
e2e__run_snapshot "$run" >"$run.after"
added=$(comm -13 "$run.before" "$run.after")
rm -f "$run.before" "$run.after"
for p in systemd/nspawn systemd/nspawn/propagate systemd/nspawn/propagate/hl-e2e-1 \
         systemd/system systemd/systemd-units-load hl; do
    ok grep -qx "$run/$p" <<<"$added"
done
ok bash -c "! grep -q '/sshd\$\|/utmp\$\|/lock\$' <<<'$added'"
checks_done run-snapshot
