/* /proc/stat: CPU seconds per CPU and mode (node_exporter's "cpu"
 * collector) and the kernel counters (its "stat" collector). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect_int.h"
#include <hlbus/str.h>

enum { USER, NICE, SYSTEM, IDLE, IOWAIT, IRQ, SOFTIRQ, STEAL, GUEST, GUEST_NICE, NMODES };

typedef struct {
    char id[24];
    uint64_t t[NMODES];
} cpu_line_t;

/* Parses "cpuN user nice ..." (N empty for the aggregate line). Kernels
 * older than 2.6.33 have fewer fields; the missing ones are 0. */
static int parse_cpu(char *line, cpu_line_t *out)
{
    char *f[NMODES + 2];
    size_t n = hlm_split(line, f, NMODES + 1);
    if (n < 5)
        return -EINVAL;
    size_t idl = strlen(f[0] + 3);
    if (idl >= sizeof out->id || strspn(f[0] + 3, "0123456789") != idl)
        return -EINVAL;
    memcpy(out->id, f[0] + 3, idl + 1);
    memset(out->t, 0, sizeof out->t);
    for (size_t i = 1; i < n && i <= NMODES; i++)
        if (hlm_parse_u64(f[i], &out->t[i - 1]) < 0)
            return -EINVAL;
    return 0;
}

int hlm_col_cpu(hlm_collect_t *c, hlm_expo_t *e)
{
    int rc = hlm_col_read_proc_stat(c);
    if (rc < 0)
        return hlm_col_error(c, rc, "%s: %s", c->path.data, strerror(-rc));
    cpu_line_t *cpus = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    char *cur = c->file.data, *line;
    while (hlm_next_line(&cur, &line)) {
        if (!hlb_has_prefix(line, "cpu"))
            continue;
        cpu_line_t cl;
        if (parse_cpu(line, &cl) < 0) {
            bad++;
            continue;
        }
        if (!cl.id[0]) {
            /* The aggregate line: what the CPU threshold needs. Guest time is
             * already counted in user and nice. */
            uint64_t total = 0;
            for (int m = USER; m <= STEAL; m++)
                total += cl.t[m];
            c->sys.cpu_ok = true;
            c->sys.cpu_total = total;
            c->sys.cpu_idle = cl.t[IDLE] + cl.t[IOWAIT];
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            cpu_line_t *p = realloc(cpus, cap * sizeof *p);
            if (!p)
                abort();
            cpus = p;
        }
        cpus[n++] = cl;
    }
    double hz = (double)c->clk_tck;
    /* Modes in node_exporter's (sorted) label order. */
    static const struct {
        const char *name;
        int idx;
    } modes[] = {{"idle", IDLE},       {"iowait", IOWAIT}, {"irq", IRQ},
                 {"nice", NICE},       {"softirq", SOFTIRQ}, {"steal", STEAL},
                 {"system", SYSTEM},   {"user", USER}};
    hlm_family(e, "node_cpu_guest_seconds_total", HLM_COUNTER,
               "Seconds the CPUs spent in guests (VMs) for each mode.");
    for (size_t i = 0; i < n; i++) {
        hlm_sample(e, HLM_KV("cpu", cpus[i].id, "mode", "nice"), (double)cpus[i].t[GUEST_NICE] / hz);
        hlm_sample(e, HLM_KV("cpu", cpus[i].id, "mode", "user"), (double)cpus[i].t[GUEST] / hz);
    }
    hlm_family(e, "node_cpu_seconds_total", HLM_COUNTER, "Seconds the CPUs spent in each mode.");
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
            hlm_sample(e, HLM_KV("cpu", cpus[i].id, "mode", modes[m].name),
                       (double)cpus[i].t[modes[m].idx] / hz);
    free(cpus);
    if (bad)
        return hlm_col_error(c, -EINVAL, "%s: %d malformed cpu line(s)", c->path.data, bad);
    if (!c->sys.cpu_ok)
        return hlm_col_error(c, -EINVAL, "%s: no aggregate cpu line", c->path.data);
    return 0;
}

int hlm_col_stat(hlm_collect_t *c, hlm_expo_t *e)
{
    int rc = hlm_col_read_proc_stat(c);
    if (rc < 0)
        return hlm_col_error(c, rc, "%s: %s", c->path.data, strerror(-rc));
    /* Kernel counters by their /proc/stat key, in node_exporter's order. */
    static const struct {
        const char *key, *name, *help;
        hlm_mtype_t type;
    } fields[] = {
        {"btime", "node_boot_time_seconds", "Node boot time, in unixtime.", HLM_GAUGE},
        {"ctxt", "node_context_switches_total", "Total number of context switches.",
         HLM_COUNTER},
        {"processes", "node_forks_total", "Total number of forks.", HLM_COUNTER},
        {"intr", "node_intr_total", "Total number of interrupts serviced.", HLM_COUNTER},
        {"procs_blocked", "node_procs_blocked",
         "Number of processes blocked waiting for I/O to complete.", HLM_GAUGE},
        {"procs_running", "node_procs_running", "Number of processes in runnable state.",
         HLM_GAUGE},
    };
    enum { NF = sizeof fields / sizeof fields[0] };
    uint64_t val[NF];
    bool have[NF] = {0};
    int bad = 0;
    char *cur = c->file.data, *line;
    while (hlm_next_line(&cur, &line)) {
        char *f[2];
        /* Only the first value matters (intr's total); the rest stays unsplit. */
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        for (size_t i = 0; i < NF; i++) {
            if (strcmp(line, fields[i].key) != 0)
                continue;
            if (hlm_split(sp + 1, f, 2) < 1 || hlm_parse_u64(f[0], &val[i]) < 0) {
                bad++;
                break;
            }
            have[i] = true;
            break;
        }
    }
    for (size_t i = 0; i < NF; i++) {
        if (!have[i])
            continue;
        hlm_family(e, fields[i].name, fields[i].type, fields[i].help);
        hlm_sample0(e, (double)val[i]);
    }
    if (bad)
        return hlm_col_error(c, -EINVAL, "%s: %d malformed line(s)", c->path.data, bad);
    return 0;
}
