#!/usr/bin/env bash
# The bus contract stays readable by old subscribers: proto/ compiled by
# protoc is compared with the committed descriptors of the previous release
# (tests/monitoring/baseline/contract-N.txtpb, N = the previous contract
# version) by contract_breaking.py, buf breaking's rules. And the checker
# itself catches each kind of break in a mutated copy of proto/ (a field
# removed, renumbered, retyped, renamed, made repeated; an enum value removed
# or renamed; a message removed), while additions and a reserved removal pass.
set -u
: "${HL_SOURCE_DIR:?}"
. "$HL_SOURCE_DIR/tests/common/lib.sh"
need protoc
PY=/usr/bin/python3
$PY -c 'import google.protobuf' 2>/dev/null || skip "python3-protobuf is not installed (scripts/install-deps.sh)"
checker=$HL_SOURCE_DIR/tests/monitoring/contract_breaking.py
baseline=$(ls "$HL_SOURCE_DIR"/tests/monitoring/baseline/contract-*.txtpb | sort -V | tail -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

compile() { # compile DIR OUT
    protoc -I "$1" --descriptor_set_out="$2" "$1"/*.proto
}

# --- today's proto/ against the previous release
ok compile "$HL_SOURCE_DIR/proto" "$tmp/current.binpb"
if $PY "$checker" "$baseline" "$tmp/current.binpb" >"$tmp/out" 2>&1; then
    pass=$((pass + 1))
else
    fail_check "proto/ breaks $(basename "$baseline") (old subscribers would misread it):"
    cat "$tmp/out" >&2
    echo "  add instead of changing: a new field number, a new message, a new enum value;" \
         "a removed field reserves its number and name" >&2
fi

# --- the checker catches each break: mutate a copy, expect FINDING
mutant() { # mutant FILE PY-REGEX REPLACEMENT: a copy of proto/ with one edit
    rm -rf "$tmp/m" && cp -r "$HL_SOURCE_DIR/proto" "$tmp/m"
    $PY - "$tmp/m/$1" "$2" "$3" <<'PYEOF'
import re, sys
path, pat, rep = sys.argv[1:]
s = open(path).read()
n = re.subn(pat, rep, s, count=1, flags=re.S | re.M)
if n[1] != 1:
    sys.exit(f"mutation {pat!r} matched nothing in {path}")
open(path, "w").write(n[0])
PYEOF
}
breaks() { # breaks FINDING FILE REGEX REPLACEMENT
    local want=$1
    shift
    mutant "$@" || { fail_check "mutation failed: $*"; return; }
    compile "$tmp/m" "$tmp/m.binpb" || { fail_check "mutant does not compile: $*"; return; }
    $PY "$checker" "$baseline" "$tmp/m.binpb" >"$tmp/out" 2>&1
    local rc=$?
    if [ $rc = 1 ] && grep -qF -- "BREAKING: $want" "$tmp/out"; then
        pass=$((pass + 1))
    else
        fail_check "expected 'BREAKING: $want' (exit 1) for $*; got exit $rc:"
        cat "$tmp/out" >&2
    fi
}
compatible() { # compatible FILE REGEX REPLACEMENT
    mutant "$@" || { fail_check "mutation failed: $*"; return; }
    compile "$tmp/m" "$tmp/m.binpb" || { fail_check "mutant does not compile: $*"; return; }
    if $PY "$checker" "$baseline" "$tmp/m.binpb" >"$tmp/out" 2>&1; then
        pass=$((pass + 1))
    else
        fail_check "expected compatible for $*:"
        cat "$tmp/out" >&2
    fi
}

breaks "field hl.ServiceHealth.reason = 3: removed without reserving" \
    health.proto '^  string reason = 3;[^\n]*\n' ''
compatible health.proto '^  string reason = 3;[^\n]*\n' '  reserved 3;\n  reserved "reason";\n'
breaks "field hl.ServiceHealth.reason = 3: removed without reserving" \
    health.proto '^  string reason = 3;[^\n]*\n' '  reserved 3;\n'
breaks "field hl.Envelope.seq = 3: removed" hlbus.proto 'uint64 seq = 3;' 'uint64 seq = 12;'
breaks "field hl.Envelope.epoch = 2: type uint64 -> int64" hlbus.proto 'uint64 epoch = 2;' 'int64 epoch = 2;'
breaks "field hl.Envelope.source = 1: renamed to origin" hlbus.proto 'string source = 1;' 'string origin = 1;'
breaks "field hl.Failure.pattern = 5: optional -> repeated" \
    failure.proto 'string pattern = 5;' 'repeated string pattern = 5;'
breaks "field hl.ServiceHealth.state = 2: type enum .hl.HealthState -> uint32" \
    health.proto '^  HealthState state = 2;' '  uint32 state = 2;'
breaks "enum value hl.HealthState.HEALTH_DEGRADED = 2: removed" \
    health.proto '^  HEALTH_DEGRADED = 2;\n' ''
breaks "enum value hl.HealthState.HEALTH_DEGRADED = 2: renamed to HEALTH_DEGRADING" \
    health.proto 'HEALTH_DEGRADED = 2;' 'HEALTH_DEGRADING = 2;'
breaks "message hl.Alert: removed" failure.proto '^message Alert \{.*?^\}\n' ''
breaks "field hl.BusStats.Prefix.bytes = 3: type uint64 -> string" \
    hlbus.proto 'uint64 bytes = 3;\n  \}' 'string bytes = 3;\n  }'
compatible health.proto '^  uint64 ts_us = 11;\n' '  uint64 ts_us = 11;\n  string added = 99;\n'
compatible hlbus.proto 'CONTRACT_V1 = 1;' 'CONTRACT_V1 = 1;\n  CONTRACT_V2 = 2;'
compatible hlbus.proto '^message Log \{' 'message NewOne { uint32 a = 1; }\n\nmessage Log {'
# a bad baseline is a usage error, not a pass
echo garbage >"$tmp/bad.txtpb"
$PY "$checker" "$tmp/bad.txtpb" "$tmp/current.binpb" >/dev/null 2>&1
ok test $? = 2
checks_done static_contract_breaking
