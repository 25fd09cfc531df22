/* hl-metrics: the resource monitor and Prometheus endpoint; hl-metrics.c is
 * where it starts. */
#include "hl-metrics.h"

int main(int argc, char **argv)
{
    static const hlb_daemon_ops_t ops = {
        .name = "hl-metrics",
        .summary = "Resource monitor and Prometheus exporter: system, per-service and bus metrics\n"
                   "on /metrics, and resource thresholds on the bus (metrics.threshold.<name>).",
        .configure = hlm_daemon_configure,
        .start = hlm_daemon_start,
        .stop = hlm_daemon_stop,
        .methods = hlm_daemon_methods,
        .help_extra = hlm_config_help,
    };
    hlm_overrides_t ov = {0};
    if (hlm_flags_extract(&argc, argv, &ov) < 0)
        return 64;
    hlm_daemon_t *m = hlm_daemon_new(&ov);
    if (!m)
        return 1;
    int rc = hlb_daemon_main(argc, argv, &ops, m);
    hlm_daemon_destroy(&m);
    return rc;
}
