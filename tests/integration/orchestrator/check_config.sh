#!/usr/bin/env bash
# hl-orchestrator --check-config: the documented example and the built-in
# defaults pass; a bad config is refused with every error and its file:line,
# and the daemon would not start on it (exit 78, EX_CONFIG).
set -euo pipefail
ORCH=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$ORCH" --check-config --config "$HL_SOURCE_DIR/deploy/config/hl-orchestrator.yaml.example"
printf '# empty\n' > "$dir/empty.yaml"
"$ORCH" --check-config --config "$dir/empty.yaml"

cat > "$dir/bad.yaml" <<'YAML'
hl-orchestrator:
  phases:
    - name: one
      units: [good.service, "bad unit"]
      checks: [[curl, http://x]]
    - name: two
      units: [good.service]
  shutdown:
    temp_pattern: "*"
  recovery:
    rebuild_command: /bin/rebuild
YAML
if "$ORCH" --check-config --config "$dir/bad.yaml" 2>"$dir/err"; then
    echo "FAIL: a bad config was accepted" >&2; exit 1
fi
cat "$dir/err"
for want in 'bad.yaml:4' 'not a unit name' 'bad.yaml:5' 'absolute path' 'in phases one and two' \
            'bad.yaml:9' 'fixed part' 'bad.yaml:11' 'as a list'; do
    grep -q -- "$want" "$dir/err" || { echo "FAIL: no '$want' in the errors" >&2; exit 1; }
done
rc=0
HL_RUNTIME_DIR="$dir/run" "$ORCH" --config "$dir/bad.yaml" 2>/dev/null || rc=$?
[ "$rc" = 78 ] || { echo "FAIL: started on a bad config (exit $rc)" >&2; exit 1; }
echo PASS
