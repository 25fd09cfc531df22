/* hl-metrics: the resource monitor and Prometheus endpoint. */
#include "hl-metrics.h"

int main(int argc, char **argv)
{
    hlm_overrides_t ov = {0};
    if (hlm_flags_extract(&argc, argv, &ov) < 0)
        return 64;
    hlm_daemon_t *m = hlm_daemon_new(&ov);
    if (!m)
        return 1;
    int rc = hlb_daemon_main(argc, argv, &hlm_daemon_ops, m);
    hlm_daemon_destroy(&m);
    return rc;
}
