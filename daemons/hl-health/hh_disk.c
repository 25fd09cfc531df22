/* Disk space probes: statvfs against free-space thresholds (percent and
 * bytes) and free inodes. statvfs is answered from the superblock for local
 * filesystems; the result is delivered from a zero-delay timer so that DONE
 * never runs inside start. */
#include "hh_probe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

typedef struct {
    hh_probe_t base;
    hlb_timer_t timer;
} disk_probe_t;

static void on_run(hlb_reactor_t *io, hlb_timer_t *tm, void *arg)
{
    disk_probe_t *d = arg;
    const hh_disk_spec_t *s = &d->base.spec->u.disk;
    struct statvfs st;
    if (statvfs(s->path, &st) < 0) {
        char *m = hlb_strdupf("statvfs %s: %s", s->path, strerror(errno));
        hh_probe_finish(&d->base, HH_FAIL, m ? m : "statvfs failed", NULL, 0);
        free(m);
        return;
    }
    uint64_t total = (uint64_t)st.f_blocks * st.f_frsize;
    uint64_t avail = (uint64_t)st.f_bavail * st.f_frsize;
    double pct = total ? 100.0 * (double)avail / (double)total : 100.0;
    double ipct = st.f_files ? 100.0 * (double)st.f_favail / (double)st.f_files : 100.0;
    hh_result_t r = HH_PASS;
    if (pct < s->crit_free_pct || (s->crit_free_bytes && avail < s->crit_free_bytes) ||
        ipct < s->crit_free_inodes_pct)
        r = HH_FAIL;
    else if (pct < s->warn_free_pct || (s->warn_free_bytes && avail < s->warn_free_bytes))
        r = HH_WARN;
    /* The detail names the threshold class only, so it stays stable while the
     * numbers move; the numbers go to the output. */
    const char *detail = r == HH_PASS ? "enough free space"
                         : r == HH_WARN ? "free space below the warning threshold"
                                        : "free space below the critical threshold";
    char *out = hlb_strdupf("%s: %.1f%% free (%llu of %llu MiB), %.1f%% inodes free",
                                 s->path, pct, (unsigned long long)(avail >> 20),
                                 (unsigned long long)(total >> 20), ipct);
    hh_probe_finish(&d->base, r, detail, out ? out : "", out ? strlen(out) : 0);
    free(out);
}

static int disk_start(hh_probe_t *p, int64_t timeout_ms)
{
    disk_probe_t *d = (disk_probe_t *)p;
    hlb_timer_after_ms(p->env.io, &d->timer, 0);
    return 0;
}

static void disk_cancel(hh_probe_t *p)
{
    disk_probe_t *d = (disk_probe_t *)p;
    hlb_timer_stop(p->env.io, &d->timer);
}

static void disk_destroy(hh_probe_t *p) { free(p); }

static const hh_probe_ops_t disk_ops = {disk_start, disk_cancel, disk_destroy};

hh_probe_t *hh_disk_probe_new(const hh_probe_env_t *env, const hh_check_spec_t *spec, char **err)
{
    if (!spec->u.disk.path) {
        if (err)
            *err = strdup("disk check needs a path");
        return NULL;
    }
    disk_probe_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->base.ops = &disk_ops;
    hlb_timer_init(&d->timer, on_run, d);
    return &d->base;
}
