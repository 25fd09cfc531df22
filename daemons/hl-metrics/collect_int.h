/* Internals shared by the collectors (col_*.c) and their framework. */
#pragma once
#include <regex.h>
#include "buf.h"
#include "collect.h"
#include "sysfile.h"

struct hlm_col_state {
    char *err;      /* this run's first error, or NULL */
    char *prev_err; /* the previous run's, to tell when it changed */
    bool ran;
    bool ok;
    double seconds;
};

struct hlm_collect {
    char *procfs, *sysfs, *rootfs;
    regex_t re_mnt, re_fstype, re_disk, re_net;
    bool has_mnt, has_fstype, has_disk, has_net;
    char **slices;
    size_t nslices;
    char **textfile_dirs;
    size_t ntextfile_dirs;
    unsigned disabled;
    long clk_tck;
    hlm_buf_t file, path, attr; /* scratch, reused across runs */
    hlm_buf_t stat;             /* /proc/stat as read in run stat_run */
    uint64_t run, stat_run;
    hlm_sysinfo_t sys;
    struct hlm_col_state st[HLM_COL_COUNT];
    struct hlm_netcache *netcache; /* col_net.c */
    hlm_col_id_t cur;
};

typedef int (hlm_col_fn)(hlm_collect_t *c, hlm_expo_t *e);
hlm_col_fn hlm_col_cpu, hlm_col_stat, hlm_col_meminfo, hlm_col_loadavg, hlm_col_pressure,
    hlm_col_vmstat, hlm_col_filesystem, hlm_col_netdev, hlm_col_netclass, hlm_col_diskstats,
    hlm_col_services, hlm_col_textfile;

void hlm_col_netclass_free(hlm_collect_t *c);

/* Records the current collector's error (the first one of a run is kept)
 * and returns RC, so that collectors fail in one step. */
int hlm_col_error(hlm_collect_t *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads <procfs>/stat into c->file, once per run (two collectors use it). */
int hlm_col_read_proc_stat(hlm_collect_t *c);
/* Reads <procfs>/REL into c->file. */
int hlm_col_read_proc(hlm_collect_t *c, const char *rel);
/* Whether regex RE (when set) matches S. */
bool hlm_col_match(const regex_t *re, bool has, const char *s);
