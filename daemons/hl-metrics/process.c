#include "process.h"
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "sysfile.h"
#include <hlbus/str.h>

/* The machine's boot time: read once, it does not change. */
static double boot_time(hlm_buf_t *b)
{
    static double cached;
    if (cached > 0)
        return cached;
    if (hlm_read_file(b, "/proc/stat") < 0)
        return 0;
    char *cur = b->data, *line;
    while (hlm_next_line(&cur, &line)) {
        uint64_t v;
        char *f[3];
        if (hlb_has_prefix(line, "btime ") && hlm_split(line, f, 3) == 2 &&
            hlm_parse_u64(f[1], &v) == 0)
            return cached = (double)v;
    }
    return 0;
}

int hlm_process_metrics(hlm_expo_t *e)
{
    hlm_buf_t b = {0};
    int rc = hlm_read_file(&b, "/proc/self/stat");
    /* Fields after the command name, which may itself hold spaces and ')'. */
    char *p = rc == 0 ? strrchr(b.data, ')') : NULL;
    char *f[24];
    if (!p || hlm_split(p + 1, f, 24) < 22) {
        hlm_buf_free(&b);
        return rc < 0 ? rc : -EINVAL;
    }
    /* f[0] is field 3 (state): utime is field 14, so f[11]. */
    uint64_t utime, stime, start, vsize, rss;
    if (hlm_parse_u64(f[11], &utime) < 0 || hlm_parse_u64(f[12], &stime) < 0 ||
        hlm_parse_u64(f[19], &start) < 0 || hlm_parse_u64(f[20], &vsize) < 0 ||
        hlm_parse_u64(f[21], &rss) < 0) {
        hlm_buf_free(&b);
        return -EINVAL;
    }
    double hz = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);
    double btime = boot_time(&b);
    hlm_buf_free(&b);

    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            fds += de->d_name[0] != '.';
        fds--; /* the directory stream's own descriptor */
        closedir(d);
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);

    hlm_family(e, "process_cpu_seconds_total", HLM_COUNTER,
               "Total user and system CPU time spent in seconds.");
    hlm_sample0(e, (double)(utime + stime) / hz);
    hlm_family(e, "process_max_fds", HLM_GAUGE, "Maximum number of open file descriptors.");
    hlm_sample0(e, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
    if (d) {
        hlm_family(e, "process_open_fds", HLM_GAUGE, "Number of open file descriptors.");
        hlm_sample0(e, fds);
    }
    hlm_family(e, "process_resident_memory_bytes", HLM_GAUGE, "Resident memory size in bytes.");
    hlm_sample0(e, (double)rss * page);
    if (btime > 0) {
        hlm_family(e, "process_start_time_seconds", HLM_GAUGE,
                   "Start time of the process since unix epoch in seconds.");
        hlm_sample0(e, btime + (double)start / hz);
    }
    hlm_family(e, "process_virtual_memory_bytes", HLM_GAUGE, "Virtual memory size in bytes.");
    hlm_sample0(e, (double)vsize);
    return 0;
}
