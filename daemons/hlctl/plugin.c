/* Nagios/Icinga plugin output and threshold ranges (plugin.h). */
#include "plugin.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/escape.h>
#include <hlbus/json.h>

/* [+-]digits[.[digits]] or [+-].digits, then an optional exponent
 * e[+-]digits: the numbers Monitoring::Plugin::Range takes (check_range_perl
 * compares the two), and not strtod's inf, nan or hex. */
static int parse_number(const char *s, const char *e, double *out)
{
    const char *p = s;
    if (p < e && (*p == '+' || *p == '-'))
        p++;
    size_t digits = 0, frac = 0;
    while (p < e && *p >= '0' && *p <= '9')
        p++, digits++;
    if (p < e && *p == '.') {
        p++;
        while (p < e && *p >= '0' && *p <= '9')
            p++, frac++;
    }
    if (!digits && !frac)
        return -EINVAL;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        size_t exp = 0;
        while (p < e && *p >= '0' && *p <= '9')
            p++, exp++;
        if (!exp)
            return -EINVAL;
    }
    if (p != e)
        return -EINVAL;
    char buf[HLCTL_RANGE_TEXT];
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

int hlctl_range_parse(const char *s, hlctl_range_t *r, const char **why)
{
    static const char *dummy;
    if (!why)
        why = &dummy;
    memset(r, 0, sizeof *r);
    if (!s || !*s) {
        *why = "empty range";
        return -EINVAL;
    }
    size_t n = strlen(s);
    if (n >= HLCTL_RANGE_TEXT) {
        *why = "range too long";
        return -EINVAL;
    }
    memcpy(r->text, s, n + 1);
    const char *p = s, *end = s + n;
    if (*p == '@') {
        r->inside = true;
        p++;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon) { /* "10": 0..10 */
        if (parse_number(p, end, &r->end) < 0) {
            *why = "not a number (ranges: 10, 10:, ~:10, 10:20, @10:20)";
            return -EINVAL;
        }
        r->start = 0;
    } else {
        if (colon == p) {
            r->start = 0;
        } else if (colon - p == 1 && *p == '~') {
            r->start_inf = true;
        } else if (parse_number(p, colon, &r->start) < 0) {
            *why = "the start is not a number or '~' (ranges: 10, 10:, ~:10, 10:20, @10:20)";
            return -EINVAL;
        }
        if (colon + 1 == end) {
            r->end_inf = true;
        } else if (parse_number(colon + 1, end, &r->end) < 0) {
            *why = "the end is not a number (ranges: 10, 10:, ~:10, 10:20, @10:20)";
            return -EINVAL;
        }
    }
    if (!r->start_inf && !r->end_inf && r->start > r->end) {
        *why = "the start is above the end";
        return -EINVAL;
    }
    r->set = true;
    return 0;
}

bool hlctl_range_alerts(const hlctl_range_t *r, double v)
{
    if (!r || !r->set)
        return false;
    bool in = (r->start_inf || v >= r->start) && (r->end_inf || v <= r->end);
    return r->inside ? in : !in;
}

static int rank(hlctl_plugin_status_t s)
{
    switch (s) {
    case HLCTL_PLUGIN_OK: return 0;
    case HLCTL_PLUGIN_UNKNOWN: return 1;
    case HLCTL_PLUGIN_WARNING: return 2;
    case HLCTL_PLUGIN_CRITICAL: return 3;
    }
    return 1;
}

hlctl_plugin_status_t hlctl_plugin_worst(hlctl_plugin_status_t a, hlctl_plugin_status_t b)
{
    return rank(a) >= rank(b) ? a : b;
}

