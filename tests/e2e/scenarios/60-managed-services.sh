#!/usr/bin/env bash
# The managed services' units (the spec's, with the stand-ins at their
# paths) under real systemd: a crash is restarted, a configuration error
# (exit 78) is not, failing health is invisible to systemd (hl-health's
# business), and the hl-service@ template runs a command from its env file
# through hl-service-runner.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
e2e_scenario hl-daemon.service claude-code.service hl-service@e2e-web.service hl-service@e2e-bad.service
control() { e2e_exec curl -sf -o /dev/null -X POST "http://127.0.0.1:$1/control/$2"; }
health() { e2e_exec curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/health"; }

# Failing health: systemd sees nothing; the unit stays active.
e2e_ok control 8080 fail-health
e2e_ok test "$(health 8080)" = 503
e2e_ok e2e_is_active hl-daemon.service
e2e_ok control 8080 heal
e2e_ok test "$(health 8080)" = 200

# A crash of claude-code (SIGABRT): restarted after RestartSec=5.
pid=$(e2e_main_pid claude-code.service)
cursor=$(e2e_journal_cursor)
e2e_ok control 3000 crash
e2e_ok e2e_wait_journal claude-code.service "Main process exited, code=killed, status=6/ABRT" 10 "$cursor"
e2e_ok test -n "$(e2e_wait_restarted claude-code.service "$pid" 30)"
# (polled through a function: a command substitution would be evaluated once)
health_is() { [ "$(health "$1")" = "$2" ]; }
e2e_ok wait_for 10 health_is 3000 200

# A configuration error in hl-daemon (exit 78): failed, and not restarted.
restarts=$(e2e_prop hl-daemon.service NRestarts)
cc_pid=$(e2e_main_pid claude-code.service)
e2e_ok control 8080 "exit?code=78"
e2e_ok e2e_wait_prop hl-daemon.service ActiveState failed
e2e_ok test "$(e2e_prop hl-daemon.service ExecMainStatus)" = 78
e2e_ok test "$(e2e_prop hl-daemon.service NRestarts)" = "$restarts"
# Requires= does not stop claude-code for its dependency's failure...
e2e_ok test "$(e2e_main_pid claude-code.service)" = "$cc_pid"
# ... and an operator's start brings hl-daemon back.
e2e_ok e2e_exec systemctl start hl-daemon.service
e2e_ok e2e_wait_unit_active hl-daemon.service
e2e_ok test "$(health 8080)" = 200

# The template: /etc/hl/services/NAME.env describes the service.
e2e_exec sh -c "printf '%s\n' 'HL_SERVICE_COMMAND=/usr/local/bin/hl-daemon --port 8000 --no-notify' \
  'HL_SERVICE_DIRECTORY=/home/hluser/workspace' >/etc/hl/services/e2e-web.env"
e2e_ok e2e_exec systemctl start hl-service@e2e-web.service
e2e_ok e2e_wait_unit_active hl-service@e2e-web.service
e2e_ok wait_for 10 health_is 8000 200
pid=$(e2e_main_pid hl-service@e2e-web.service)
# the runner replaced itself with the command: systemd supervises it directly
e2e_ok test "$(e2e_exec cat /proc/"$pid"/comm)" = hl-daemon
e2e_ok test "$(e2e_exec readlink /proc/"$pid"/cwd)" = /home/hluser/workspace
e2e_ok e2e_exec grep -qz '^HL_SERVICE_NAME=e2e-web$' /proc/"$pid"/environ
e2e_ok test "$(e2e_exec ps -o user= -p "$pid")" = hluser
e2e_ok e2e_exec systemctl stop hl-service@e2e-web.service
# a description without a command is a configuration error: not retried
e2e_exec sh -c "printf 'HL_SERVICE_DIRECTORY=/tmp\n' >/etc/hl/services/e2e-bad.env"
e2e_exec systemctl start hl-service@e2e-bad.service
e2e_ok e2e_wait_prop hl-service@e2e-bad.service ActiveState failed
e2e_ok test "$(e2e_prop hl-service@e2e-bad.service ExecMainStatus)" = 78
e2e_ok test "$(e2e_prop hl-service@e2e-bad.service NRestarts)" = 0
e2e_ok e2e_wait_journal hl-service@e2e-bad.service "HL_SERVICE_COMMAND is not set"
e2e_exec systemctl reset-failed hl-service@e2e-bad.service
e2e_exec rm -f /etc/hl/services/e2e-web.env /etc/hl/services/e2e-bad.env
