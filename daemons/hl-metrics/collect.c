#include "collect_int.h"
#include <errno.h>
#include <stdarg.h>
#include <hlbus/clock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct {
    const char *name;
    hlm_col_fn *fn;
} collectors[HLM_COL_COUNT] = {
    [HLM_COL_CPU] = {"cpu", hlm_col_cpu},
    [HLM_COL_STAT] = {"stat", hlm_col_stat},
    [HLM_COL_MEMINFO] = {"meminfo", hlm_col_meminfo},
    [HLM_COL_LOADAVG] = {"loadavg", hlm_col_loadavg},
    [HLM_COL_PRESSURE] = {"pressure", hlm_col_pressure},
    [HLM_COL_VMSTAT] = {"vmstat", hlm_col_vmstat},
    [HLM_COL_FILESYSTEM] = {"filesystem", hlm_col_filesystem},
    [HLM_COL_NETDEV] = {"netdev", hlm_col_netdev},
    [HLM_COL_NETCLASS] = {"netclass", hlm_col_netclass},
    [HLM_COL_DISKSTATS] = {"diskstats", hlm_col_diskstats},
    [HLM_COL_SERVICES] = {"services", hlm_col_services},
    [HLM_COL_TEXTFILE] = {"textfile", hlm_col_textfile},
};

const char *hlm_collect_name(hlm_col_id_t id)
{
    return id < HLM_COL_COUNT ? collectors[id].name : "?";
}

int hlm_collect_lookup(const char *name)
{
    for (int i = 0; i < HLM_COL_COUNT; i++)
        if (strcmp(collectors[i].name, name) == 0)
            return i;
    return -ENOENT;
}

static int compile(regex_t *re, bool *has, const char *src, const char *def, const char *what,
                   char **err)
{
    if (!src)
        src = def;
    *has = false;
    if (!src || !*src)
        return 0;
    int rc = regcomp(re, src, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, re, msg, sizeof msg);
        if (err && asprintf(err, "%s: invalid regular expression \"%s\": %s", what, src, msg) < 0)
            *err = NULL;
        return -EINVAL;
    }
    *has = true;
    return 0;
}

hlm_collect_t *hlm_collect_new(const hlm_collect_opts_t *o, char **err)
{
    static const hlm_collect_opts_t none = {0};
    if (!o)
        o = &none;
    if (err)
        *err = NULL;
    hlm_collect_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->procfs = strdup(o->procfs ? o->procfs : "/proc");
    c->sysfs = strdup(o->sysfs ? o->sysfs : "/sys");
    c->rootfs = strdup(o->rootfs ? o->rootfs : "/");
    c->disabled = o->disabled;
    long tck = sysconf(_SC_CLK_TCK);
    c->clk_tck = tck > 0 ? tck : 100;
    static const char *const def_slices[] = {"system.slice", NULL};
    const char *const *sl = o->cgroup_slices ? o->cgroup_slices : def_slices;
    while (sl[c->nslices])
        c->nslices++;
    c->slices = calloc(c->nslices + 1, sizeof *c->slices);
    bool oom = !c->procfs || !c->sysfs || !c->rootfs || !c->slices;
    for (size_t i = 0; !oom && i < c->nslices; i++)
        oom = !(c->slices[i] = strdup(sl[i]));
    while (o->textfile_dirs && o->textfile_dirs[c->ntextfile_dirs])
        c->ntextfile_dirs++;
    if (!c->ntextfile_dirs)
        c->disabled |= 1u << HLM_COL_TEXTFILE;
    c->textfile_dirs = calloc(c->ntextfile_dirs + 1, sizeof *c->textfile_dirs);
    oom = oom || !c->textfile_dirs;
    for (size_t i = 0; !oom && i < c->ntextfile_dirs; i++)
        oom = !(c->textfile_dirs[i] = strdup(o->textfile_dirs[i]));
    if (oom ||
        compile(&c->re_mnt, &c->has_mnt, o->mount_points_exclude,
                HLM_DEFAULT_MOUNT_POINTS_EXCLUDE, "mount_points_exclude", err) < 0 ||
        compile(&c->re_fstype, &c->has_fstype, o->fs_types_exclude, HLM_DEFAULT_FS_TYPES_EXCLUDE,
                "fs_types_exclude", err) < 0 ||
        compile(&c->re_disk, &c->has_disk, o->disk_device_exclude,
                HLM_DEFAULT_DISK_DEVICE_EXCLUDE, "disk_device_exclude", err) < 0 ||
        compile(&c->re_net, &c->has_net, o->net_device_exclude, NULL, "net_device_exclude",
                err) < 0) {
        hlm_collect_destroy(&c);
        return NULL;
    }
    return c;
}

