#include "expo.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/str.h>
#include "buf.h"

struct hlm_expo {
    hlm_buf_t out;
    /* Names written so far, for the once-per-exposition rule: an open
     * addressing set (power-of-two size, linear probing). */
    char **names;
    size_t names_cap;
    size_t nfamilies;
    size_t nsamples;
    char *cur;      /* current family name (points into names), or NULL */
    size_t cur_len;
};

hlm_expo_t *hlm_expo_new(void)
{
    hlm_expo_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->names_cap = 256;
    e->names = calloc(e->names_cap, sizeof *e->names);
    if (!e->names) {
        free(e);
        return NULL;
    }
    return e;
}

static void names_clear(hlm_expo_t *e)
{
    for (size_t i = 0; i < e->names_cap; i++) {
        free(e->names[i]);
        e->names[i] = NULL;
    }
}

void hlm_expo_destroy(hlm_expo_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlm_expo_t *e = *self_p;
    names_clear(e);
    free(e->names);
    hlm_buf_free(&e->out);
    free(e);
    *self_p = NULL;
}

void hlm_expo_reset(hlm_expo_t *e)
{
    names_clear(e);
    hlm_buf_reset(&e->out);
    e->nfamilies = e->nsamples = 0;
    e->cur = NULL;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static char **names_slot(char **tab, size_t cap, const char *name)
{
    size_t i = hash_str(name) & (cap - 1);
    while (tab[i] && strcmp(tab[i], name) != 0)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static void names_grow(hlm_expo_t *e)
{
    size_t cap = e->names_cap * 2;
    char **tab = calloc(cap, sizeof *tab);
    if (!tab)
        abort();
    for (size_t i = 0; i < e->names_cap; i++)
        if (e->names[i])
            *names_slot(tab, cap, e->names[i]) = e->names[i];
    free(e->names);
    e->names = tab;
    e->names_cap = cap;
}

bool hlm_expo_has_family(const hlm_expo_t *e, const char *name)
{
    return *names_slot(e->names, e->names_cap, name) != NULL;
}

bool hlm_metric_name_valid(const char *s)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                  (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

bool hlm_label_name_valid(const char *s)
{
    if (!s || !*s || (s[0] == '_' && s[1] == '_'))
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

/* Escapes backslash and newline (HELP), and the double quote too (label
 * values); replaces invalid UTF-8 with U+FFFD so the exposition stays valid. */
static void put_escaped(hlm_buf_t *b, const char *s, bool quote)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t run = 0; /* bytes that need no change, copied in one go */
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        const char *rep = NULL;
        size_t step = 1;
        if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '"' && quote)
            rep = "\\\"";
        else if (c >= 0x80 && (step = hlb_utf8_len(p + i, n - i)) == 0) {
            rep = "\xef\xbf\xbd";
            step = 1;
        }
        if (rep) {
            hlm_buf_add(b, p + i - run, run);
            run = 0;
            hlm_buf_puts(b, rep);
        } else {
            run += step;
        }
        i += step;
    }
    hlm_buf_add(b, p + n - run, run);
}

int hlm_family(hlm_expo_t *e, const char *name, hlm_mtype_t type, const char *help)
{
    e->cur = NULL;
    if (!hlm_metric_name_valid(name))
        return -EINVAL;
    if (hlm_expo_has_family(e, name))
        return -EEXIST;
    if ((e->nfamilies + 1) * 2 > e->names_cap)
        names_grow(e);
    char **slot = names_slot(e->names, e->names_cap, name);
    *slot = strdup(name);
    if (!*slot)
        abort();
    e->nfamilies++;
    e->cur = *slot;
    e->cur_len = strlen(name);
    static const char *const types[] = {[HLM_GAUGE] = "gauge", [HLM_COUNTER] = "counter",
                                        [HLM_UNTYPED] = "untyped"};
    if (help) {
        hlm_buf_puts(&e->out, "# HELP ");
        hlm_buf_add(&e->out, name, e->cur_len);
        hlm_buf_putc(&e->out, ' ');
        put_escaped(&e->out, help, false);
        hlm_buf_putc(&e->out, '\n');
    }
    hlm_buf_puts(&e->out, "# TYPE ");
    hlm_buf_add(&e->out, name, e->cur_len);
    hlm_buf_putc(&e->out, ' ');
    hlm_buf_puts(&e->out, types[type]);
    hlm_buf_putc(&e->out, '\n');
    return 0;
}

int hlm_sample(hlm_expo_t *e, const char *const *kv, size_t n, double v)
{
    if (!e->cur)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!hlm_label_name_valid(kv[2 * i]) || !kv[2 * i + 1])
            return -EINVAL;
    hlm_buf_add(&e->out, e->cur, e->cur_len);
    if (n) {
        hlm_buf_putc(&e->out, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                hlm_buf_putc(&e->out, ',');
            hlm_buf_puts(&e->out, kv[2 * i]);
            hlm_buf_add(&e->out, "=\"", 2);
            put_escaped(&e->out, kv[2 * i + 1], true);
            hlm_buf_putc(&e->out, '"');
        }
        hlm_buf_putc(&e->out, '}');
    }
    hlm_buf_putc(&e->out, ' ');
    char *p = hlm_buf_reserve(&e->out, 40);
    size_t len = hlm_fmt_double(p, v);
    p[len] = '\n';
    hlm_buf_commit(&e->out, len + 1);
    e->nsamples++;
    return 0;
}

