#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect.h"
#include "http.h"

const char hlm_config_help[] =
    "Flags (node_exporter's spellings; they override the config):\n"
    "  --path.procfs DIR  --path.sysfs DIR  --path.rootfs DIR  --web.listen-address ADDR\n"
    "Config section 'hl-metrics' (all optional; see hl-metrics.yaml.example):\n"
    "  listen (127.0.0.1:8081), metrics_path (/metrics), interval (5s),\n"
    "  paths: {procfs, sysfs, rootfs}, collectors: {disable: [..], filesystem: {...},\n"
    "  diskstats: {...}, netdev: {...}, services: {slices: [..]}},\n"
    "  bus: {stats_interval (15s), stats_timeout (250ms), max_series (10000)},\n"
    "  thresholds: {cpu|memory|disk|load|NAME: {resource, above, clear_below, for, clear_for,\n"
    "  mountpoint, enabled}}";

int hlm_flags_extract(int *argc, char **argv, hlm_overrides_t *o)
{
    static const char *const names[] = {"--path.procfs", "--path.sysfs", "--path.rootfs",
                                        "--web.listen-address"};
    const char **dst[] = {&o->procfs, &o->sysfs, &o->rootfs, &o->listen};
    int w = 1;
    for (int r = 1; r < *argc; r++) {
        if (strcmp(argv[r], "--") == 0) {
            while (r < *argc)
                argv[w++] = argv[r++];
            break;
        }
        bool taken = false;
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !taken; i++) {
            size_t nl = strlen(names[i]);
            if (strncmp(argv[r], names[i], nl) != 0)
                continue;
            if (argv[r][nl] == '=') {
                *dst[i] = argv[r] + nl + 1;
                taken = true;
            } else if (argv[r][nl] == '\0') {
                if (r + 1 >= *argc) {
                    fprintf(stderr, "hl-metrics: %s needs a value\n", names[i]);
                    return -EINVAL;
                }
                *dst[i] = argv[++r];
                taken = true;
            }
        }
        if (!taken)
            argv[w++] = argv[r];
    }
    argv[w] = NULL;
    *argc = w;
    return 0;
}

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

void hlm_config_free(hlm_config_t *c)
{
    free(c->listen);
    free(c->metrics_path);
    free(c->procfs);
    free(c->sysfs);
    free(c->rootfs);
    free(c->mount_points_exclude);
    free(c->fs_types_exclude);
    free(c->disk_device_exclude);
    free(c->net_device_exclude);
    for (int i = 0; c->slices[i]; i++)
        free(c->slices[i]);
    for (size_t i = 0; i < c->nth; i++)
        free(c->th[i].mountpoint);
    memset(c, 0, sizeof *c);
}

bool hlm_threshold_cfg_equal(const hlm_threshold_cfg_t *a, const hlm_threshold_cfg_t *b)
{
    const char *ma = a->mountpoint ? a->mountpoint : "", *mb = b->mountpoint ? b->mountpoint : "";
    return strcmp(a->name, b->name) == 0 && a->resource == b->resource && a->above == b->above &&
           a->clear_below == b->clear_below && a->for_ms == b->for_ms &&
           a->clear_for_ms == b->clear_for_ms && strcmp(ma, mb) == 0;
}

/* An optional string setting, copied; NULL when absent. */
static char *opt_str(const hlb_conf_t *node, const char *path, hlb_diag_t *d)
{
    const char *s = NULL;
    hlb_conf_str(node, path, NULL, &s, d);
    return dup_or_null(s);
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof ((hlm_threshold_cfg_t *)0)->name)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* The spec's four, on by default. */
static const struct {
    const char *name;
    hlm_resource_t res;
    double above;
} default_th[] = {
    {"cpu", HLM_RES_CPU, 80.0},
    {"memory", HLM_RES_MEMORY, 85.0},
    {"disk", HLM_RES_DISK, 90.0},
    {"load", HLM_RES_LOAD, 4.0},
};
#define DEFAULT_FOR_MS 60000

