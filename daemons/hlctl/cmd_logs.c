/* hlctl logs [-f] [--service S] [--level L] [--since T] [--lines N] and
 * hlctl logs analyze [--since 1h] [--service S]: hl-logs' JSON logs read
 * through its ctl methods "query" and "analyze" (so a caller needs only the
 * ctl socket, not read access to /var/log/hl). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hlctl.h"
#include "logs.pb-c.h"

static const char usage_logs[] =
    "hlctl logs [-f] [--service S] [--level L] [--since T] [--lines N]\n"
    "hlctl logs analyze [--since 1h] [--service S]\n"
    "  T: 30m, 1h, 2d back from now, a time (2026-12-07T10:00:00Z) or epoch seconds;\n"
    "  L: debug, info, warning, error, critical (that level and worse)";

/* The value of the last "KEY":"..." in LINE (ours come after a record's own
 * fields, so the last one is ours), still JSON-escaped. */
static size_t field(const char *line, const char *key, const char **out)
{
    char pat[40];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = line, *hit = NULL;
    while ((p = strstr(p, pat)))
        hit = p, p += strlen(pat);
    if (!hit)
        return 0;
    const char *v = hit + strlen(pat), *e = v;
    while (*e && *e != '"') {
        if (*e == '\\' && e[1])
            e++;
        e++;
    }
    *out = v;
    return (size_t)(e - v);
}

static void print_line(hlctl_t *ctx, const char *line)
{
    if (ctx->json) {
        hlctl_printf("%s\n", line);
        return;
    }
    const char *t = "", *n = "", *l = "", *m = "";
    size_t tn = field(line, "asctime", &t), nn = field(line, "name", &n),
           ln = field(line, "levelname", &l), mn = field(line, "message", &m);
    hlctl_printf("%.*s %.*s %-8.*s %.*s\n", (int)tn, t, (int)nn, n, (int)ln, l, (int)mn, m);
}

static hlb_map_t *filter_args(const char *service, const char *level, const char *since)
{
    hlb_map_t *args = hlb_map_new();
    if (service)
        hlb_map_str(args, "service", service);
    if (level)
        hlb_map_str(args, "level", level);
    if (since)
        hlb_map_str(args, "since", since);
    return args;
}

static int query(hlctl_t *ctx, hlb_map_t *args, Hl__LogsLines **out, Hl__Reply **r)
{
    int rc = hlctl_call(ctx, "hl-logs", "query", args, r);
    if (rc != HLCTL_OK)
        return rc;
    *out = (Hl__LogsLines *)hlb_reply_decode(*r, &hl__logs_lines__descriptor);
    if (!*out) {
        hlctl_fprintf(stderr, "hlctl: hl-logs sent an unexpected '%s' reply\n", (*r)->type);
        hl__reply__free_unpacked(*r, NULL);
        return HLCTL_CRITICAL;
    }
    return HLCTL_OK;
}

/* -f: asks again every half second for what came after the last line seen
 * (same timestamp: told apart by record id). */
static int follow(hlctl_t *ctx, const char *service, const char *level, char *last_ts,
                  char ***seen, size_t *n_seen)
{
    while (!hlctl_interrupted) {
        usleep(500000);
        hlb_map_t *args = filter_args(service, level, *last_ts ? last_ts : "1s");
        hlb_map_int(args, "limit", 10000);
        hlb_map_bool(args, "current", true);
        Hl__LogsLines *m;
        Hl__Reply *r;
        int rc = query(ctx, args, &m, &r);
        hlb_map_destroy(&args);
        if (rc != HLCTL_OK)
            return rc;
        for (size_t i = 0; i < m->n_lines; i++) {
            const char *id, *ts;
            size_t idn = field(m->lines[i], "id", &id), tsn = field(m->lines[i], "asctime", &ts);
            bool dup = false;
            for (size_t k = 0; k < *n_seen && !dup; k++)
                dup = strlen((*seen)[k]) == idn && !strncmp((*seen)[k], id, idn);
            if (dup)
                continue;
            print_line(ctx, m->lines[i]);
            if (tsn && tsn < 63 && (strlen(last_ts) != tsn || strncmp(last_ts, ts, tsn))) {
                memcpy(last_ts, ts, tsn);
                last_ts[tsn] = 0;
                for (size_t k = 0; k < *n_seen; k++)
                    free((*seen)[k]);
                *n_seen = 0;
            }
            char **ns = realloc(*seen, (*n_seen + 1) * sizeof *ns);
            if (ns) {
                *seen = ns;
                ns[(*n_seen)++] = strndup(id, idn);
            }
        }
        fflush(stdout);
        hl__logs_lines__free_unpacked(m, NULL);
        hl__reply__free_unpacked(r, NULL);
    }
    return HLCTL_OK;
}

