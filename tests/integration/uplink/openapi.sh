#!/usr/bin/env bash
# The HL cloud API contract (docs/api/hl-cloud-api.yaml) through Redocly's
# OpenAPI linter (npm @redocly/cli, scripts/install-deps.sh), and a broken
# copy refused by it, so the check is known to bite.
set -u
. "${HL_SOURCE_DIR:?}/tests/common/lib.sh"
need redocly
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1
spec="$HL_SOURCE_DIR/docs/api/hl-cloud-api.yaml"
ok redocly lint --format=stylish "$spec"
# every operation the daemon uses is in it, with the statuses it handles
for want in "/health:" "/instances:" "/instances/{instance_id}/heartbeat:" \
            "/instances/{instance_id}/events:" "Retry-After" "'201'" "'429'" "'503'" "Date:"; do
    ok grep -qF -- "$want" "$spec"
done
# a response without its description and a dangling reference: refused
sed -e "s|description: registered now|x-note: none|" \
    -e "s|#/components/schemas/Instance'|#/components/schemas/Nothing'|" "$spec" > "$dir/bad.yaml"
nok redocly lint "$dir/bad.yaml"
checks_done static_uplink_openapi