const char *hlm_expo_text(const hlm_expo_t *e, size_t *len)
{
    if (len)
        *len = e->out.len;
    return e->out.data ? e->out.data : "";
}

size_t hlm_expo_samples(const hlm_expo_t *e)
{
    return e->nsamples;
}

size_t hlm_expo_families(const hlm_expo_t *e)
{
    return e->nfamilies;
}

void hlm_expo_reserve(hlm_expo_t *e, size_t len)
{
    hlm_buf_reserve(&e->out, len);
}

char *hlm_expo_steal(hlm_expo_t *e, size_t *len)
{
    hlm_buf_reserve(&e->out, 0); /* so that an empty exposition is "" not NULL */
    char *t = e->out.data;
    if (len)
        *len = e->out.len;
    e->out.data = NULL;
    e->out.len = e->out.cap = 0;
    hlm_expo_reset(e);
    return t;
}

/* Writes the decimal digits of M (no sign) into D; returns their count. */
static int u64_digits(char *d, uint64_t m)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    for (int i = 0; i < n; i++)
        d[i] = tmp[n - 1 - i];
    return n;
}

/* Go's %e form of digits D[0..nd) with decimal exponent EXP. */
static size_t put_e(char *out, size_t o, const char *d, int nd, int exp)
{
    out[o++] = d[0];
    if (nd > 1) {
        out[o++] = '.';
        memcpy(out + o, d + 1, (size_t)nd - 1);
        o += (size_t)nd - 1;
    }
    out[o++] = 'e';
    out[o++] = exp < 0 ? '-' : '+';
    int ae = exp < 0 ? -exp : exp;
    if (ae < 10)
        out[o++] = '0';
    o += (size_t)u64_digits(out + o, (uint64_t)ae);
    out[o] = '\0';
    return o;
}

size_t hlm_fmt_double(char *out, double v)
{
    if (isnan(v))
        return (size_t)sprintf(out, "NaN");
    if (isinf(v))
        return (size_t)sprintf(out, v > 0 ? "+Inf" : "-Inf");
    if (v == 0)
        return (size_t)sprintf(out, "0"); /* -0 too, as client_golang does */
    size_t o = 0;
    if (v < 0) {
        out[o++] = '-';
        v = -v;
    }
    char d[32];
    int nd, exp;
    if (v < 9007199254740992.0 && v == floor(v)) {
        /* Integers (most counters and byte gauges): digits without a
         * round-trip search. */
        nd = u64_digits(d, (uint64_t)v);
        exp = nd - 1;
        while (nd > 1 && d[nd - 1] == '0')
            nd--;
    } else {
        /* The shortest digits that read back as the same double. Rounding to
         * 15 significant digits gives them whenever 15 or fewer suffice (no
         * two such decimals share a double), which covers nearly every
         * value; 16 and then 17 digits always read back. */
        char e[40];
        for (int prec = 14; prec <= 16; prec++) {
            snprintf(e, sizeof e, "%.*e", prec, v);
            if (prec == 16 || strtod(e, NULL) == v)
                break;
        }
        nd = 0;
        const char *p = e;
        for (; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9')
                d[nd++] = *p;
        exp = (int)strtol(p + 1, NULL, 10);
        while (nd > 1 && d[nd - 1] == '0')
            nd--;
    }
    if (exp < -4 || exp >= 6)
        return put_e(out, o, d, nd, exp);
    int dp = exp + 1; /* digits before the decimal point */
    if (dp <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -dp; i++)
            out[o++] = '0';
        memcpy(out + o, d, (size_t)nd);
        o += (size_t)nd;
    } else if (dp >= nd) {
        memcpy(out + o, d, (size_t)nd);
        o += (size_t)nd;
        for (int i = nd; i < dp; i++)
            out[o++] = '0';
    } else {
        memcpy(out + o, d, (size_t)dp);
        o += (size_t)dp;
        out[o++] = '.';
        memcpy(out + o, d + dp, (size_t)(nd - dp));
        o += (size_t)(nd - dp);
    }
    out[o] = '\0';
    return o;
}
