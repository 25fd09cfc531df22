#include "usage.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include "buf.h"
#include "sysfile.h"

void hlm_usage_update(hlm_usage_t *u, const hlm_sysinfo_t *si)
{
    u->cpu_ok = false;
    if (si->cpu_ok) {
        /* Counters only grow; a smaller total means a fixture swap or a
         * counter reset: start over rather than report garbage. */
        if (u->have_prev && si->cpu_total > u->prev_total && si->cpu_idle >= u->prev_idle) {
            uint64_t dt = si->cpu_total - u->prev_total, di = si->cpu_idle - u->prev_idle;
            u->cpu_pct = di >= dt ? 0 : 100.0 * (double)(dt - di) / (double)dt;
            u->cpu_ok = true;
        }
        u->have_prev = true;
        u->prev_total = si->cpu_total;
        u->prev_idle = si->cpu_idle;
    }
    u->mem_ok = si->mem_ok;
    if (si->mem_ok)
        u->mem_pct = 100.0 * (si->mem_total - si->mem_available) / si->mem_total;
    u->load_ok = si->load_ok;
    u->load1 = si->load1;
}

int hlm_disk_usage_pct(const char *rootfs, const char *mountpoint, double *pct)
{
    hlm_buf_t p = {0};
    struct statvfs sv;
    int rc = statvfs(hlm_join(&p, rootfs, mountpoint), &sv);
    hlm_buf_free(&p);
    if (rc < 0)
        return -errno;
    double used = (double)(sv.f_blocks - sv.f_bfree) * (double)sv.f_frsize;
    double avail = (double)sv.f_bavail * (double)sv.f_frsize;
    if (used + avail <= 0)
        return -ENODATA;
    *pct = 100.0 * used / (used + avail);
    return 0;
}

bool hlm_usage_value(const hlm_usage_t *u, const char *rootfs, const hlm_threshold_cfg_t *cfg,
                     double *out)
{
    switch (cfg->resource) {
    case HLM_RES_CPU: *out = u->cpu_pct; return u->cpu_ok;
    case HLM_RES_MEMORY: *out = u->mem_pct; return u->mem_ok;
    case HLM_RES_LOAD: *out = u->load1; return u->load_ok;
    case HLM_RES_DISK:
        return hlm_disk_usage_pct(rootfs, cfg->mountpoint ? cfg->mountpoint : "/", out) == 0;
    default: return false;
    }
}
