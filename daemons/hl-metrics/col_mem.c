/* /proc/meminfo (node_exporter's "meminfo") and /proc/vmstat ("vmstat"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "collect_int.h"
#include <hlbus/str.h>

int hlm_col_meminfo(hlm_collect_t *c, hlm_expo_t *e)
{
    int rc = hlm_col_read_proc(c, "meminfo");
    if (rc < 0)
        return hlm_col_error(c, rc, "%s: %s", c->path.data, strerror(-rc));
    hlm_buf_t name = {0}, help = {0};
    int bad = 0;
    bool have_total = false, have_avail = false;
    char *cur = c->file.data, *line;
    while (hlm_next_line(&cur, &line)) {
        char *f[4];
        size_t n = hlm_split(line, f, 4);
        if (n == 0)
            continue;
        size_t kl = strlen(f[0]);
        double v;
        if ((n != 2 && n != 3) || kl < 2 || f[0][kl - 1] != ':' || hlm_parse_double(f[1], &v) < 0 ||
            (n == 3 && strcmp(f[2], "kB") != 0)) {
            bad++;
            continue;
        }
        f[0][kl - 1] = '\0';
        /* node_exporter's key: "Active(anon)" -> "Active_anon", and a kB
         * unit -> bytes with a _bytes suffix. */
        hlm_buf_reset(&name);
        hlm_buf_puts(&name, "node_memory_");
        for (const char *k = f[0]; *k; k++)
            if (*k == '(')
                hlm_buf_putc(&name, '_');
            else if (*k != ')')
                hlm_buf_putc(&name, *k);
        if (n == 3) {
            v *= 1024;
            hlm_buf_puts(&name, "_bytes");
        }
        if (strcmp(f[0], "MemTotal") == 0) {
            c->sys.mem_total = v;
            have_total = true;
        } else if (strcmp(f[0], "MemAvailable") == 0) {
            c->sys.mem_available = v;
            have_avail = true;
        }
        hlm_buf_reset(&help);
        hlm_buf_printf(&help, "Memory information field %s.", name.data + strlen("node_memory_"));
        if (hlm_family(e, name.data, HLM_GAUGE, help.data) < 0) {
            bad++;
            continue;
        }
        hlm_sample0(e, v);
    }
    hlm_buf_free(&name);
    hlm_buf_free(&help);
    c->sys.mem_ok = have_total && have_avail && c->sys.mem_total > 0;
    if (bad)
        return hlm_col_error(c, -EINVAL, "%s: %d malformed or duplicate line(s)", c->path.data,
                             bad);
    return 0;
}

/* node_exporter's default field selection, ^(oom_kill|pgpg|pswp|pg.*fault),
 * without a regex: /proc/vmstat has a couple of hundred lines. */
static bool vmstat_wanted(const char *k)
{
    const char *after_pg = hlb_after_prefix(k, "pg");
    return hlb_has_prefix(k, "oom_kill") || hlb_has_prefix(k, "pgpg") ||
           hlb_has_prefix(k, "pswp") || (after_pg && strstr(after_pg, "fault"));
}

int hlm_col_vmstat(hlm_collect_t *c, hlm_expo_t *e)
{
    int rc = hlm_col_read_proc(c, "vmstat");
    if (rc < 0)
        return hlm_col_error(c, rc, "%s: %s", c->path.data, strerror(-rc));
    hlm_buf_t name = {0}, help = {0};
    int bad = 0;
    char *cur = c->file.data, *line;
    while (hlm_next_line(&cur, &line)) {
        char *f[3];
        size_t n = hlm_split(line, f, 3);
        if (n == 0 || !vmstat_wanted(f[0]))
            continue;
        double v;
        if (n != 2 || hlm_parse_double(f[1], &v) < 0) {
            bad++;
            continue;
        }
        hlm_buf_reset(&name);
        hlm_buf_printf(&name, "node_vmstat_%s", f[0]);
        hlm_buf_reset(&help);
        hlm_buf_printf(&help, "/proc/vmstat information field %s.", f[0]);
        /* node_exporter exports these untyped. */
        if (hlm_family(e, name.data, HLM_UNTYPED, help.data) < 0) {
            bad++;
            continue;
        }
        hlm_sample0(e, v);
    }
    hlm_buf_free(&name);
    hlm_buf_free(&help);
    if (bad)
        return hlm_col_error(c, -EINVAL, "%s: %d malformed line(s)", c->path.data, bad);
    return 0;
}
