/* Per-service CPU, memory and tasks from the units' cgroups (the
 * "services" collector). Three layouts:
 *   unified: <sysfs>/fs/cgroup is cgroup v2;
 *   hybrid:  v1 controllers, and v2 at fs/cgroup/unified (systemd's hybrid
 *            mode, and what a container on such a host sees, where the v1
 *            controllers are often not delegated but v2's cpu.stat is);
 *   legacy:  v1 only (units listed in the name=systemd hierarchy).
 * Each figure comes from v2 where it is there, else from v1; tasks fall back
 * to counting the unit's threads. Services are the *.service directories of
 * the configured slices and of the slices nested one level below them
 * (template instances live in system-<template>.slice). */
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "collect_int.h"

typedef struct {
    char *name; /* unit name without ".service" */
    char *rel;  /* path below the hierarchy root: <slice>/[<sub>.slice/]<unit> */
    bool has_cpu, has_mem, has_limit, has_tasks;
    double user, system, mem, limit, tasks;
} svc_t;

typedef struct {
    svc_t *v;
    size_t n, cap;
} svcs_t;

static bool ends_with(const char *s, const char *suffix)
{
    size_t l = strlen(s), sl = strlen(suffix);
    return l > sl && strcmp(s + l - sl, suffix) == 0;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Adds the services below <root>/<rel>; descends into *.slice when DEPTH. */
static void scan(hlm_collect_t *c, svcs_t *out, const char *root, const char *rel, int depth)
{
    hlm_buf_t dir = {0}, sub = {0};
    hlm_join(&dir, root, rel);
    DIR *d = opendir(dir.data);
    if (!d) {
        hlm_buf_free(&dir);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        bool svc = ends_with(de->d_name, ".service");
        bool slice = depth > 0 && ends_with(de->d_name, ".slice");
        if (!svc && !slice)
            continue;
        hlm_join(&sub, rel, de->d_name);
        if (!is_dir(hlm_join(&c->attr, root, sub.data)))
            continue;
        if (slice) {
            scan(c, out, root, sub.data, depth - 1);
            continue;
        }
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 16;
            svc_t *p = realloc(out->v, out->cap * sizeof *p);
            if (!p)
                abort();
            out->v = p;
        }
        svc_t *s = &out->v[out->n++];
        memset(s, 0, sizeof *s);
        s->name = strndup(de->d_name, strlen(de->d_name) - strlen(".service"));
        s->rel = strdup(sub.data);
        if (!s->name || !s->rel)
            abort();
    }
    closedir(d);
    hlm_buf_free(&dir);
    hlm_buf_free(&sub);
}

/* Reads "<key> <value>" lines of FILE into VALS by KEYS; returns how many
 * were found. */
static int read_keyed(hlm_collect_t *c, const char *file, const char *const *keys, uint64_t *vals,
                      int nkeys)
{
    if (hlm_read_file(&c->file, file) < 0)
        return 0;
    int found = 0;
    char *cur = c->file.data, *line;
    while (hlm_next_line(&cur, &line)) {
        char *f[3];
        if (hlm_split(line, f, 3) != 2)
            continue;
        for (int i = 0; i < nkeys; i++)
            if (strcmp(f[0], keys[i]) == 0 && hlm_parse_u64(f[1], &vals[i]) == 0)
                found++;
    }
    return found;
}

static bool read_u64(hlm_collect_t *c, const char *file, uint64_t *out)
{
    /* kernfs files: one read is the whole value */
    return hlm_read_line_at(&c->file, AT_FDCWD, file) == 0 &&
           hlm_parse_u64(c->file.data, out) == 0;
}

/* Lines of FILE (cgroup.threads, tasks): one per thread. */
static bool count_lines(hlm_collect_t *c, const char *file, uint64_t *out)
{
    if (hlm_read_file(&c->file, file) < 0)
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < c->file.len; i++)
        n += c->file.data[i] == '\n';
    *out = n;
    return true;
}

/* V2: the v2 hierarchy (or NULL); V1: the directory of the v1 controllers
 * (or NULL). */