static int analyze(hlctl_t *ctx, const char *service, const char *since)
{
    hlb_map_t *args = filter_args(service, NULL, since ? since : "1h");
    Hl__Reply *r;
    int rc = hlctl_call(ctx, "hl-logs", "analyze", args, &r);
    hlb_map_destroy(&args);
    if (rc != HLCTL_OK)
        return rc;
    Hl__LogsAnalysis *a = (Hl__LogsAnalysis *)hlb_reply_decode(r, &hl__logs_analysis__descriptor);
    if (!a) {
        hlctl_fprintf(stderr, "hlctl: hl-logs sent an unexpected '%s' reply\n", r->type);
        hl__reply__free_unpacked(r, NULL);
        return HLCTL_CRITICAL;
    }
    if (ctx->json) {
        hlctl_print_json(r);
    } else {
        hlctl_printf("=== ERROR ANALYSIS === %llu records, %llu errors, %llu warnings since %s%s\n",
                     (unsigned long long)a->records, (unsigned long long)a->errors,
                     (unsigned long long)a->warnings, since ? since : "1h",
                     a->truncated ? " (scan stopped at its byte budget)" : "");
        for (size_t i = 0; i < a->n_top_errors; i++)
            hlctl_printf("%7llu  %s: %s\n", (unsigned long long)a->top_errors[i]->count,
                         a->top_errors[i]->service, a->top_errors[i]->pattern);
        hlctl_printf("=== PERFORMANCE ANALYSIS ===\n");
        if (!a->n_durations)
            hlctl_printf("no durations in these records\n");
        for (size_t i = 0; i < a->n_durations; i++) {
            const Hl__LogsAnalysis__Duration *d = a->durations[i];
            hlctl_printf("%s: count %llu, mean %g, p50 %g, p95 %g, p99 %g, max %g\n", d->field,
                         (unsigned long long)d->count, d->mean, d->p50, d->p95, d->p99, d->max);
        }
        hlctl_printf("=== SERVICE HEALTH ===\n");
        if (!a->n_health)
            hlctl_printf("no health_check records\n");
        for (size_t i = 0; i < a->n_health; i++) {
            const Hl__LogsAnalysis__Health *h = a->health[i];
            hlctl_printf("%s: %s (%llu checks: %llu healthy, %llu degraded, %llu unhealthy, %llu other)\n",
                         h->service, h->last, (unsigned long long)h->checks,
                         (unsigned long long)h->healthy, (unsigned long long)h->degraded,
                         (unsigned long long)h->unhealthy, (unsigned long long)h->other);
        }
    }
    hl__logs_analysis__free_unpacked(a, NULL);
    hl__reply__free_unpacked(r, NULL);
    return HLCTL_OK;
}

int hlctl_cmd_logs(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
                                         {"service", required_argument, NULL, 's'},
                                         {"level", required_argument, NULL, 'l'},
                                         {"since", required_argument, NULL, 't'},
                                         {"lines", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    const char *service = NULL, *level = NULL, *since = NULL;
    bool follow_on = false;
    int64_t lines = 100;
    int opt;
    while ((opt = getopt_long(argc, argv, "fs:l:t:n:", opts, NULL)) != -1) {
        switch (opt) {
        case 'f': follow_on = true; break;
        case 's': service = optarg; break;
        case 'l': level = optarg; break;
        case 't': since = optarg; break;
        case 'n':
            if (hlb_parse_int(optarg, &lines) < 0 || lines < 1)
                return hlctl_usage(usage_logs);
            break;
        default: return hlctl_usage(usage_logs);
        }
    }
    if (optind < argc && !strcmp(argv[optind], "analyze")) {
        if (optind + 1 != argc || follow_on || level)
            return hlctl_usage(usage_logs);
        return analyze(ctx, service, since);
    }
    if (optind != argc)
        return hlctl_usage(usage_logs);
    hlb_map_t *args = filter_args(service, level, since);
    hlb_map_int(args, "limit", lines);
    Hl__LogsLines *m;
    Hl__Reply *r;
    int rc = query(ctx, args, &m, &r);
    hlb_map_destroy(&args);
    if (rc != HLCTL_OK)
        return rc;
    char last_ts[64] = "";
    char **seen = NULL;
    size_t n_seen = 0;
    for (size_t i = 0; i < m->n_lines; i++) {
        print_line(ctx, m->lines[i]);
        const char *ts, *id;
        size_t tsn = field(m->lines[i], "asctime", &ts), idn = field(m->lines[i], "id", &id);
        if (tsn && tsn < sizeof last_ts) {
            if (strlen(last_ts) != tsn || strncmp(last_ts, ts, tsn)) {
                for (size_t k = 0; k < n_seen; k++)
                    free(seen[k]);
                n_seen = 0;
            }
            memcpy(last_ts, ts, tsn);
            last_ts[tsn] = 0;
            char **ns = realloc(seen, (n_seen + 1) * sizeof *ns);
            if (ns) {
                seen = ns;
                seen[n_seen++] = strndup(id, idn);
            }
        }
    }
    if (m->truncated)
        hlctl_fprintf(stderr, "hlctl: hl-logs stopped its scan at its byte budget; narrow --since\n");
    hl__logs_lines__free_unpacked(m, NULL);
    hl__reply__free_unpacked(r, NULL);
    fflush(stdout);
    if (follow_on)
        rc = follow(ctx, service, level, last_ts, &seen, &n_seen);
    for (size_t k = 0; k < n_seen; k++)
        free(seen[k]);
    free(seen);
    return rc;
}
