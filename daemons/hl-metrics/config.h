/* hl-metrics' configuration: the "hl-metrics" section of hl.yaml, and the
 * node_exporter-style flags that override it. Every setting has a built-in
 * default, so the daemon runs sanely without any config. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <hlbus/conf.h>
#include "threshold.h"

#define HLM_DEFAULT_LISTEN "127.0.0.1:8081"
#define HLM_MAX_THRESHOLDS 32
#define HLM_MAX_SLICES 16
#define HLM_MAX_TEXTFILE_DIRS 8

typedef struct hlm_config {
    char *listen;
    char *metrics_path;
    int64_t interval_ms;
    char *procfs, *sysfs, *rootfs;
    unsigned disabled; /* collectors, 1u << hlm_col_id_t */
    /* NULL: the collector's default */
    char *mount_points_exclude, *fs_types_exclude, *disk_device_exclude, *net_device_exclude;
    char *slices[HLM_MAX_SLICES + 1]; /* NULL-terminated; empty: default */
    char *textfile_dirs[HLM_MAX_TEXTFILE_DIRS + 1]; /* NULL-terminated; empty: none */
    int64_t stats_interval_ms; /* 0: never ask hl-bus */
    int64_t stats_timeout_ms;
    int64_t max_series;
    hlm_threshold_cfg_t th[HLM_MAX_THRESHOLDS];
    size_t nth;
} hlm_config_t;

/* Flags that take precedence over the config file (NULL: not given). */
typedef struct hlm_overrides {
    const char *procfs, *sysfs, *rootfs, *listen;
} hlm_overrides_t;

/* Removes --path.procfs, --path.sysfs, --path.rootfs and
 * --web.listen-address (as "--flag=V" or "--flag V") from ARGV, so that the
 * daemon runtime sees only its own flags. 0, or -EINVAL (message on
 * stderr) for a flag without its value. */
int hlm_flags_extract(int *argc, char **argv, hlm_overrides_t *o);
/* Help text for the flags above and the config keys. */
extern const char hlm_config_help[];

/* Parses SECTION (may be NULL: all defaults) into OUT, then applies OV.
 * Every problem goes to DIAG with its file and line; -EINVAL if any. */
int hlm_config_parse(const hlb_conf_t *section, const hlm_overrides_t *ov, hlm_config_t *out,
                     hlb_diag_t *diag);
void hlm_config_free(hlm_config_t *c);
/* Whether two thresholds are configured identically (their state can
 * carry over a reload). */
bool hlm_threshold_cfg_equal(const hlm_threshold_cfg_t *a, const hlm_threshold_cfg_t *b);