static void parse_threshold(const hlb_conf_t *node, const char *name, hlm_config_t *out,
                            hlb_diag_t *d)
{
    static const char *const keys[] = {"resource", "above", "clear_below", "for", "clear_for",
                                       "mountpoint", "enabled", NULL};
    hlb_conf_check_keys(node, keys, d);
    if (!name_ok(name)) {
        hlb_diag_add(d, node, "threshold name '%s' must be 1-63 of [a-z0-9_-]", name);
        return;
    }
    int def = -1;
    for (size_t i = 0; i < sizeof default_th / sizeof default_th[0]; i++)
        if (strcmp(default_th[i].name, name) == 0)
            def = (int)i;
    const char *res_s = NULL;
    hlb_conf_str(node, "resource", def >= 0 ? hlm_resource_name(default_th[def].res) : NULL,
                 &res_s, d);
    int res = res_s ? hlm_resource_parse(res_s) : -EINVAL;
    if (res < 0) {
        hlb_diag_add(d, hlb_conf_get(node, "resource") ? hlb_conf_get(node, "resource") : node,
                     "threshold '%s': 'resource' must be cpu, memory, disk or load", name);
        return;
    }
    bool enabled;
    hlb_conf_bool(node, "enabled", true, &enabled, d);
    double max = res == HLM_RES_LOAD ? 1e6 : 100.0;
    double above, clear_below;
    hlb_conf_double(node, "above", def >= 0 ? default_th[def].above : -1, 0, max, &above, d);
    if (above < 0) {
        hlb_diag_add(d, node, "threshold '%s' needs 'above'", name);
        return;
    }
    hlb_conf_double(node, "clear_below", above, 0, max, &clear_below, d);
    if (clear_below > above)
        hlb_diag_add(d, hlb_conf_get(node, "clear_below"),
                     "threshold '%s': 'clear_below' (%g) must not be above 'above' (%g)", name,
                     clear_below, above);
    int64_t for_ms, clear_ms;
    hlb_conf_duration_ms(node, "for", DEFAULT_FOR_MS, 0, 24 * 3600 * 1000, &for_ms, d);
    hlb_conf_duration_ms(node, "clear_for", for_ms, 0, 24 * 3600 * 1000, &clear_ms, d);
    const char *mp = NULL;
    hlb_conf_str(node, "mountpoint", res == HLM_RES_DISK ? "/" : NULL, &mp, d);
    if (mp && res != HLM_RES_DISK)
        hlb_diag_add(d, hlb_conf_get(node, "mountpoint"),
                     "threshold '%s': 'mountpoint' applies to resource disk only", name);
    else if (mp && mp[0] != '/')
        hlb_diag_add(d, hlb_conf_get(node, "mountpoint"),
                     "threshold '%s': 'mountpoint' must be an absolute path", name);
    if (!enabled)
        return;
    if (out->nth >= HLM_MAX_THRESHOLDS) {
        hlb_diag_add(d, node, "at most %d thresholds", HLM_MAX_THRESHOLDS);
        return;
    }
    hlm_threshold_cfg_t *t = &out->th[out->nth++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->resource = (hlm_resource_t)res;
    t->above = above;
    t->clear_below = clear_below;
    t->for_ms = for_ms;
    t->clear_for_ms = clear_ms;
    t->mountpoint = res == HLM_RES_DISK ? dup_or_null(mp) : NULL;
}

static int check_regex(const hlb_conf_t *section, const char *path, const char *re,
                       hlm_collect_opts_t *o, const char **slot, hlb_diag_t *d)
{
    if (!re)
        return 0;
    *slot = re;
    char *err = NULL;
    hlm_collect_t *c = hlm_collect_new(o, &err);
    *slot = NULL;
    if (c) {
        hlm_collect_destroy(&c);
        return 0;
    }
    hlb_diag_add(d, hlb_conf_get(section, path), "'%s': %s", path, err ? err : "invalid");
    free(err);
    return -EINVAL;
}

int hlm_config_parse(const hlb_conf_t *s, const hlm_overrides_t *ov, hlm_config_t *out,
                     hlb_diag_t *d)
{
    memset(out, 0, sizeof *out);
    int errors = d->errors;
    static const char *const top[] = {"listen", "metrics_path", "interval", "paths",
                                      "collectors", "bus", "thresholds", NULL};
    hlb_conf_check_keys(s, top, d);

    out->listen = opt_str(s, "listen", d);
    if (ov && ov->listen) {
        free(out->listen);
        out->listen = dup_or_null(ov->listen);
    }
    if (!out->listen)
        out->listen = dup_or_null(HLM_DEFAULT_LISTEN);
    struct sockaddr_storage ss;
    socklen_t sl;
    char *err = NULL;
    if (hlm_parse_listen(out->listen, &ss, &sl, &err) < 0) {
        hlb_diag_add(d, hlb_conf_get(s, "listen") ? hlb_conf_get(s, "listen") : s, "%s", err);
        free(err);
    }
    out->metrics_path = opt_str(s, "metrics_path", d);
    if (!out->metrics_path)
        out->metrics_path = dup_or_null("/metrics");
    if (out->metrics_path[0] != '/' || strcspn(out->metrics_path, "?# \t") != strlen(out->metrics_path))
        hlb_diag_add(d, hlb_conf_get(s, "metrics_path"),
                     "'metrics_path' must be an absolute URL path like /metrics");
    hlb_conf_duration_ms(s, "interval", 5000, 100, 3600 * 1000, &out->interval_ms, d);

    const hlb_conf_t *paths = hlb_conf_get(s, "paths");
    static const char *const path_keys[] = {"procfs", "sysfs", "rootfs", NULL};
    hlb_conf_check_keys(paths, path_keys, d);
    out->procfs = opt_str(paths, "procfs", d);
    out->sysfs = opt_str(paths, "sysfs", d);
    out->rootfs = opt_str(paths, "rootfs", d);
    const char *const ovp[] = {ov ? ov->procfs : NULL, ov ? ov->sysfs : NULL,
                               ov ? ov->rootfs : NULL};
    char **dst[] = {&out->procfs, &out->sysfs, &out->rootfs};
    static const char *const defp[] = {"/proc", "/sys", "/"};
    for (int i = 0; i < 3; i++) {
        if (ovp[i]) {
            free(*dst[i]);
            *dst[i] = dup_or_null(ovp[i]);
        }
        if (!*dst[i])
            *dst[i] = dup_or_null(defp[i]);
        else if ((*dst[i])[0] != '/')
            hlb_diag_add(d, hlb_conf_get(paths, path_keys[i]),
                         "'paths.%s' must be an absolute path, not '%s'", path_keys[i], *dst[i]);
    }

    const hlb_conf_t *cols = hlb_conf_get(s, "collectors");
    static const char *const col_keys[] = {"disable", "filesystem", "diskstats", "netdev",
                                           "services", NULL};
    hlb_conf_check_keys(cols, col_keys, d);
    const hlb_conf_t *dis = hlb_conf_get(cols, "disable");
    if (dis && hlb_conf_kind(dis) != HLB_CONF_SEQ)
        hlb_diag_add(d, dis, "'collectors.disable' must be a list of collector names");
    for (size_t i = 0; dis && hlb_conf_kind(dis) == HLB_CONF_SEQ && i < hlb_conf_count(dis); i++) {
        const char *n = hlb_conf_scalar(hlb_conf_at(dis, i));
        int id = n ? hlm_collect_lookup(n) : -ENOENT;
        if (id < 0)
            hlb_diag_add(d, hlb_conf_at(dis, i),
                         "unknown collector '%s' (cpu, stat, meminfo, loadavg, pressure, vmstat, "
                         "filesystem, netdev, netclass, diskstats, services)",
                         n ? n : "?");
        else
            out->disabled |= 1u << id;
    }
    static const char *const fs_keys[] = {"mount_points_exclude", "fs_types_exclude", NULL};
    static const char *const dev_keys[] = {"device_exclude", NULL};
    static const char *const svc_keys[] = {"slices", NULL};
    hlb_conf_check_keys(hlb_conf_get(cols, "filesystem"), fs_keys, d);
    hlb_conf_check_keys(hlb_conf_get(cols, "diskstats"), dev_keys, d);
    hlb_conf_check_keys(hlb_conf_get(cols, "netdev"), dev_keys, d);
    hlb_conf_check_keys(hlb_conf_get(cols, "services"), svc_keys, d);
    out->mount_points_exclude = opt_str(cols, "filesystem.mount_points_exclude", d);
    out->fs_types_exclude = opt_str(cols, "filesystem.fs_types_exclude", d);
    out->disk_device_exclude = opt_str(cols, "diskstats.device_exclude", d);
    out->net_device_exclude = opt_str(cols, "netdev.device_exclude", d);
    hlm_collect_opts_t probe = {0};
    check_regex(cols, "filesystem.mount_points_exclude", out->mount_points_exclude, &probe,
                &probe.mount_points_exclude, d);
    check_regex(cols, "filesystem.fs_types_exclude", out->fs_types_exclude, &probe,
                &probe.fs_types_exclude, d);
    check_regex(cols, "diskstats.device_exclude", out->disk_device_exclude, &probe,
                &probe.disk_device_exclude, d);
    check_regex(cols, "netdev.device_exclude", out->net_device_exclude, &probe,
                &probe.net_device_exclude, d);
    const hlb_conf_t *sl_node = hlb_conf_get(cols, "services.slices");
    if (sl_node && (hlb_conf_kind(sl_node) != HLB_CONF_SEQ || hlb_conf_count(sl_node) > HLM_MAX_SLICES))
        hlb_diag_add(d, sl_node, "'services.slices' must be a list of at most %d slice names",
                     HLM_MAX_SLICES);
    else
        for (size_t i = 0, n = 0; sl_node && i < hlb_conf_count(sl_node); i++) {
            const char *v = hlb_conf_scalar(hlb_conf_at(sl_node, i));
            size_t vl = v ? strlen(v) : 0;
            if (vl < 7 || strcmp(v + vl - 6, ".slice") != 0 || strstr(v, "..") || v[0] == '/')
                hlb_diag_add(d, hlb_conf_at(sl_node, i),
                             "'%s' is not a slice name (like system.slice)", v ? v : "?");
            else
                out->slices[n++] = dup_or_null(v);
        }

    const hlb_conf_t *bus = hlb_conf_get(s, "bus");
    static const char *const bus_keys[] = {"stats_interval", "stats_timeout", "max_series", NULL};
    hlb_conf_check_keys(bus, bus_keys, d);
    hlb_conf_duration_ms(bus, "stats_interval", 15000, 0, 3600 * 1000, &out->stats_interval_ms, d);
    hlb_conf_duration_ms(bus, "stats_timeout", 250, 10, 10000, &out->stats_timeout_ms, d);
    hlb_conf_int(bus, "max_series", 10000, 10, 1000000, &out->max_series, d);

    const hlb_conf_t *ths = hlb_conf_get(s, "thresholds");
    if (ths && hlb_conf_kind(ths) != HLB_CONF_MAP)
        hlb_diag_add(d, ths, "'thresholds' must be a map of name: {above, for, ...}");
    /* The defaults first (unless overridden or disabled there), then the
     * rest in file order. */
    for (size_t i = 0; i < sizeof default_th / sizeof default_th[0]; i++) {
        const hlb_conf_t *n = ths && hlb_conf_kind(ths) == HLB_CONF_MAP
                                  ? hlb_conf_get(ths, default_th[i].name)
                                  : NULL;
        parse_threshold(n, default_th[i].name, out, d);
    }
    for (size_t i = 0; ths && hlb_conf_kind(ths) == HLB_CONF_MAP && i < hlb_conf_count(ths); i++) {
        const hlb_conf_t *n = hlb_conf_at(ths, i);
        bool is_default = false;
        for (size_t k = 0; k < sizeof default_th / sizeof default_th[0]; k++)
            is_default |= strcmp(hlb_conf_key(n), default_th[k].name) == 0;
        if (!is_default)
            parse_threshold(n, hlb_conf_key(n), out, d);
    }
    return d->errors > errors ? -EINVAL : 0;
}