void hlm_collect_destroy(hlm_collect_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlm_collect_t *c = *self_p;
    free(c->procfs);
    free(c->sysfs);
    free(c->rootfs);
    for (size_t i = 0; c->slices && i < c->nslices; i++)
        free(c->slices[i]);
    free(c->slices);
    for (size_t i = 0; c->textfile_dirs && i < c->ntextfile_dirs; i++)
        free(c->textfile_dirs[i]);
    free(c->textfile_dirs);
    if (c->has_mnt)
        regfree(&c->re_mnt);
    if (c->has_fstype)
        regfree(&c->re_fstype);
    if (c->has_disk)
        regfree(&c->re_disk);
    if (c->has_net)
        regfree(&c->re_net);
    hlm_buf_free(&c->file);
    hlm_buf_free(&c->path);
    hlm_buf_free(&c->attr);
    hlm_buf_free(&c->stat);
    hlm_col_netclass_free(c);
    for (int i = 0; i < HLM_COL_COUNT; i++) {
        free(c->st[i].err);
        free(c->st[i].prev_err);
    }
    free(c);
    *self_p = NULL;
}

int hlm_col_error(hlm_collect_t *c, int rc, const char *fmt, ...)
{
    struct hlm_col_state *st = &c->st[c->cur];
    if (!st->err) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&st->err, fmt, ap) < 0)
            st->err = NULL;
        va_end(ap);
    }
    return rc;
}

int hlm_col_read_proc(hlm_collect_t *c, const char *rel)
{
    return hlm_read_file(&c->file, hlm_join(&c->path, c->procfs, rel));
}

int hlm_col_read_proc_stat(hlm_collect_t *c)
{
    hlm_join(&c->path, c->procfs, "stat");
    if (c->stat_run != c->run) {
        int rc = hlm_read_file(&c->stat, c->path.data);
        if (rc < 0)
            return rc;
        c->stat_run = c->run;
    }
    /* The parsers cut the text up in place: each gets its own copy. */
    hlm_buf_reset(&c->file);
    hlm_buf_add(&c->file, c->stat.data, c->stat.len);
    return 0;
}

bool hlm_col_match(const regex_t *re, bool has, const char *s)
{
    return has && regexec(re, s, 0, NULL, 0) == 0;
}

int hlm_collect_run(hlm_collect_t *c, hlm_expo_t *e)
{
    int failed = 0;
    memset(&c->sys, 0, sizeof c->sys);
    c->run++;
    for (int i = 0; i < HLM_COL_COUNT; i++) {
        struct hlm_col_state *st = &c->st[i];
        free(st->prev_err);
        st->prev_err = st->err;
        st->err = NULL;
        st->ran = !(c->disabled & (1u << i));
        if (!st->ran)
            continue;
        c->cur = (hlm_col_id_t)i;
        double t0 = hlb_mono_s();
        int rc = collectors[i].fn(c, e);
        st->seconds = hlb_mono_s() - t0;
        st->ok = rc == 0;
        if (rc < 0) {
            failed++;
            if (!st->err)
                hlm_col_error(c, rc, "%s", strerror(-rc));
        }
    }
    hlm_family(e, "node_scrape_collector_duration_seconds", HLM_GAUGE,
               "node_exporter: Duration of a collector scrape.");
    for (int i = 0; i < HLM_COL_COUNT; i++)
        if (c->st[i].ran)
            hlm_sample(e, HLM_KV("collector", collectors[i].name), c->st[i].seconds);
    hlm_family(e, "node_scrape_collector_success", HLM_GAUGE,
               "node_exporter: Whether a collector succeeded.");
    for (int i = 0; i < HLM_COL_COUNT; i++)
        if (c->st[i].ran)
            hlm_sample(e, HLM_KV("collector", collectors[i].name), c->st[i].ok);
    return failed;
}

const hlm_sysinfo_t *hlm_collect_sysinfo(const hlm_collect_t *c)
{
    return &c->sys;
}

const char *hlm_collect_error(const hlm_collect_t *c, hlm_col_id_t id, bool *changed)
{
    const struct hlm_col_state *st = &c->st[id];
    const char *now = st->err ? st->err : "";
    const char *before = st->prev_err ? st->prev_err : "";
    if (changed)
        *changed = strcmp(now, before) != 0;
    return now;
}

const char *hlm_collect_rootfs(const hlm_collect_t *c)
{
    return c->rootfs;
}
