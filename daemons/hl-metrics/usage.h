/* The values the thresholds compare, computed the way the spec's psutil
 * computes them, from what the collectors just read. */
#pragma once
#include <stdbool.h>
#include "collect.h"
#include "threshold.h"

typedef struct hlm_usage {
    bool have_prev;
    uint64_t prev_total, prev_idle;
    /* This cycle's values (valid flags: no data yet or unreadable). */
    bool cpu_ok, mem_ok, load_ok;
    double cpu_pct, mem_pct, load1;
} hlm_usage_t;

/* Updates the CPU, memory and load values from the collectors' last run.
 * CPU needs two runs: the first leaves cpu_ok false. */
void hlm_usage_update(hlm_usage_t *u, const hlm_sysinfo_t *si);
/* Disk usage percent of MOUNTPOINT under ROOTFS, as psutil.disk_usage():
 * used / (used + available to non-root). 0 or -errno. */
int hlm_disk_usage_pct(const char *rootfs, const char *mountpoint, double *pct);
/* The value threshold CFG compares this cycle; false when unknown. */
bool hlm_usage_value(const hlm_usage_t *u, const char *rootfs, const hlm_threshold_cfg_t *cfg,
                     double *out);
