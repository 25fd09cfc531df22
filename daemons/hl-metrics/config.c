#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect.h"
#include "http.h"
#include <hlbus/confschema.h>

const char hlm_config_help[] =
    "Flags (node_exporter's spellings; they override the config):\n"
    "  --path.procfs DIR  --path.sysfs DIR  --path.rootfs DIR  --web.listen-address ADDR\n"
    "Config section 'hl-metrics' (all optional; see hl-metrics.yaml.example):\n"
    "  listen (127.0.0.1:8081), metrics_path (/metrics), interval (5s),\n"
    "  paths: {procfs, sysfs, rootfs}, collectors: {disable: [..], filesystem: {...},\n"
    "  diskstats: {...}, netdev: {...}, services: {slices: [..]},\n"
    "  textfile: {directories: [..]}},\n"
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
    for (int i = 0; c->textfile_dirs[i]; i++)
        free(c->textfile_dirs[i]);
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

/* ---- the schema: what the file may say ---- */

typedef struct {
    char *name; /* the map key */
    char *resource;
    double above, clear_below; /* -1: not given */
    int64_t for_ms, clear_for_ms; /* clear_for -1: not given */
    char *mountpoint;
    bool enabled;
} th_raw_t;

static void th_init(void *obj, void *ctx)
{
    th_raw_t *t = obj;
    t->above = t->clear_below = -1;
    t->clear_for_ms = -1;
}

static const hlb_conf_key_t th_keys[] = {
    HLB_KEY_STR(th_raw_t, resource, NULL, 0), /* default: the built-in of that name */
    HLB_KEY_DOUBLE(th_raw_t, above, NULL, 0, 1e6, 0),
    HLB_KEY_DOUBLE(th_raw_t, clear_below, NULL, 0, 1e6, 0), /* default: above */
    HLB_KEY("for", HLB_KIND_DURATION, th_raw_t, for_ms, .def = "60s", .min = 0, .max = 86400000),
    HLB_KEY("clear_for", HLB_KIND_DURATION, th_raw_t, clear_for_ms, .min = 0, .max = 86400000),
    HLB_KEY_STR(th_raw_t, mountpoint, NULL, 0), /* disk only; default "/" */
    HLB_KEY_BOOL(th_raw_t, enabled, "true", 0),
    {0}};
static const hlb_conf_table_t th_table = {.name = "threshold", .size = sizeof(th_raw_t),
                                          .keys = th_keys, .init = th_init,
                                          .name_offset = offsetof(th_raw_t, name),
                                          .has_name = true};

typedef struct {
    char *procfs, *sysfs, *rootfs;
} paths_raw_t;
static const hlb_conf_key_t paths_keys[] = {
    HLB_KEY_STR(paths_raw_t, procfs, "/proc", 0),
    HLB_KEY_STR(paths_raw_t, sysfs, "/sys", 0),
    HLB_KEY_STR(paths_raw_t, rootfs, "/", 0),
    {0}};
static const hlb_conf_table_t paths_table = {.name = "paths", .size = sizeof(paths_raw_t), .keys = paths_keys};

typedef struct {
    char *mount_points_exclude, *fs_types_exclude;
} fs_raw_t;
static const hlb_conf_key_t fs_keys[] = {
    HLB_KEY_STR(fs_raw_t, mount_points_exclude, NULL, 0), /* NULL: the collector's default */
    HLB_KEY_STR(fs_raw_t, fs_types_exclude, NULL, 0),
    {0}};
static const hlb_conf_table_t fs_table = {.name = "filesystem", .size = sizeof(fs_raw_t), .keys = fs_keys};

typedef struct {
    char *device_exclude;
} dev_raw_t;
static const hlb_conf_key_t dev_keys[] = {HLB_KEY_STR(dev_raw_t, device_exclude, NULL, 0), {0}};
static const hlb_conf_table_t dev_table = {.name = "devices", .size = sizeof(dev_raw_t), .keys = dev_keys};

typedef struct {
    char **slices;
} svc_raw_t;
static const hlb_conf_key_t svc_keys[] = {HLB_KEY_STRV(svc_raw_t, slices, NULL, HLM_MAX_SLICES, 0),
                                          {0}};
