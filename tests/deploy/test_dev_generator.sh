#!/usr/bin/env bash
# hl-dev-generator (a systemd generator) and hl-dev-proxy-config, without
# systemd: what dev-server.yaml turns into, what `systemd-analyze verify` makes
# of the generated drop-in, the applied copy winning over the file, an
# invalid file generating nothing (and never failing the boot), and the proxy
# config checked by nginx before it replaces the running one.
set -u
G=${1:?hl-dev-generator} P=${2:?hl-dev-proxy-config}
. "$(dirname "$0")/../common/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export HL_DEV_SERVER_FILE=$dir/dev-server.yaml HL_DEV_SERVER_APPLIED=$dir/applied.yaml
cat >"$HL_DEV_SERVER_FILE" <<'YAML'
development:
  servers:
    - name: web-dev
      port: 3100
      command: 'npm run dev'
      directory: /home/hluser/workspace/web
      environment:
        NODE_ENV: development
    - name: api-dev
      port: 8000
      command: 'python -m uvicorn main:app --reload'
      directory: /home/hluser/workspace/api
  proxy:
    enabled: true
    port: 8090
    routes:
      '/api/*': 'http://localhost:8000'
      '/*': 'http://localhost:3100'
YAML
ok "$G" --help
"$G" 2>/dev/null; ok test $? = 64
out=$dir/gen
mkdir "$out"
ok "$G" "$out" "$out.early" "$out.late"
ok test -f "$out/hl-service@web-dev.service.d/50-dev-server.conf"
ok grep -qx 'Environment="HL_SERVICE_COMMAND=npm run dev"' "$out/hl-service@web-dev.service.d/50-dev-server.conf"
ok grep -qx 'Environment="NODE_ENV=development"' "$out/hl-service@web-dev.service.d/50-dev-server.conf"
ok test -L "$out/hl-phase-core.target.wants/hl-service@api-dev.service"
ok test "$(basename "$(readlink "$out/hl-phase-core.target.wants/hl-service@api-dev.service")")" = 'hl-service@.service'
ok test -L "$out/hl-phase-core.target.wants/hl-dev-proxy.service"
ok test "$(ls "$out/hl-phase-core.target.wants" | wc -l)" = 3

# The applied copy wins; an invalid one falls back to the file.
sed 's/web-dev/site/' "$HL_DEV_SERVER_FILE" >"$HL_DEV_SERVER_APPLIED"
rm -rf "$out" && mkdir "$out"
ok "$G" "$out"
ok test -d "$out/hl-service@site.service.d"
ok test ! -e "$out/hl-service@web-dev.service.d"
echo 'development: {servers: [{name: x}]}' >"$HL_DEV_SERVER_APPLIED"
rm -rf "$out" && mkdir "$out"
ok "$G" "$out" 2>/dev/null
ok test -d "$out/hl-service@web-dev.service.d"
rm -f "$HL_DEV_SERVER_APPLIED"

# An invalid file: nothing generated, the reason on stderr, exit 0 (the boot goes on).
cp "$HL_DEV_SERVER_FILE" "$dir/good.yaml"
sed -i 's/port: 8090/port: 8080/' "$HL_DEV_SERVER_FILE"
rm -rf "$out" && mkdir "$out"
"$G" "$out" 2>"$dir/err"
ok test $? = 0
ok test -z "$(ls -A "$out")"
ok grep -q "dev-server.yaml:15: proxy port 8080 is hl-daemon's" "$dir/err"
cp "$dir/good.yaml" "$HL_DEV_SERVER_FILE"

# The proxy's config: written only after nginx -t accepts it.
if [ -x /usr/sbin/nginx ]; then
  ok "$P" "$dir/nginx.conf"
  ok grep -q 'location /api/ {' "$dir/nginx.conf"
  ok grep -q 'proxy_pass http://127.0.0.1:8000;' "$dir/nginx.conf"
  # nginx refuses (a fake nginx that says no): the old config stays, exit 78
  printf '#!/bin/sh\necho "nginx: [emerg] refused" >&2\nexit 1\n' >"$dir/nginx-no"
  chmod +x "$dir/nginx-no"
  before=$(md5sum <"$dir/nginx.conf")
  sed -i 's/port: 8000/port: 8001/; s/localhost:8000/localhost:8001/' "$HL_DEV_SERVER_FILE"
  HL_NGINX=$dir/nginx-no "$P" "$dir/nginx.conf" 2>"$dir/err"
  ok test $? = 78
  ok grep -q 'the running one is unchanged' "$dir/err"
  ok test "$(md5sum <"$dir/nginx.conf")" = "$before"
  ok test ! -e "$dir/nginx.conf.new"
else
  echo "nginx not installed: the proxy config's nginx -t part skipped"
fi
sed -i 's/port: 8090/port: 8080/' "$HL_DEV_SERVER_FILE"
"$P" "$dir/nginx.conf" 2>/dev/null
ok test $? = 78
checks_done
