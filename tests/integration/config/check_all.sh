#!/usr/bin/env bash
# Every daemon's --check-config against the shipped config files, and the
# errors that concern the whole file (not one daemon's section).
# Arguments: the daemon binaries.
set -u
pass=0 fail=0
ok() { if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $*" >&2; fi; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cfg=${HL_SOURCE_DIR:?}/deploy/config

for bin in "$@"; do
    name=$(basename "$bin")
    # hl.yaml and every example, each on its own (no drop-ins beside them)
    for f in "$cfg"/hl.yaml "$cfg"/*.yaml.example; do
        mkdir -p "$dir/one"; cp "$f" "$dir/one/hl.yaml"
        # The example names the VM's user group; a build host may lack it.
        getent group hluser >/dev/null ||
            sed -i "s/group: hluser/group: $(id -gn)/" "$dir/one/hl.yaml"
        out=$("$bin" --check-config --config "$dir/one/hl.yaml" 2>&1); rc=$?
        [ $rc = 0 ] || echo "$name on $(basename "$f"): $out" >&2
        ok test $rc = 0
        rm -rf "$dir/one"
    done

    # a misspelt top-level section is an error with file and line, in every daemon
    printf 'log:\n  level: info\n\nhl_health:\n  spread: 1s\n' > "$dir/typo.yaml"
    out=$("$bin" --check-config --config "$dir/typo.yaml" 2>&1); rc=$?
    [ $rc != 0 ] || echo "$name accepted a misspelt section" >&2
    ok test $rc != 0
    ok grep -q "typo.yaml:4: unknown section 'hl_health'" <<<"$out"
    # and the same in a drop-in
    mkdir -p "$dir/d/hl.d"
    printf 'log:\n  level: info\n' > "$dir/d/hl.yaml"
    printf '# a drop-in\nhl-metric:\n  interval: 5s\n' > "$dir/d/hl.d/10-typo.yaml"
    out=$("$bin" --check-config --config "$dir/d/hl.yaml" 2>&1); rc=$?
    ok test $rc != 0
    ok grep -q "10-typo.yaml:2: unknown section 'hl-metric'" <<<"$out"
    rm -rf "$dir/d"
done

echo "$pass passed, $fail failed"
[ $fail = 0 ]