static const hlb_conf_table_t svc_table = {.name = "services", .size = sizeof(svc_raw_t), .keys = svc_keys};

typedef struct {
    char **directories;
} tf_raw_t;
static const hlb_conf_key_t tf_keys[] = {
    HLB_KEY_STRV(tf_raw_t, directories, NULL, HLM_MAX_TEXTFILE_DIRS, 0), {0}};
static const hlb_conf_table_t tf_table = {.name = "textfile", .size = sizeof(tf_raw_t), .keys = tf_keys};

typedef struct {
    char **disable;
    fs_raw_t filesystem;
    dev_raw_t diskstats, netdev;
    svc_raw_t services;
    tf_raw_t textfile;
} cols_raw_t;
static const hlb_conf_key_t cols_keys[] = {
    HLB_KEY_STRV(cols_raw_t, disable, NULL, 0, 0),
    HLB_KEY_TABLE(cols_raw_t, filesystem, &fs_table, 0),
    HLB_KEY_TABLE(cols_raw_t, diskstats, &dev_table, 0),
    HLB_KEY_TABLE(cols_raw_t, netdev, &dev_table, 0),
    HLB_KEY_TABLE(cols_raw_t, services, &svc_table, 0),
    HLB_KEY_TABLE(cols_raw_t, textfile, &tf_table, 0),
    {0}};
static const hlb_conf_table_t cols_table = {.name = "collectors", .size = sizeof(cols_raw_t), .keys = cols_keys};

typedef struct {
    int64_t stats_interval_ms, stats_timeout_ms, max_series;
} bus_raw_t;
static const hlb_conf_key_t bus_keys[] = {
    /* 0: never ask hl-bus */
    HLB_KEY("stats_interval", HLB_KIND_DURATION, bus_raw_t, stats_interval_ms, .def = "15s",
            .min = 0, .max = 3600000),
    HLB_KEY("stats_timeout", HLB_KIND_DURATION, bus_raw_t, stats_timeout_ms, .def = "250ms",
            .min = 10, .max = 10000),
    HLB_KEY_INT(bus_raw_t, max_series, "10000", 10, 1000000, 0),
    {0}};
static const hlb_conf_table_t bus_table = {.name = "bus", .size = sizeof(bus_raw_t), .keys = bus_keys};

typedef struct {
    char *listen, *metrics_path;
    int64_t interval_ms;
    paths_raw_t paths;
    cols_raw_t collectors;
    bus_raw_t bus;
    hlb_conf_vec_t thresholds; /* th_raw_t */
} metrics_raw_t;
static const hlb_conf_key_t metrics_keys[] = {
    HLB_KEY_STR(metrics_raw_t, listen, HLM_DEFAULT_LISTEN, 0),
    HLB_KEY_STR(metrics_raw_t, metrics_path, "/metrics", 0),
    HLB_KEY("interval", HLB_KIND_DURATION, metrics_raw_t, interval_ms, .def = "5s", .min = 100,
            .max = 3600000),
    HLB_KEY_TABLE(metrics_raw_t, paths, &paths_table, 0),
    HLB_KEY_TABLE(metrics_raw_t, collectors, &cols_table, 0),
    HLB_KEY_TABLE(metrics_raw_t, bus, &bus_table, 0),
    HLB_KEY_DICT(metrics_raw_t, thresholds, &th_table, 0, 0),
    {0}};
static const hlb_conf_table_t metrics_table = {.name = "hl-metrics", .size = sizeof(metrics_raw_t),
                                               .keys = metrics_keys};

/* ---- from what the file says to what the daemon runs ---- */

