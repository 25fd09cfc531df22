/* hl-failure: failure detection and automated recovery (spec 5.1, 5.2). */
#include "hl-failure.h"

int main(int argc, char **argv)
{
    fl_daemon_t *fd = fl_daemon_new();
    if (!fd)
        return 1;
    const hlb_daemon_ops_t ops = {
        .name = "hl-failure",
        .summary = "Detects service crashes, network failures, resource exhaustion and "
                   "configuration errors from the bus, and recovers services through "
                   "hl-orchestrator (restart, reset, rebuild) with retry limits, back-off "
                   "and a flap guard.",
        .configure = fl_daemon_configure,
        .start = fl_daemon_start,
        .stop = fl_daemon_stop,
        .methods = fl_daemon_methods,
        .help_extra = "Methods: failures (incident timelines), rearm target=NAME (admin).\n"
                      "`hlctl failures` and `hlctl failure rearm SERVICE` call them.",
    };
    int rc = hlb_daemon_main(argc, argv, &ops, fd);
    fl_daemon_destroy(&fd);
    return rc;
}
