/* /proc/loadavg (node_exporter's "loadavg") and the files in /proc/pressure (its
 * "pressure"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "collect_int.h"

int hlm_col_loadavg(hlm_collect_t *c, hlm_expo_t *e)
{
    int rc = hlm_col_read_proc(c, "loadavg");
    if (rc < 0)
        return hlm_col_error(c, rc, "%s: %s", c->path.data, strerror(-rc));
    char *f[3];
    double l[3];
    if (hlm_split(c->file.data, f, 3) != 3 || hlm_parse_double(f[0], &l[0]) < 0 ||
        hlm_parse_double(f[1], &l[1]) < 0 || hlm_parse_double(f[2], &l[2]) < 0)
        return hlm_col_error(c, -EINVAL, "%s: malformed", c->path.data);
    c->sys.load_ok = true;
    c->sys.load1 = l[0];
    static const char *const names[] = {"node_load1", "node_load5", "node_load15"};
    static const char *const help[] = {"1m load average.", "5m load average.",
                                       "15m load average."};
    for (int i = 0; i < 3; i++) {
        hlm_family(e, names[i], HLM_GAUGE, help[i]);
        hlm_sample0(e, l[i]);
    }
    return 0;
}

/* The "total=" value (microseconds) of the line starting with KIND. */
static int psi_total(char *text, const char *kind, double *out)
{
    char *cur = text, *line;
    size_t kl = strlen(kind);
    while (hlm_next_line(&cur, &line)) {
        if (strncmp(line, kind, kl) != 0 || line[kl] != ' ')
            continue;
        char *t = strstr(line, " total=");
        uint64_t us;
        if (!t)
            return -EINVAL;
        t += 7;
        t[strcspn(t, " ")] = '\0';
        if (hlm_parse_u64(t, &us) < 0)
            return -EINVAL;
        *out = (double)us / 1e6;
        return 0;
    }
    return -ENOENT;
}

int hlm_col_pressure(hlm_collect_t *c, hlm_expo_t *e)
{
    /* node_exporter's families: "some" is waiting, "full" is stalled; it
     * exports no "full" line for cpu. */
    static const struct {
        const char *res, *kind, *name, *help;
    } fams[] = {
        {"cpu", "some", "node_pressure_cpu_waiting_seconds_total",
         "Total time in seconds that processes have waited for CPU time"},
        {"io", "full", "node_pressure_io_stalled_seconds_total",
         "Total time in seconds no process could make progress due to IO congestion"},
        {"io", "some", "node_pressure_io_waiting_seconds_total",
         "Total time in seconds that processes have waited due to IO congestion"},
        {"memory", "full", "node_pressure_memory_stalled_seconds_total",
         "Total time in seconds no process could make progress due to memory congestion"},
        {"memory", "some", "node_pressure_memory_waiting_seconds_total",
         "Total time in seconds that processes have waited for memory"},
    };
    int rc = 0;
    const char *loaded = NULL; /* the resource whose file c->psi holds */
    int read_rc = 0;
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
        if (!loaded || strcmp(loaded, fams[i].res) != 0) {
            char rel[32];
            snprintf(rel, sizeof rel, "pressure/%s", fams[i].res);
            read_rc = hlm_col_read_proc(c, rel);
            loaded = fams[i].res;
            hlm_buf_reset(&c->attr);
            if (read_rc == 0)
                hlm_buf_add(&c->attr, c->file.data, c->file.len);
        }
        /* psi_total() cuts the text up: parse a fresh copy each time */
        int r = read_rc;
        double v = 0;
        if (r == 0) {
            hlm_buf_reset(&c->file);
            hlm_buf_add(&c->file, c->attr.data, c->attr.len);
            r = psi_total(c->file.data, fams[i].kind, &v);
        }
        if (r < 0) {
            /* Kernels without PSI (or booted with psi=0) have no such file
             * or refuse the read: no data, as node_exporter reports it. */
            rc = hlm_col_error(c, r, "%s: %s", c->path.data,
                               r == -ENOENT || r == -EOPNOTSUPP ? "pressure stall information not available"
                                                                 : strerror(-r));
            continue;
        }
        hlm_family(e, fams[i].name, HLM_COUNTER, fams[i].help);
        hlm_sample0(e, v);
    }
    return rc;
}
