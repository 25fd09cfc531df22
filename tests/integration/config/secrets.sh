#!/usr/bin/env bash
# Secrets only from files or systemd credentials: an inline token (as a
# secret key or as a credentials header) is refused with file:line and never
# echoed; a token file or $CREDENTIALS_DIRECTORY/<name> is read; a token file
# everyone may read is refused.
set -u
HH=${HL_BUILD_DIR:?}/daemons/hl-health/hl-health
pass=0 fail=0
ok() { if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $*" >&2; fi; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
check() { "$HH" --check-config --config "$dir/hl.yaml" 2>&1; }
svc() { # the check's extra line
    printf 'hl-health:\n  builtin: false\n  services:\n    api:\n      unit: ""\n      checks:\n        - type: http\n          url: http://127.0.0.1:1/health\n          %s\n' "$1" > "$dir/hl.yaml"
}

svc 'bearer_token: s3cret-inline'
out=$(check); rc=$?
ok test $rc != 0
ok grep -q "hl.yaml:9: 'bearer_token' is a secret and is not read inline" <<<"$out"
ok test -z "$(grep s3cret <<<"$out")"

svc 'headers: ["Authorization: Bearer s3cret-inline"]'
out=$(check); rc=$?
ok test $rc != 0
ok grep -q "hl.yaml:9: 'headers' item 1 carries credentials inline" <<<"$out"
ok test -z "$(grep s3cret <<<"$out")"

(umask 077; echo s3cret-file > "$dir/token")
svc "bearer_token_file: $dir/token"
ok check
chmod 0644 "$dir/token"
out=$(check); rc=$?
ok test $rc != 0
ok grep -q "readable by everyone" <<<"$out"
chmod 0640 "$dir/token"
ok check

svc 'bearer_token_credential: api-token'
out=$(env -u CREDENTIALS_DIRECTORY "$HH" --check-config --config "$dir/hl.yaml" 2>&1); rc=$?
ok test $rc != 0
ok grep -q "needs systemd credentials: add LoadCredential=api-token" <<<"$out"
mkdir -m 0700 "$dir/creds"; cp "$dir/token" "$dir/creds/api-token"
ok env CREDENTIALS_DIRECTORY="$dir/creds" "$HH" --check-config --config "$dir/hl.yaml"

# no shipped config holds an inline credential
ok test -z "$(grep -rniE '^[^#]*(bearer [a-z0-9]|token: [^ ])' "${HL_SOURCE_DIR:?}/deploy/config")"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
