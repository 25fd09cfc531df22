/* Block device I/O from <procfs>/diskstats: node_exporter's "diskstats". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect_int.h"

enum { DS_MAX = 17 }; /* stats per device on kernels >= 5.5; 11 and 15 on older ones */

typedef struct {
    char *name;
    int nstats;
    double v[DS_MAX];
} disk_t;

int hlm_col_diskstats(hlm_collect_t *c, hlm_expo_t *e)
{
    int rc = hlm_col_read_proc(c, "diskstats");
    if (rc < 0)
        return hlm_col_error(c, rc, "%s: %s", c->path.data, strerror(-rc));
    disk_t *ds = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    char *cur = c->file.data, *line;
    while (hlm_next_line(&cur, &line)) {
        char *f[3 + DS_MAX + 1];
        size_t nf = hlm_split(line, f, 3 + DS_MAX + 1);
        if (nf == 0)
            continue;
        disk_t d = {.nstats = (int)nf - 3};
        bool ok = nf >= 3 + 11 && nf <= 3 + DS_MAX;
        for (int i = 0; ok && i < d.nstats; i++) {
            uint64_t u;
            ok = hlm_parse_u64(f[3 + i], &u) == 0;
            d.v[i] = (double)u;
        }
        if (!ok) {
            bad++;
            continue;
        }
        if (hlm_col_match(&c->re_disk, c->has_disk, f[2]))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            disk_t *p = realloc(ds, cap * sizeof *p);
            if (!p)
                abort();
            ds = p;
        }
        d.name = strdup(f[2]);
        if (!d.name)
            abort();
        ds[n++] = d;
    }
    /* Families in node_exporter's (sorted) order: the diskstats column, the
     * factor to node_exporter's unit (sectors are 512 bytes whatever the
     * device, times are ms). */
    static const struct {
        const char *name, *help;
        int col;
        double mul;
        hlm_mtype_t type;
    } fams[] = {
        {"node_disk_discard_time_seconds_total",
         "This is the total number of seconds spent by all discards.", 14, 0.001, HLM_COUNTER},
        {"node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.",
         13, 1, HLM_COUNTER},
        {"node_disk_discards_completed_total",
         "The total number of discards completed successfully.", 11, 1, HLM_COUNTER},
        {"node_disk_discards_merged_total", "The total number of discards merged.", 12, 1,
         HLM_COUNTER},
        {"node_disk_flush_requests_time_seconds_total",
         "This is the total number of seconds spent by all flush requests.", 16, 0.001,
         HLM_COUNTER},
        {"node_disk_flush_requests_total",
         "The total number of flush requests completed successfully", 15, 1, HLM_COUNTER},
        {"node_disk_io_now", "The number of I/Os currently in progress.", 8, 1, HLM_GAUGE},
        {"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", 9, 0.001,
         HLM_COUNTER},
        {"node_disk_io_time_weighted_seconds_total",
         "The weighted # of seconds spent doing I/Os.", 10, 0.001, HLM_COUNTER},
        {"node_disk_read_bytes_total", "The total number of bytes read successfully.", 2, 512,
         HLM_COUNTER},
        {"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", 3,
         0.001, HLM_COUNTER},
        {"node_disk_reads_completed_total", "The total number of reads completed successfully.",
         0, 1, HLM_COUNTER},
        {"node_disk_reads_merged_total", "The total number of reads merged.", 1, 1, HLM_COUNTER},
        {"node_disk_write_time_seconds_total",
         "This is the total number of seconds spent by all writes.", 7, 0.001, HLM_COUNTER},
        {"node_disk_writes_completed_total",
         "The total number of writes completed successfully.", 4, 1, HLM_COUNTER},
        {"node_disk_writes_merged_total", "The number of writes merged.", 5, 1, HLM_COUNTER},
        {"node_disk_written_bytes_total", "The total number of bytes written successfully.", 6,
         512, HLM_COUNTER},
    };
    for (size_t k = 0; k < sizeof fams / sizeof fams[0]; k++) {
        hlm_family(e, fams[k].name, fams[k].type, fams[k].help);
        for (size_t i = 0; i < n; i++)
            if (fams[k].col < ds[i].nstats)
                hlm_sample(e, HLM_KV("device", ds[i].name), ds[i].v[fams[k].col] * fams[k].mul);
    }
    for (size_t i = 0; i < n; i++)
        free(ds[i].name);
    free(ds);
    if (bad)
        return hlm_col_error(c, -EINVAL, "%s: %d malformed line(s)", c->path.data, bad);
    return 0;
}
