/* hl-metrics' config: defaults without any config, every key, errors that
 * name file and line, and the node_exporter-style flag overrides. */
#include <errno.h>
#include <string.h>
#include "check.h"
#include "collect.h"
#include "config.h"

static int parse(const char *yaml, const hlm_overrides_t *ov, hlm_config_t *c, hlb_diag_t *d)
{
    hlb_conf_t *conf = hlb_conf_parse("t.yaml", yaml, d);
    CHECK(conf != NULL);
    int rc = hlm_config_parse(hlb_conf_get(conf, "hl-metrics"), ov, c, d);
    hlb_conf_destroy(&conf);
    return rc;
}

static void test_defaults(void)
{
    hlm_config_t c;
    hlb_diag_t d = {0};
    CHECK(hlm_config_parse(NULL, NULL, &c, &d) == 0);
    CHECK(strcmp(c.listen, "127.0.0.1:8081") == 0);
    CHECK(strcmp(c.metrics_path, "/metrics") == 0);
    CHECK(c.interval_ms == 5000);
    CHECK(strcmp(c.procfs, "/proc") == 0 && strcmp(c.sysfs, "/sys") == 0 &&
          strcmp(c.rootfs, "/") == 0);
    CHECK(c.stats_interval_ms == 15000 && c.stats_timeout_ms == 250 && c.max_series == 10000);
    CHECK(c.nth == 4);
    /* the spec's four (2.3.2) */
    CHECK(strcmp(c.th[0].name, "cpu") == 0 && c.th[0].above == 80 && c.th[0].resource == HLM_RES_CPU);
    CHECK(strcmp(c.th[1].name, "memory") == 0 && c.th[1].above == 85);
    CHECK(strcmp(c.th[2].name, "disk") == 0 && c.th[2].above == 90 &&
          strcmp(c.th[2].mountpoint, "/") == 0);
    CHECK(strcmp(c.th[3].name, "load") == 0 && c.th[3].above == 4.0);
    CHECK(c.th[0].for_ms == 60000 && c.th[0].clear_for_ms == 60000 && c.th[0].clear_below == 80);
    CHECK(d.errors == 0);
    hlm_config_free(&c);
}

static void test_full(void)
{
    hlm_config_t c;
    hlb_diag_t d = {0};
    const char *y = "hl-metrics:\n"
                    "  listen: \"[::1]:9999\"\n"
                    "  metrics_path: /m\n"
                    "  interval: 250ms\n"
                    "  paths: {procfs: /host/proc, sysfs: /host/sys, rootfs: /host}\n"
                    "  collectors:\n"
                    "    disable: [pressure, services]\n"
                    "    filesystem: {mount_points_exclude: '^/boot', fs_types_exclude: '^tmpfs$'}\n"
                    "    diskstats: {device_exclude: '^loop'}\n"
                    "    netdev: {device_exclude: '^veth'}\n"
                    "    services: {slices: [system.slice, hl.slice]}\n"
                    "  bus: {stats_interval: 0, stats_timeout: 1s, max_series: 50}\n"
                    "  thresholds:\n"
                    "    cpu: {above: 95, clear_below: 70, for: 5m, clear_for: 30s}\n"
                    "    memory: {enabled: false}\n"
                    "    data-disk: {resource: disk, mountpoint: /var/lib, above: 97.5}\n";
    CHECK_MSG(parse(y, NULL, &c, &d) == 0, "%s", d.text ? d.text : "");
    CHECK(strcmp(c.listen, "[::1]:9999") == 0 && strcmp(c.metrics_path, "/m") == 0);
    CHECK(c.interval_ms == 250);
    CHECK(strcmp(c.rootfs, "/host") == 0);
    CHECK(c.disabled == ((1u << HLM_COL_PRESSURE) | (1u << HLM_COL_SERVICES)));
    CHECK(strcmp(c.fs_types_exclude, "^tmpfs$") == 0 && strcmp(c.net_device_exclude, "^veth") == 0);
    CHECK(c.slices[0] && strcmp(c.slices[1], "hl.slice") == 0 && !c.slices[2]);
    CHECK(c.stats_interval_ms == 0 && c.stats_timeout_ms == 1000 && c.max_series == 50);
    CHECK(c.nth == 4); /* cpu, disk, load, data-disk: memory disabled */
    CHECK(strcmp(c.th[0].name, "cpu") == 0 && c.th[0].above == 95 && c.th[0].clear_below == 70 &&
          c.th[0].for_ms == 300000 && c.th[0].clear_for_ms == 30000);
    CHECK(strcmp(c.th[1].name, "disk") == 0);
    CHECK(strcmp(c.th[3].name, "data-disk") == 0 && c.th[3].resource == HLM_RES_DISK &&
          strcmp(c.th[3].mountpoint, "/var/lib") == 0 && c.th[3].above == 97.5);
    CHECK(hlm_threshold_cfg_equal(&c.th[1], &c.th[1]));
    CHECK(!hlm_threshold_cfg_equal(&c.th[1], &c.th[3]));
    hlm_config_free(&c);
}