const char *hlctl_plugin_word(hlctl_plugin_status_t s)
{
    static const char *const words[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
    return (unsigned)s < 4 ? words[s] : "UNKNOWN";
}

void hlctl_plugin_raise(hlctl_plugin_t *p, hlctl_plugin_status_t s)
{
    p->status = hlctl_plugin_worst(p->status, s);
}

bool hlctl_plugin_has_thresholds(const hlctl_plugin_t *p)
{
    return p->warn.set || p->crit.set;
}

hlctl_plugin_status_t hlctl_plugin_judge(hlctl_plugin_t *p, double v)
{
    hlctl_plugin_status_t s = hlctl_range_alerts(&p->crit, v)   ? HLCTL_PLUGIN_CRITICAL
                              : hlctl_range_alerts(&p->warn, v) ? HLCTL_PLUGIN_WARNING
                                                                : HLCTL_PLUGIN_OK;
    hlctl_plugin_raise(p, s);
    return s;
}

void hlctl_plugin_text(hlctl_plugin_t *p, const char *fmt, ...)
{
    char *raw = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&raw, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* '|' starts the perfdata: in the text it becomes '/' */
    for (char *c = raw; *c; c++)
        if (*c == '|')
            *c = '/';
    size_t cap = 4 * (size_t)n + 1;
    char *esc = malloc(cap);
    if (esc) {
        hlb_escape(raw, (size_t)n, esc, cap);
        hlb_buf_puts(&p->text, esc);
    }
    free(esc);
    free(raw);
}

/* A label in single quotes, a quote inside doubled (the guidelines' rule);
 * '=' and spaces are then allowed, control characters are not. */
static void put_label(hlb_buf_t *b, const char *raw)
{
    size_t cap = 4 * strlen(raw) + 1;
    char *label = malloc(cap);
    if (!label)
        return;
    hlb_escape(raw, strlen(raw), label, cap); /* no control bytes, valid UTF-8 */
    hlb_buf_puts(b, "'");
    for (const char *c = label; *c; c++) {
        if (*c == '\'')
            hlb_buf_puts(b, "''");
        else if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '|')
            hlb_buf_puts(b, "_");
        else
            hlb_buf_add(b, c, 1);
    }
    hlb_buf_puts(b, "'");
    free(label);
}

static void put_number(hlb_buf_t *b, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        hlb_buf_printf(b, "%.0f", v);
    else
        hlb_buf_printf(b, "%.6g", v);
}

void hlctl_plugin_perf(hlctl_plugin_t *p, const char *label, double value, const char *uom,
                       bool with_thresholds, double min, double max)
{
    hlb_buf_t *b = &p->perf;
    if (b->len)
        hlb_buf_puts(b, " ");
    put_label(b, label);
    hlb_buf_puts(b, "=");
    put_number(b, value);
    hlb_buf_puts(b, uom);
    hlb_buf_printf(b, ";%s;%s;", with_thresholds && p->warn.set ? p->warn.text : "",
                   with_thresholds && p->crit.set ? p->crit.text : "");
    if (!isnan(min))
        put_number(b, min);
    hlb_buf_puts(b, ";");
    if (!isnan(max))
        put_number(b, max);

    hlb_buf_t *j = &p->json_perf;
    hlb_buf_puts(j, j->len ? ",{\"label\":" : "{\"label\":");
    hlb_json_str(j, label, strlen(label));
    hlb_buf_puts(j, ",\"value\":");
    put_number(j, value);
    hlb_buf_puts(j, ",\"uom\":");
    hlb_json_str(j, uom, strlen(uom));
    if (with_thresholds && p->warn.set) {
        hlb_buf_puts(j, ",\"warn\":");
        hlb_json_str(j, p->warn.text, strlen(p->warn.text));
    }
    if (with_thresholds && p->crit.set) {
        hlb_buf_puts(j, ",\"crit\":");
        hlb_json_str(j, p->crit.text, strlen(p->crit.text));
    }
    if (!isnan(min)) {
        hlb_buf_puts(j, ",\"min\":");
        put_number(j, min);
    }
    if (!isnan(max)) {
        hlb_buf_puts(j, ",\"max\":");
        put_number(j, max);
    }
    hlb_buf_puts(j, "}");
}

int hlctl_plugin_finish(hlctl_plugin_t *p, bool json)
{
    const char *text = p->text.data ? p->text.data : "";
    if (json) {
        hlb_buf_t b = {0};
        hlb_buf_puts(&b, "{\"check\":");
        hlb_json_str(&b, p->name, strlen(p->name));
        hlb_buf_printf(&b, ",\"status\":\"%s\",\"code\":%d,\"text\":", hlctl_plugin_word(p->status),
                       (int)p->status);
        hlb_json_str(&b, text, strlen(text));
        hlb_buf_printf(&b, ",\"perfdata\":[%s]}\n", p->json_perf.data ? p->json_perf.data : "");
        fwrite(b.data, 1, b.len, stdout);
        hlb_buf_free(&b);
    } else {
        /* the text is escaped already: printed as it is */
        printf("%s %s - %s", p->name, hlctl_plugin_word(p->status), text);
        if (p->perf.len)
            printf(" | %s", p->perf.data);
        printf("\n");
    }
    fflush(stdout);
    hlb_buf_free(&p->text);
    hlb_buf_free(&p->perf);
    hlb_buf_free(&p->json_perf);
    return (int)p->status;
}