/* One threshold: RAW (NULL: a built-in the file does not mention) at NODE. */
static void add_threshold(const th_raw_t *raw, const hlb_conf_t *node, const char *name,
                          hlm_config_t *out, hlb_diag_t *d)
{
    th_raw_t implicit;
    if (!raw) {
        hlb_conf_schema_parse(&th_table, NULL, &implicit, NULL, d);
        raw = &implicit;
    }
    if (!name_ok(name)) {
        hlb_diag_add(d, node, "threshold name '%s' must be 1-63 of [a-z0-9_-]", name);
        goto done;
    }
    int def = -1;
    for (size_t i = 0; i < sizeof default_th / sizeof default_th[0]; i++)
        if (strcmp(default_th[i].name, name) == 0)
            def = (int)i;
    const char *res_s = raw->resource ? raw->resource
                        : def >= 0    ? hlm_resource_name(default_th[def].res)
                                      : NULL;
    int res = res_s ? hlm_resource_parse(res_s) : -EINVAL;
    const hlb_conf_t *rn = hlb_conf_get(node, "resource");
    if (res < 0) {
        hlb_diag_add(d, rn ? rn : node,
                     "threshold '%s': 'resource' must be cpu, memory, disk or load", name);
        goto done;
    }
    double max = res == HLM_RES_LOAD ? 1e6 : 100.0;
    double above = raw->above >= 0 ? raw->above : def >= 0 ? default_th[def].above : -1;
    if (above < 0 && !hlb_conf_get(node, "above")) {
        hlb_diag_add(d, node, "threshold '%s' needs 'above'", name);
        goto done;
    }
    if (above > max)
        hlb_diag_add(d, hlb_conf_get(node, "above"), "'above' must be between 0 and %g, not %g",
                     max, above);
    double clear_below = raw->clear_below >= 0 ? raw->clear_below : above;
    if (clear_below > max)
        hlb_diag_add(d, hlb_conf_get(node, "clear_below"),
                     "'clear_below' must be between 0 and %g, not %g", max, clear_below);
    if (clear_below > above)
        hlb_diag_add(d, hlb_conf_get(node, "clear_below"),
                     "threshold '%s': 'clear_below' (%g) must not be above 'above' (%g)", name,
                     clear_below, above);
    const char *mp = raw->mountpoint ? raw->mountpoint : res == HLM_RES_DISK ? "/" : NULL;
    if (mp && res != HLM_RES_DISK)
        hlb_diag_add(d, hlb_conf_get(node, "mountpoint"),
                     "threshold '%s': 'mountpoint' applies to resource disk only", name);
    else if (mp && mp[0] != '/')
        hlb_diag_add(d, hlb_conf_get(node, "mountpoint"),
                     "threshold '%s': 'mountpoint' must be an absolute path", name);
    if (!raw->enabled)
        goto done;
    if (out->nth >= HLM_MAX_THRESHOLDS) {
        hlb_diag_add(d, node, "at most %d thresholds", HLM_MAX_THRESHOLDS);
        goto done;
    }
    hlm_threshold_cfg_t *t = &out->th[out->nth++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->resource = (hlm_resource_t)res;
    t->above = above;
    t->clear_below = clear_below;
    t->for_ms = raw->for_ms;
    t->clear_for_ms = raw->clear_for_ms >= 0 ? raw->clear_for_ms : raw->for_ms;
    t->mountpoint = res == HLM_RES_DISK ? dup_or_null(mp) : NULL;
done:
    if (raw == &implicit)
        hlb_conf_schema_free(&th_table, &implicit);
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
    metrics_raw_t raw;
    hlb_conf_schema_parse(&metrics_table, s, &raw, NULL, d);

    out->listen = dup_or_null(ov && ov->listen ? ov->listen : raw.listen);
    struct sockaddr_storage ss;
    socklen_t sl;
    char *err = NULL;
    if (hlm_parse_listen(out->listen, &ss, &sl, &err) < 0) {
        hlb_diag_add(d, hlb_conf_get(s, "listen") ? hlb_conf_get(s, "listen") : s, "%s", err);
        free(err);
    }
    out->metrics_path = dup_or_null(raw.metrics_path);
    if (out->metrics_path[0] != '/' ||
        strcspn(out->metrics_path, "?# \t") != strlen(out->metrics_path))
        hlb_diag_add(d, hlb_conf_get(s, "metrics_path"),
                     "'metrics_path' must be an absolute URL path like /metrics");
    out->interval_ms = raw.interval_ms;

    const hlb_conf_t *paths = hlb_conf_get(s, "paths");
    static const char *const path_keys[] = {"procfs", "sysfs", "rootfs"};
    const char *const ovp[] = {ov ? ov->procfs : NULL, ov ? ov->sysfs : NULL,
                               ov ? ov->rootfs : NULL};
    const char *const rawp[] = {raw.paths.procfs, raw.paths.sysfs, raw.paths.rootfs};
    char **dst[] = {&out->procfs, &out->sysfs, &out->rootfs};
    for (int i = 0; i < 3; i++) {
        *dst[i] = dup_or_null(ovp[i] ? ovp[i] : rawp[i]);
        if (!ovp[i] && (*dst[i])[0] != '/')
            hlb_diag_add(d, hlb_conf_get(paths, path_keys[i]),
                         "'paths.%s' must be an absolute path, not '%s'", path_keys[i], *dst[i]);
    }

    const hlb_conf_t *cols = hlb_conf_get(s, "collectors");
    const hlb_conf_t *dis = hlb_conf_get(cols, "disable");
    for (size_t i = 0; raw.collectors.disable && raw.collectors.disable[i]; i++) {
        const char *n = raw.collectors.disable[i];
        int id = hlm_collect_lookup(n);
        if (id < 0)
            hlb_diag_add(d, hlb_conf_at(dis, i),
                         "unknown collector '%s' (cpu, stat, meminfo, loadavg, pressure, vmstat, "
                         "filesystem, netdev, netclass, diskstats, services, textfile)",
                         n);
        else
            out->disabled |= 1u << id;
    }
    out->mount_points_exclude = dup_or_null(raw.collectors.filesystem.mount_points_exclude);
    out->fs_types_exclude = dup_or_null(raw.collectors.filesystem.fs_types_exclude);
    out->disk_device_exclude = dup_or_null(raw.collectors.diskstats.device_exclude);
    out->net_device_exclude = dup_or_null(raw.collectors.netdev.device_exclude);
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
    char **slices = raw.collectors.services.slices;
    for (size_t i = 0, n = 0; slices && slices[i]; i++) {
        const char *v = slices[i];
        size_t vl = strlen(v);
        if (vl < 7 || strcmp(v + vl - 6, ".slice") != 0 || strstr(v, "..") || v[0] == '/')
            hlb_diag_add(d, hlb_conf_at(sl_node, i), "'%s' is not a slice name (like system.slice)",
                         v);
        else
            out->slices[n++] = dup_or_null(v);
    }
    const hlb_conf_t *tf_node = hlb_conf_get(cols, "textfile.directories");
    char **tdirs = raw.collectors.textfile.directories;
    for (size_t i = 0, n = 0; tdirs && tdirs[i]; i++) {
        if (tdirs[i][0] != '/')
            hlb_diag_add(d, hlb_conf_at(tf_node, i), "textfile directory '%s' must be absolute",
                         tdirs[i]);
        else
            out->textfile_dirs[n++] = dup_or_null(tdirs[i]);
    }

    out->stats_interval_ms = raw.bus.stats_interval_ms;
    out->stats_timeout_ms = raw.bus.stats_timeout_ms;
    out->max_series = raw.bus.max_series;

    /* The built-ins first (as the file overrides or disables them), then the
     * rest in file order. */
    const hlb_conf_t *ths = hlb_conf_get(s, "thresholds");
    const th_raw_t *th = raw.thresholds.items;
    for (size_t i = 0; i < sizeof default_th / sizeof default_th[0]; i++) {
        const th_raw_t *found = NULL;
        for (size_t k = 0; k < raw.thresholds.n && !found; k++)
            if (strcmp(th[k].name, default_th[i].name) == 0)
                found = &th[k];
        add_threshold(found, found ? hlb_conf_get(ths, default_th[i].name) : NULL,
                      default_th[i].name, out, d);
    }
    for (size_t k = 0; k < raw.thresholds.n; k++) {
        bool is_default = false;
        for (size_t i = 0; i < sizeof default_th / sizeof default_th[0]; i++)
            is_default |= strcmp(th[k].name, default_th[i].name) == 0;
        if (!is_default)
            add_threshold(&th[k], hlb_conf_at(ths, k), th[k].name, out, d);
    }
    hlb_conf_schema_free(&metrics_table, &raw);
    return d->errors > errors ? -EINVAL : 0;
}
