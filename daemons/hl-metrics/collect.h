/* The system collectors: CPU, /proc/stat counters, memory, load, pressure,
 * vmstat, filesystems, network devices, disks, and per-service cgroups.
 * Each writes its families into an exposition; where a metric means the same
 * as one of node_exporter's it has node_exporter's name, labels and help, so
 * dashboards and alert rules written for node_exporter work unchanged.
 *
 * All paths are relative to configurable roots (node_exporter's
 * --path.procfs, --path.sysfs and --path.rootfs), so tests run the
 * collectors on fixture trees. Nothing here needs libhlbus. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "expo.h"

/* The collectors, in the order they run and write. */
typedef enum {
    HLM_COL_CPU,
    HLM_COL_STAT,
    HLM_COL_MEMINFO,
    HLM_COL_LOADAVG,
    HLM_COL_PRESSURE,
    HLM_COL_VMSTAT,
    HLM_COL_FILESYSTEM,
    HLM_COL_NETDEV,
    HLM_COL_NETCLASS,
    HLM_COL_DISKSTATS,
    HLM_COL_SERVICES,
    HLM_COL_TEXTFILE, /* runs only with textfile_dirs */
    HLM_COL_COUNT
} hlm_col_id_t;

/* node_exporter's defaults (POSIX ERE spellings), plus the network file
 * systems: statvfs() on a dead NFS server blocks, and the collectors run in
 * the daemon's only loop. */
#define HLM_DEFAULT_MOUNT_POINTS_EXCLUDE \
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
#define HLM_DEFAULT_FS_TYPES_EXCLUDE                                                         \
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|" \
    "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|"       \
    "squashfs|sysfs|tracefs|nfs|nfs4|cifs|smb3|ceph|glusterfs|fuse\\.sshfs)$"
#define HLM_DEFAULT_DISK_DEVICE_EXCLUDE "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme[0-9]+n[0-9]+p)[0-9]+$"

typedef struct hlm_collect_opts {
    const char *procfs; /* NULL: /proc */
    const char *sysfs;  /* NULL: /sys */
    const char *rootfs; /* NULL: / */
    /* Extended regular expressions; NULL: the defaults above; "" excludes
     * nothing. */
    const char *mount_points_exclude;
    const char *fs_types_exclude;
    const char *disk_device_exclude;
    const char *net_device_exclude; /* NULL: none */
    /* Slices whose *.service children are the services measured from
     * cgroups; NULL-terminated; NULL: {"system.slice", NULL}. */
    const char *const *cgroup_slices;
    /* Directories whose *.prom files are served (the textfile collector);
     * NULL-terminated; NULL or empty: that collector does not run. */
    const char *const *textfile_dirs;
    /* Bit (1u << hlm_col_id_t) set: that collector does not run. */
    unsigned disabled;
} hlm_collect_opts_t;

/* What the thresholds need, from the last run. */
typedef struct hlm_sysinfo {
    bool cpu_ok;
    uint64_t cpu_total; /* all modes but guest, in clock ticks (guest is in user) */
    uint64_t cpu_idle;  /* idle + iowait */
    bool mem_ok;
    double mem_total;     /* bytes */
    double mem_available; /* bytes */
    bool load_ok;
    double load1;
} hlm_sysinfo_t;

typedef struct hlm_collect hlm_collect_t;

/* NULL on a bad regular expression (*ERR says which, caller frees) or out
 * of memory. */
hlm_collect_t *hlm_collect_new(const hlm_collect_opts_t *o, char **err);
void hlm_collect_destroy(hlm_collect_t **self_p);
/* Runs every enabled collector into E, then node_scrape_collector_*.
 * Returns how many collectors failed (each one's error is kept). */
int hlm_collect_run(hlm_collect_t *c, hlm_expo_t *e);
const hlm_sysinfo_t *hlm_collect_sysinfo(const hlm_collect_t *c);
/* "cpu", "meminfo", ... */
const char *hlm_collect_name(hlm_col_id_t id);
/* The collector's id by name; -ENOENT if unknown. */
int hlm_collect_lookup(const char *name);
/* The last run's error of collector ID ("" if it succeeded or did not run),
 * and whether it is new since the previous run (for logging once). */
const char *hlm_collect_error(const hlm_collect_t *c, hlm_col_id_t id, bool *changed);
const char *hlm_collect_rootfs(const hlm_collect_t *c);
