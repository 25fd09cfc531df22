/* hl-metrics-dump: runs hl-metrics' system collectors once and prints the
 * exposition, with node_exporter's --path.* flags. For golden tests on
 * fixture trees, for the benchmark, and to see what hl-metrics exports. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect.h"
#include "expo.h"
#include "process.h"

static int usage(FILE *to)
{
    fprintf(to,
            "usage: hl-metrics-dump [--path.procfs=DIR] [--path.sysfs=DIR] [--path.rootfs=DIR]\n"
            "                       [--collector.disable=NAME]... [--cgroup.slice=NAME]...\n"
            "                       [--process] [--repeat=N]\n"
            "Runs the system collectors once (or N times, printing the last) and prints\n"
            "the Prometheus text exposition. Collector errors go to stderr; exit 1 if any.\n");
    return to == stdout ? 0 : 64;
}

int main(int argc, char **argv)
{
    hlm_collect_opts_t o = {0};
    const char *slices[16] = {0};
    size_t nslices = 0;
    long repeat = 1;
    static int process;
    enum { PROCFS = 256, SYSFS, ROOTFS, DISABLE, SLICE, REPEAT, MNT_EX, FST_EX };
    static const struct option opts[] = {
        {"path.procfs", required_argument, NULL, PROCFS},
        {"path.sysfs", required_argument, NULL, SYSFS},
        {"path.rootfs", required_argument, NULL, ROOTFS},
        {"collector.disable", required_argument, NULL, DISABLE},
        {"collector.filesystem.mount-points-exclude", required_argument, NULL, MNT_EX},
        {"collector.filesystem.fs-types-exclude", required_argument, NULL, FST_EX},
        {"cgroup.slice", required_argument, NULL, SLICE},
        {"repeat", required_argument, NULL, REPEAT},
        {"process", no_argument, &process, 1},
        {"help", no_argument, NULL, 'h'},
        {0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 0:
            break;
        case PROCFS: o.procfs = optarg; break;
        case SYSFS: o.sysfs = optarg; break;
        case ROOTFS: o.rootfs = optarg; break;
        case MNT_EX: o.mount_points_exclude = optarg; break;
        case FST_EX: o.fs_types_exclude = optarg; break;
        case DISABLE: {
            int id = hlm_collect_lookup(optarg);
            if (id < 0) {
                fprintf(stderr, "hl-metrics-dump: no collector \"%s\"\n", optarg);
                return 64;
            }
            o.disabled |= 1u << id;
            break;
        }
        case SLICE:
            if (nslices + 1 >= sizeof slices / sizeof slices[0]) {
                fprintf(stderr, "hl-metrics-dump: too many --cgroup.slice\n");
                return 64;
            }
            slices[nslices++] = optarg;
            break;
        case REPEAT: {
            char *end;
            errno = 0;
            repeat = strtol(optarg, &end, 10);
            if (errno || *end || repeat < 1) {
                fprintf(stderr, "hl-metrics-dump: bad --repeat \"%s\"\n", optarg);
                return 64;
            }
            break;
        }
        case 'h': return usage(stdout);
        default: return usage(stderr);
        }
    }
    if (optind != argc)
        return usage(stderr);
    if (nslices)
        o.cgroup_slices = slices;
    char *err = NULL;
    hlm_collect_t *c = hlm_collect_new(&o, &err);
    if (!c) {
        fprintf(stderr, "hl-metrics-dump: %s\n", err ? err : strerror(ENOMEM));
        free(err);
        return 64;
    }
    hlm_expo_t *e = hlm_expo_new();
    int failed = 0;
    for (long i = 0; i < repeat; i++) {
        hlm_expo_reset(e);
        failed = hlm_collect_run(c, e);
        if (process)
            hlm_process_metrics(e);
    }
    for (int i = 0; i < HLM_COL_COUNT; i++) {
        const char *msg = hlm_collect_error(c, (hlm_col_id_t)i, NULL);
        if (*msg)
            fprintf(stderr, "hl-metrics-dump: %s: %s\n", hlm_collect_name((hlm_col_id_t)i), msg);
    }
    size_t len;
    const char *text = hlm_expo_text(e, &len);
    fwrite(text, 1, len, stdout);
    hlm_expo_destroy(&e);
    hlm_collect_destroy(&c);
    return failed ? 1 : 0;
}