static void test_errors(void)
{
    hlm_config_t c;
    hlb_diag_t d = {0};
    const char *y = "hl-metrics:\n"                                   /* 1 */
                    "  listen: localhost\n"                           /* 2 */
                    "  interval: soon\n"                              /* 3 */
                    "  colour: blue\n"                                /* 4 */
                    "  paths: {procfs: relative/proc}\n"              /* 5 */
                    "  collectors:\n"                                 /* 6 */
                    "    disable: [cpu, gpu]\n"                       /* 7 */
                    "    filesystem: {mount_points_exclude: '(('}\n"  /* 8 */
                    "    services: {slices: [system.slice, ../etc]}\n" /* 9 */
                    "  thresholds:\n"                                 /* 10 */
                    "    cpu: {above: 50, clear_below: 60}\n"         /* 11 */
                    "    gpu: {above: 1}\n"                           /* 12 */
                    "    BAD: {resource: cpu, above: 1}\n"            /* 13 */
                    "    load: {above: -1, for: 1x}\n"                /* 14 */
                    "    mem2: {resource: memory, above: 5, mountpoint: /}\n"; /* 15 */
    CHECK(parse(y, NULL, &c, &d) == -EINVAL);
    const char *t = d.text ? d.text : "";
    CHECK_MSG(strstr(t, "t.yaml:2: listen address 'localhost'"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:3: 'interval' must be a duration"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:4: unknown key 'colour'"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:5: 'paths.procfs' must be an absolute path"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:7: unknown collector 'gpu'"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:8: 'filesystem.mount_points_exclude': mount_points_exclude: invalid regular expression"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:9: '../etc' is not a slice name"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:11: threshold 'cpu': 'clear_below' (60) must not be above 'above' (50)"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:12: threshold 'gpu': 'resource' must be"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:13: threshold name 'BAD'"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:14: 'above' must be between"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:14: 'for' must be a duration"), "%s", t);
    CHECK_MSG(strstr(t, "t.yaml:15: threshold 'mem2': 'mountpoint' applies to resource disk only"), "%s", t);
    hlm_config_free(&c);
    hlb_diag_free(&d);
}

static void test_flags(void)
{
    char a0[] = "hl-metrics", a1[] = "--path.procfs=/fx/proc", a2[] = "--path.sysfs",
         a3[] = "/fx/sys", a4[] = "-c", a5[] = "x.yaml", a6[] = "--web.listen-address=127.0.0.1:0",
         a7[] = "--path.rootfsX=1";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, NULL};
    int argc = 8;
    hlm_overrides_t ov = {0};
    CHECK(hlm_flags_extract(&argc, argv, &ov) == 0);
    CHECK(argc == 4 && strcmp(argv[1], "-c") == 0 && strcmp(argv[2], "x.yaml") == 0 &&
          strcmp(argv[3], "--path.rootfsX=1") == 0 && argv[4] == NULL);
    CHECK(strcmp(ov.procfs, "/fx/proc") == 0 && strcmp(ov.sysfs, "/fx/sys") == 0 && !ov.rootfs);
    /* the flags win over the config */
    hlm_config_t c;
    hlb_diag_t d = {0};
    CHECK(parse("hl-metrics:\n  listen: 0.0.0.0:1\n  paths: {procfs: /p, rootfs: /r}\n", &ov, &c,
                &d) == 0);
    CHECK(strcmp(c.listen, "127.0.0.1:0") == 0 && strcmp(c.procfs, "/fx/proc") == 0 &&
          strcmp(c.rootfs, "/r") == 0);
    hlm_config_free(&c);
    char b0[] = "hl-metrics", b1[] = "--path.sysfs";
    char *argv2[] = {b0, b1, NULL};
    argc = 2;
    CHECK(hlm_flags_extract(&argc, argv2, &ov) == -EINVAL);
}

int main(void)
{
    test_defaults();
    test_full();
    test_errors();
    test_flags();
    return check_done();
}
