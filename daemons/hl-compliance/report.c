/* The compliance report: findings and their three renderings. */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hlbus/buf.h>
#include <hlbus/clock.h>
#include <hlbus/str.h>

static const char *const names[] = {"PASS", "WARN", "FAIL", "NOT_EVALUATED"};

const char *cr_status_name(cr_status_t s)
{
    return s <= CR_NOT_EVALUATED ? names[s] : "?";
}

void cr_add(cr_report_t *r, const char *id, const char *name, cr_status_t st, const char *fmt, ...)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        cr_finding_t *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return;
        r->v = v;
        r->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *detail = NULL;
    if (vasprintf(&detail, fmt, ap) < 0)
        detail = NULL;
    va_end(ap);
    r->v[r->n++] = (cr_finding_t) {strdup(id), strdup(name), st, detail, hlb_now_us()};
}

void cr_free(cr_report_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].id);
        free(r->v[i].name);
        free(r->v[i].detail);
    }
    free(r->v);
    free(r->cert_path);
    *r = (cr_report_t) {0};
}

size_t cr_count(const cr_report_t *r, cr_status_t st)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->v[i].status == st;
    return n;
}

cr_status_t cr_worst(const cr_report_t *r)
{
    /* FAIL over WARN over NOT_EVALUATED over PASS: a check we could not
     * run is not a pass, but it is not a finding either. */
    if (cr_count(r, CR_FAIL))
        return CR_FAIL;
    if (cr_count(r, CR_WARN))
        return CR_WARN;
    return cr_count(r, CR_NOT_EVALUATED) ? CR_NOT_EVALUATED : CR_PASS;
}

const cr_finding_t *cr_find(const cr_report_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].name && strcmp(r->v[i].name, name) == 0)
            return &r->v[i];
    return NULL;
}

static void json_str(hlb_buf_t *b, const char *s)
{
    hlb_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            hlb_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            hlb_buf_printf(b, "\\u%04x", *p);
        else
            hlb_buf_printf(b, "%c", *p);
    }
    hlb_buf_puts(b, "\"");
}

static void iso_time(char *out, size_t n, uint64_t us)
{
    time_t t = (time_t) (us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%06lluZ", base, (unsigned long long) (us % 1000000));
}

char *cr_json(const cr_report_t *r, const char *instance_id, uint64_t ts_us)
{
    hlb_buf_t b = {0};
    char ts[48];
    iso_time(ts, sizeof ts, ts_us);
    hlb_buf_printf(&b, "{\"timestamp\":\"%s\",\"instance_id\":", ts);
    json_str(&b, instance_id);
    hlb_buf_puts(&b, ",\"compliance_checks\":[");
    for (size_t i = 0; i < r->n; i++) {
        const cr_finding_t *f = &r->v[i];
        iso_time(ts, sizeof ts, f->ts_us);
        hlb_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
        json_str(&b, f->name);
        hlb_buf_puts(&b, ",\"id\":");
        json_str(&b, f->id);
        hlb_buf_printf(&b, ",\"status\":\"%s\",\"details\":{\"detail\":", cr_status_name(f->status));
        json_str(&b, f->detail);
        hlb_buf_printf(&b, "},\"timestamp\":\"%s\"}", ts);
    }
    hlb_buf_printf(&b, "],\"summary\":{\"pass\":%zu,\"warn\":%zu,\"fail\":%zu,\"not_evaluated\":%zu,"
                       "\"status\":\"%s\"}}\n",
                   cr_count(r, CR_PASS), cr_count(r, CR_WARN), cr_count(r, CR_FAIL),
                   cr_count(r, CR_NOT_EVALUATED), cr_status_name(cr_worst(r)));
    return hlb_buf_steal(&b);
}

char *cr_text(const cr_report_t *r, bool all)
{
    hlb_buf_t b = {0};
    for (size_t i = 0; i < r->n; i++) {
        const cr_finding_t *f = &r->v[i];
        if (!all && f->status == CR_PASS)
            continue;
        hlb_buf_printf(&b, "%-13s %-10s %-34s %s\n", cr_status_name(f->status), f->id, f->name,
                       f->detail ? f->detail : "");
    }
    hlb_buf_printf(&b, "%s: %zu pass, %zu warn, %zu fail, %zu not evaluated\n",
                   cr_status_name(cr_worst(r)), cr_count(r, CR_PASS), cr_count(r, CR_WARN),
                   cr_count(r, CR_FAIL), cr_count(r, CR_NOT_EVALUATED));
    return hlb_buf_steal(&b);
}

void cr_set_cert_expiry(cr_report_t *r, const char *path, long long not_after)
{
    free(r->cert_path);
    r->cert_path = strdup(path);
    r->cert_not_after = not_after;
}

char *cr_prometheus(const cr_report_t *r)
{
    hlb_buf_t b = {0};
    hlb_buf_puts(&b, "# HELP hl_compliance_check_status A compliance check: 0 pass, 1 warn, "
                     "2 fail, 3 not evaluated.\n# TYPE hl_compliance_check_status gauge\n");
    for (size_t i = 0; i < r->n; i++) {
        const cr_finding_t *f = &r->v[i];
        /* names and ids are ours ([A-Za-z0-9._@-]): no label escaping needed,
         * but a quote or backslash would still be escaped */
        hlb_buf_puts(&b, "hl_compliance_check_status{check=\"");
        for (const char *p = f->name; *p; p++)
            hlb_buf_printf(&b, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
        hlb_buf_printf(&b, "\",id=\"%s\"} %d\n", f->id, (int) f->status);
    }
    if (r->cert_path) {
        hlb_buf_puts(&b, "# HELP hl_tls_certificate_expiry_timestamp_seconds When the TLS "
                         "certificate of tls.yml expires (notAfter), in unixtime.\n"
                         "# TYPE hl_tls_certificate_expiry_timestamp_seconds gauge\n"
                         "hl_tls_certificate_expiry_timestamp_seconds{path=\"");
        for (const char *p = r->cert_path; *p; p++) {
            if (*p == '"' || *p == '\\')
                hlb_buf_printf(&b, "\\%c", *p);
            else if (*p == '\n')
                hlb_buf_puts(&b, "\\n");
            else
                hlb_buf_printf(&b, "%c", *p);
        }
        hlb_buf_printf(&b, "\"} %lld\n", r->cert_not_after);
    }
    return hlb_buf_steal(&b);
}
