/* The subcommand table: HLCTL_CMD(name, function, usage, summary).
 * Add one line per command; define the function in cmd_<area>.c. */
HLCTL_CMD("ping", hlctl_cmd_ping, "DAEMON", "check that a daemon answers")
HLCTL_CMD("status", hlctl_cmd_status, "[DAEMON...]", "which daemons answer, version, uptime")
HLCTL_CMD("call", hlctl_cmd_call, "DAEMON METHOD [KEY=VALUE...]", "call any method; print the reply")
HLCTL_CMD("sub", hlctl_cmd_sub, "[--count N] [--wait MS] [PREFIX...]", "print bus events as JSON lines")
HLCTL_CMD("pub", hlctl_cmd_pub, "TOPIC MESSAGE|KEY=VALUE...", "publish an event")
HLCTL_CMD("bus", hlctl_cmd_bus, "stats", "bus counters per topic prefix and per source")
HLCTL_CMD("failures", hlctl_cmd_failures, "[--limit N] [--open] [TARGET]", "hl-failure's incidents as timelines, and each target's state")
HLCTL_CMD("failure", hlctl_cmd_failure, "rearm SERVICE", "re-enable recovery after a give-up, flap hold or config error")