static void measure(hlm_collect_t *c, const char *v2, const char *v1, svc_t *s)
{
    hlm_buf_t p = {0}, root = {0};
    uint64_t v[2], u;
    static const char *const cpu2[] = {"user_usec", "system_usec"};
    static const char *const cpu1[] = {"user", "system"};
    if (v2 && read_keyed(c, hlm_join3(&p, v2, s->rel, "cpu.stat"), cpu2, v, 2) == 2) {
        s->has_cpu = true;
        s->user = (double)v[0] / 1e6;
        s->system = (double)v[1] / 1e6;
    } else if (v1 && read_keyed(c, hlm_join3(&p, hlm_join(&root, v1, "cpuacct"), s->rel, "cpuacct.stat"),
                                cpu1, v, 2) == 2) {
        s->has_cpu = true;
        s->user = (double)v[0] / (double)c->clk_tck;
        s->system = (double)v[1] / (double)c->clk_tck;
    }
    if (v2 && read_u64(c, hlm_join3(&p, v2, s->rel, "memory.current"), &u)) {
        s->has_mem = true;
        s->mem = (double)u;
        /* "max" when unlimited: then there is no limit to export */
        if ((s->has_limit = read_u64(c, hlm_join3(&p, v2, s->rel, "memory.max"), &u)))
            s->limit = (double)u;
    } else if (v1 && read_u64(c, hlm_join3(&p, hlm_join(&root, v1, "memory"), s->rel,
                                           "memory.usage_in_bytes"), &u)) {
        s->has_mem = true;
        s->mem = (double)u;
        /* v1 spells "unlimited" as a huge page-aligned number */
        if (read_u64(c, hlm_join3(&p, root.data, s->rel, "memory.limit_in_bytes"), &u) &&
            u < (1ull << 62)) {
            s->has_limit = true;
            s->limit = (double)u;
        }
    }
    if ((v2 && read_u64(c, hlm_join3(&p, v2, s->rel, "pids.current"), &u)) ||
        (v1 && read_u64(c, hlm_join3(&p, hlm_join(&root, v1, "pids"), s->rel, "pids.current"), &u)) ||
        (v2 && count_lines(c, hlm_join3(&p, v2, s->rel, "cgroup.threads"), &u)) ||
        (v1 && count_lines(c, hlm_join3(&p, hlm_join(&root, v1, "systemd"), s->rel, "tasks"), &u))) {
        s->has_tasks = true;
        s->tasks = (double)u;
    }
    hlm_buf_free(&p);
    hlm_buf_free(&root);
}

static int cmp_svc(const void *a, const void *b)
{
    return strcmp(((const svc_t *)a)->name, ((const svc_t *)b)->name);
}

int hlm_col_services(hlm_collect_t *c, hlm_expo_t *e)
{
    hlm_buf_t base = {0}, probe = {0}, unified = {0}, v1list = {0};
    hlm_join(&base, c->sysfs, "fs/cgroup");
    const char *v2 = NULL, *v1 = NULL, *list_root = NULL;
    if (access(hlm_join(&probe, base.data, "cgroup.controllers"), F_OK) == 0) {
        v2 = base.data;
    } else {
        v1 = base.data;
        if (access(hlm_join(&probe, base.data, "unified/cgroup.controllers"), F_OK) == 0)
            v2 = hlm_join(&unified, base.data, "unified");
    }
    /* Units are listed from the v2 hierarchy, else from v1's name=systemd
     * one, which has every unit whatever its accounting. */
    if (v2)
        list_root = v2;
    else if (is_dir(hlm_join(&v1list, base.data, "systemd")))
        list_root = v1list.data;
    if (!list_root) {
        int rc = hlm_col_error(c, -ENODATA, "%s: no cgroup hierarchy with units", base.data);
        hlm_buf_free(&base);
        hlm_buf_free(&probe);
        hlm_buf_free(&unified);
        hlm_buf_free(&v1list);
        return rc;
    }
    svcs_t svcs = {0};
    for (size_t i = 0; i < c->nslices; i++)
        scan(c, &svcs, list_root, c->slices[i], 1);
    if (svcs.n)
        qsort(svcs.v, svcs.n, sizeof *svcs.v, cmp_svc);
    for (size_t i = 0; i < svcs.n; i++)
        measure(c, v2, v1, &svcs.v[i]);
    hlm_family(e, "hl_service_cpu_seconds_total", HLM_COUNTER,
               "CPU time consumed by the service's cgroup, by mode.");
    for (size_t i = 0; i < svcs.n; i++) {
        if (!svcs.v[i].has_cpu)
            continue;
        hlm_sample(e, HLM_KV("mode", "system", "service", svcs.v[i].name), svcs.v[i].system);
        hlm_sample(e, HLM_KV("mode", "user", "service", svcs.v[i].name), svcs.v[i].user);
    }
    hlm_family(e, "hl_service_memory_bytes", HLM_GAUGE,
               "Memory charged to the service's cgroup (memory.current), in bytes.");
    for (size_t i = 0; i < svcs.n; i++)
        if (svcs.v[i].has_mem)
            hlm_sample(e, HLM_KV("service", svcs.v[i].name), svcs.v[i].mem);
    hlm_family(e, "hl_service_memory_limit_bytes", HLM_GAUGE,
               "Memory limit of the service's cgroup (MemoryMax=), in bytes; absent if unlimited.");
    for (size_t i = 0; i < svcs.n; i++)
        if (svcs.v[i].has_limit)
            hlm_sample(e, HLM_KV("service", svcs.v[i].name), svcs.v[i].limit);
    hlm_family(e, "hl_service_tasks", HLM_GAUGE,
               "Tasks (processes and threads) in the service's cgroup.");
    for (size_t i = 0; i < svcs.n; i++)
        if (svcs.v[i].has_tasks)
            hlm_sample(e, HLM_KV("service", svcs.v[i].name), svcs.v[i].tasks);
    for (size_t i = 0; i < svcs.n; i++) {
        free(svcs.v[i].name);
        free(svcs.v[i].rel);
    }
    free(svcs.v);
    hlm_buf_free(&base);
    hlm_buf_free(&probe);
    hlm_buf_free(&unified);
    hlm_buf_free(&v1list);
    return 0;
}
