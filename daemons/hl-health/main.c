/* hl-health: the health check framework (spec 2.2.1, 1.3.2). */
#include <hlbus/hlbus.h>

#include "hl-health.h"

int main(int argc, char **argv)
{
    static hh_daemon_t health;
    static const hlb_daemon_ops_t ops = {
        .name = "hl-health",
        .summary = "Health checks of the VM's services: unit state (from the orchestrator),\n"
                   "HTTP(S), TCP, exec and disk space; publishes health.<service>.",
        .configure = hh_daemon_configure,
        .start = hh_daemon_start,
        .stop = hh_daemon_stop,
        .methods = hh_methods,
        .help_extra = "Config section 'hl-health': see hl-health.yaml.example. Without one it\n"
                      "checks the spec's services: hl-daemon (:8080/health), claude-code\n"
                      "(:3000/health) and docker (unit state).",
    };
    return hlb_daemon_main(argc, argv, &ops, &health);
}
