#!/usr/bin/env bash
# Development servers from /etc/hl/dev-server.yaml (spec 3.4, #17), under real
# systemd with the real orchestrator, hl-health, hl-failure and Debian's nginx:
# two real dev servers (python3 -m http.server, a Node.js server that speaks
# WebSocket) become hl-service@ units through the generator, started by the
# orchestrator; their health checks (derived from the file) pass; nginx routes
# /api/... and /... and carries a WebSocket round trip; a server killed is
# recovered; a third server added to the file, then changed, is applied without restarting
# the first two; an invalid file is refused with the old setup still running.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-service@dev-web.service hl-service@dev-api.service \
  hl-service@dev-extra.service hl-dev-proxy.service
here=$(cd "$(dirname "$0")/../devsrv" && pwd)
if ! e2e_exec test -x /usr/sbin/nginx || ! e2e_exec sh -c 'command -v node && command -v python3' >/dev/null; then
  skip "nginx, nodejs or python3 is not installed (scripts/install-deps.sh)"
fi
W=/home/hluser/workspace
H() { e2e_hlctl "$@"; }
put() { e2e_exec sh -c "cat >'$1'"; }
curl_proxy() { e2e_exec curl -sS --max-time 5 "http://127.0.0.1:8090$1"; }
health_ok() { H health "$1" >/dev/null 2>&1; }
managed_in_core() { H services | grep -qE "^$1 .* core\$"; }
check_target() { H health --why "$1" | grep -qF "$2"; }
proxied() { curl_proxy "$1" | grep -q "$2"; }
proxied_status() { [ "$(e2e_exec curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:8090$1")" = "$2" ]; }
json_status_ok() { H --json dev status "$1" | jq -e ".servers[0].health == \"healthy\" and .servers[0].port == $2" >/dev/null; }
dev_state() { H sub --count 1 --wait 3000 "dev.$1" | jq -e "$2" >/dev/null; }
logs_say() { H dev logs "$1" --lines 200 | grep -qF "$2"; }

e2e_exec install -d -o hluser -g hluser "$W/web" "$W/api/api" "$W/extra"
put "$W/web/server.js" <"$here/ws-server.js"
put /root/ws-client.js <"$here/ws-client.js"
e2e_exec sh -c "echo api-ok >$W/api/api/hello.txt && echo extra-ok >$W/extra/x.txt && chown -R hluser:hluser $W"

servers_v1="development:
  servers:
    - name: dev-web
      port: 3100
      command: 'node server.js'
      directory: $W/web
      environment:
        E2E_MARK: 'from-yaml'
    - name: dev-api
      port: 8000
      command: 'python3 -m http.server 8000 --bind 127.0.0.1'
      directory: $W/api
      environment:
        PYTHONUNBUFFERED: '1'"
proxy="  proxy:
    enabled: true
    port: 8090
    routes:
      '/api/*': 'http://localhost:8000'
      '/*': 'http://localhost:3100'"
printf '%s\n%s\n' "$servers_v1" "$proxy" | put /etc/hl/dev-server.yaml

# --- validated, then applied: units generated, started by the orchestrator
e2e_ok H dev check
out=$(H dev apply 2>&1); rc=$?
echo "$out"
e2e_ok test "$rc" = 0
e2e_ok grep -q 'added (started): hl-service@dev-web.service hl-service@dev-api.service' <<<"$out"
e2e_ok e2e_wait_unit_active hl-service@dev-web.service
e2e_ok e2e_wait_unit_active hl-service@dev-api.service
e2e_ok e2e_wait_unit_active hl-dev-proxy.service
# the generator's drop-in describes them; the orchestrator manages them (phase core)
e2e_ok e2e_exec test -f /run/systemd/generator/hl-service@dev-web.service.d/50-dev-server.conf
e2e_ok e2e_exec test -L /run/systemd/generator/hl-phase-core.target.wants/hl-service@dev-api.service
e2e_ok managed_in_core hl-service@dev-web.service
web_pid=$(e2e_main_pid hl-service@dev-web.service)
api_pid=$(e2e_main_pid hl-service@dev-api.service)
e2e_ok test "$(e2e_exec cat /proc/"$web_pid"/comm)" = node
e2e_ok test "$(e2e_exec readlink /proc/"$web_pid"/cwd)" = "$W/web"
e2e_ok test "$(e2e_exec ps -o user= -p "$web_pid")" = hluser
e2e_ok e2e_exec grep -qz '^E2E_MARK=from-yaml$' /proc/"$web_pid"/environ
e2e_ok test "$(e2e_exec cat /proc/"$api_pid"/comm)" = python3
# dev.<name> on the bus: the server and its unit's state
e2e_ok wait_for 10 dev_state dev-web '.body.port == 3100 and .body.route == "/*" and .body.state.active_state == "active"'

# --- health checks derived from the file, without a line of hl-health config
e2e_ok wait_for 60 health_ok dev-web
e2e_ok wait_for 60 health_ok dev-api
e2e_ok check_target dev-web-http 'http://127.0.0.1:3100/'

# --- nginx: unprivileged, its own unit; routes, X-Forwarded-*, WebSocket
nginx_pid=$(e2e_main_pid hl-dev-proxy.service)
e2e_ok test "$(e2e_exec ps -o user= -p "$nginx_pid")" = hl-dev-proxy
e2e_ok test "$(e2e_exec cat /proc/"$nginx_pid"/comm)" = nginx
e2e_ok test "$(curl_proxy /api/hello.txt)" = api-ok
page=$(curl_proxy /some/page?x=1)
echo "proxy /some/page: $page"
e2e_ok grep -q '^web GET /some/page?x=1 xff=127.0.0.1 proto=http host=127.0.0.1 mark=from-yaml$' <<<"$page"
e2e_ok test "$(e2e_exec node /root/ws-client.js 127.0.0.1 8090 /hot-reload ping-through-nginx)" = \
  echo:ping-through-nginx

# --- a server killed is recovered (systemd's restart, hl-failure's watch)
e2e_ok e2e_exec kill -9 "$web_pid"
new_web=$(e2e_wait_restarted hl-service@dev-web.service "$web_pid" 40)
e2e_ok test -n "$new_web"
e2e_ok wait_for 60 health_ok dev-web
e2e_ok wait_for 10 proxied /back '^web GET /back'
e2e_ok test "$(e2e_main_pid hl-service@dev-api.service)" = "$api_pid"
web_pid=$new_web

# --- a third server: applied without restarting the first two
printf '%s\n%s\n' "$servers_v1" "    - name: dev-extra
      port: 8001
      command: 'python3 -m http.server 8001 --bind 127.0.0.1'
      directory: $W/extra
      health: tcp
$proxy
      '/extra/*': 'http://localhost:8001'" | put /etc/hl/dev-server.yaml
out=$(H dev apply 2>&1); rc=$?
echo "$out"
e2e_ok test "$rc" = 0
e2e_ok grep -q 'added (started): hl-service@dev-extra.service$' <<<"$out"
e2e_ok grep -q 'unchanged (left running): hl-service@dev-web.service hl-service@dev-api.service$' <<<"$out"
e2e_ok e2e_wait_unit_active hl-service@dev-extra.service
e2e_ok test "$(e2e_main_pid hl-service@dev-web.service)" = "$web_pid"
e2e_ok test "$(e2e_main_pid hl-service@dev-api.service)" = "$api_pid"
# the proxy was reloaded, not restarted, and routes the new prefix
e2e_ok test "$(e2e_main_pid hl-dev-proxy.service)" = "$nginx_pid"
e2e_ok wait_for 10 proxied_status /extra/x.txt 404 # reaches http.server, which has no extra/
e2e_ok wait_for 60 health_ok dev-extra
extra_pid=$(e2e_main_pid hl-service@dev-extra.service)

# --- a changed server (its environment): restarted alone
printf '%s\n%s\n' "$servers_v1" "    - name: dev-extra
      port: 8001
      command: 'python3 -m http.server 8001 --bind 127.0.0.1'
      directory: $W/extra
      health: tcp
      environment:
        E2E_MARK: 'changed'
$proxy
      '/extra/*': 'http://localhost:8001'" | put /etc/hl/dev-server.yaml
out=$(H dev apply 2>&1); rc=$?
echo "$out"
e2e_ok test "$rc" = 0
e2e_ok grep -q 'changed (restarted): hl-service@dev-extra.service$' <<<"$out"
e2e_ok grep -q 'unchanged (left running): hl-service@dev-web.service hl-service@dev-api.service$' <<<"$out"
e2e_ok e2e_wait_unit_active hl-service@dev-extra.service
new_extra=$(e2e_main_pid hl-service@dev-extra.service)
e2e_ok test "$new_extra" != "$extra_pid"
e2e_ok e2e_exec grep -qz '^E2E_MARK=changed$' /proc/"$new_extra"/environ
e2e_ok wait_for 60 health_ok dev-extra
e2e_ok test "$(e2e_main_pid hl-service@dev-web.service)" = "$web_pid"
e2e_ok test "$(e2e_main_pid hl-service@dev-api.service)" = "$api_pid"
extra_pid=$new_extra

# --- an invalid file is refused; the old setup keeps running, also after
# --- a daemon-reload (the generator reads the applied copy)
printf '%s\n' "development:
  servers:
    - name: dev-web
      port: 8000
      command: 'node server.js | tee /tmp/log'
      directory: web
    - name: dev-api
      port: 8000
      command: 'python3 -m http.server'
      directory: $W/api
      colour: blue
  proxy: {enabled: true, port: 8080, routes: {'/*': 'http://localhost:8000'}}" |
  put /etc/hl/dev-server.yaml
out=$(H dev apply 2>&1); rc=$?
echo "$out"
e2e_ok test "$rc" = 78
e2e_ok grep -q "dev-server.yaml:5: command 'node server.js | tee /tmp/log': shell syntax" <<<"$out"
e2e_ok grep -q "dev-server.yaml:6: directory 'web' must be an absolute path" <<<"$out"
e2e_ok grep -q "dev-server.yaml:11: unknown key 'colour'" <<<"$out"
e2e_ok grep -q "dev-server.yaml:12: proxy port 8080 is hl-daemon's" <<<"$out"
e2e_ok grep -q "dev-server.yaml:8: port 8000 is taken by server 'dev-web'" <<<"$out"
e2e_ok grep -q 'nothing was changed' <<<"$out"
e2e_exec systemctl daemon-reload
for u in dev-web:"$web_pid" dev-api:"$api_pid" dev-extra:"$extra_pid"; do
  e2e_ok test "$(e2e_main_pid "hl-service@${u%%:*}.service")" = "${u#*:}"
done
e2e_ok e2e_exec test -f /run/systemd/generator/hl-service@dev-web.service.d/50-dev-server.conf
e2e_ok test "$(curl_proxy /api/hello.txt)" = api-ok
e2e_ok test "$(e2e_exec node /root/ws-client.js 127.0.0.1 8090 /ws still-here)" = echo:still-here
e2e_ok test "$(e2e_main_pid hl-dev-proxy.service)" = "$nginx_pid"

# --- hlctl dev list/status/restart/logs
list=$(H dev list)
echo "$list"
e2e_ok grep -qE '^dev-extra +8001 active +running +healthy +/extra/\* ' <<<"$list"
e2e_ok json_status_ok dev-api 8000
e2e_ok H dev restart dev-extra
e2e_ok test "$(e2e_main_pid hl-service@dev-extra.service)" != "$extra_pid"
e2e_ok wait_for 10 logs_say dev-api 'Serving HTTP on 127.0.0.1 port 8000'

# --- back to no servers: every unit stopped, the proxy too
printf 'development:\n  servers: []\n' | put /etc/hl/dev-server.yaml
out=$(H dev apply 2>&1); rc=$?
echo "$out"
e2e_ok test "$rc" = 0
e2e_ok grep -q 'proxy: stopped' <<<"$out"
for u in dev-web dev-api dev-extra; do
  e2e_ok test "$(e2e_prop "hl-service@$u.service" ActiveState)" = inactive
done
e2e_ok test "$(e2e_prop hl-dev-proxy.service ActiveState)" = inactive
e2e_exec rm -f /etc/hl/dev-server.yaml /run/hl/dev-server.yaml
e2e_exec systemctl daemon-reload
H call hl-health reload >/dev/null
