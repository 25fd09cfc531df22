/* hl-logs: structured logs that are never lost (spec 4.2). */
#include <hlbus/hlbus.h>

#include "hl-logs.h"

int main(int argc, char **argv)
{
    static lg_daemon_t logs;
    static const hlb_daemon_ops_t ops = {
        .name = "hl-logs",
        .summary = "Structured JSON logs from the journal and the bus into /var/log/hl,\n"
                   "rotated, and forwarded to a syslog collector (RFC 5424 over TCP/TLS)\n"
                   "through an on-disk spool.",
        .configure = lg_daemon_configure,
        .start = lg_daemon_start,
        .stop = lg_daemon_stop,
        .methods = lg_methods,
        .prepare_shutdown = lg_daemon_prepare_shutdown,
        .help_extra = "Config section 'hl-logs': see hl-logs.yaml.example. Without one it\n"
                      "follows hl-*.service, hl-service@*.service and claude-code.service\n"
                      "into /var/log/hl/<service>.log (10 MiB x 5), and forwards nothing.",
    };
    return hlb_daemon_main(argc, argv, &ops, &logs);
}
