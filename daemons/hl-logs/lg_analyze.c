/* Reading the JSON lines back: filters and analysis (lg_analyze.h). */
#include "lg_analyze.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "lg_record.h"

/* --- one line -------------------------------------------------------------- */

typedef struct {
    const char *p, *e;
} sc_t;

static void sws(sc_t *s)
{
    while (s->p < s->e && isspace((unsigned char)*s->p))
        s->p++;
}

/* A string's contents (between the quotes, escapes left as they are). */
static bool sstr(sc_t *s, const char **v, size_t *n)
{
    if (s->p >= s->e || *s->p != '"')
        return false;
    const char *start = ++s->p;
    while (s->p < s->e && *s->p != '"') {
        if (*s->p == '\\')
            s->p++;
        s->p++;
    }
    if (s->p >= s->e)
        return false;
    *v = start;
    *n = (size_t)(s->p - start);
    s->p++;
    return true;
}

static bool sskip(sc_t *s, int depth)
{
    if (depth > 32 || s->p >= s->e)
        return false;
    const char *v;
    size_t n;
    if (*s->p == '"')
        return sstr(s, &v, &n);
    if (*s->p == '{' || *s->p == '[') {
        char close = *s->p == '{' ? '}' : ']';
        s->p++;
        for (;;) {
            sws(s);
            if (s->p < s->e && *s->p == close) {
                s->p++;
                return true;
            }
            if (!sskip(s, depth + 1))
                return false;
            sws(s);
            if (s->p < s->e && (*s->p == ',' || *s->p == ':')) {
                s->p++;
                continue;
            }
            if (s->p < s->e && *s->p == close) {
                s->p++;
                return true;
            }
            return false;
        }
    }
    while (s->p < s->e && *s->p != ',' && *s->p != '}' && *s->p != ']' && !isspace((unsigned char)*s->p))
        s->p++;
    return true;
}

static bool keyis(const char *k, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(k, lit, n) == 0;
}

static bool contains(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(s + i, lit, l) == 0)
            return true;
    return false;
}

/* "request_duration=0.123" and the like in the message: a duration field */
static void message_durations(lg_line_t *out)
{
    const char *m = out->message, *e = out->message + out->message_n;
    for (const char *p = m; p < e && out->n_nums < 8; p++) {
        if (*p != '=')
            continue;
        const char *k = p;
        while (k > m && (isalnum((unsigned char)k[-1]) || k[-1] == '_'))
            k--;
        if (k == p || !contains(k, (size_t)(p - k), "duration"))
            continue;
        char num[32];
        size_t i = 0;
        const char *q = p + 1;
        while (q < e && i + 1 < sizeof num && (isdigit((unsigned char)*q) || *q == '.'))
            num[i++] = *q++;
        num[i] = 0;
        if (!i)
            continue;
        out->nums[out->n_nums].key = k;
        out->nums[out->n_nums].key_n = (size_t)(p - k);
        out->nums[out->n_nums].v = strtod(num, NULL);
        out->n_nums++;
    }
}

bool lg_line_parse(const char *s, size_t n, lg_line_t *out)
{
    memset(out, 0, sizeof *out);
    sc_t sc = {s, s + n};
    sws(&sc);
    if (sc.p >= sc.e || *sc.p != '{')
        return false;
    sc.p++;
    for (;;) {
        sws(&sc);
        if (sc.p < sc.e && *sc.p == '}')
            break;
        const char *k;
        size_t kn;
        if (!sstr(&sc, &k, &kn))
            return false;
        sws(&sc);
        if (sc.p >= sc.e || *sc.p != ':')
            return false;
        sc.p++;
        sws(&sc);
        if (sc.p < sc.e && *sc.p == '"') {
            const char *v;
            size_t vn;
            if (!sstr(&sc, &v, &vn))
                return false;
            if (keyis(k, kn, "asctime"))
                out->ts_us = lg_parse_asctime(v, vn);
            else if (keyis(k, kn, "name"))
                out->name = v, out->name_n = vn;
            else if (keyis(k, kn, "unit"))
                out->unit = v, out->unit_n = vn;
            else if (keyis(k, kn, "levelname"))
                out->level = v, out->level_n = vn;
            else if (keyis(k, kn, "message"))
                out->message = v, out->message_n = vn;
            else if (keyis(k, kn, "service"))
                out->service = v, out->service_n = vn;
            else if (keyis(k, kn, "status"))
                out->status = v, out->status_n = vn;
        } else if (sc.p < sc.e && (*sc.p == '-' || isdigit((unsigned char)*sc.p))) {
            char *end;
            double v = strtod(sc.p, &end);
            if (end == sc.p || end > sc.e)
                return false;
            sc.p = end;
            if (contains(k, kn, "duration") && out->n_nums < 8) {
                out->nums[out->n_nums].key = k;
                out->nums[out->n_nums].key_n = kn;
                out->nums[out->n_nums].v = v;
                out->n_nums++;
            }
        } else {
            if (keyis(k, kn, "health_check"))
                out->health_check = true;
            if (!sskip(&sc, 1))
                return false;
        }
        sws(&sc);
        if (sc.p < sc.e && *sc.p == ',') {
            sc.p++;
            continue;
        }
        if (sc.p < sc.e && *sc.p == '}')
            break;
        return false;
    }
    if (!out->message)
        out->message = "";
    if (contains(out->message, out->message_n, "health_check"))
        out->health_check = true;
    message_durations(out);
    return true;
}

uint64_t lg_parse_asctime(const char *s, size_t n)
{
    if (n < 20)
        return 0;
    struct tm tm = {0};
    char buf[32];
    memcpy(buf, s, n < 31 ? n : 31);
    buf[n < 31 ? n : 31] = 0;
    int us = 0, consumed = 0;
    if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &consumed) != 6)
        return 0;
    if (buf[consumed] == '.') {
        int digits = 0;
        for (const char *p = buf + consumed + 1; isdigit((unsigned char)*p) && digits < 6; p++, digits++)
            us = us * 10 + (*p - '0');
        while (digits++ < 6)
            us *= 10;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t < 0)
        return 0;
    return (uint64_t)t * 1000000u + (uint64_t)us;
}

void lg_normalise(const char *msg, size_t n, hlb_buf_t *out)
{
    for (size_t i = 0; i < n;) {
        if (isxdigit((unsigned char)msg[i])) {
            size_t j = i;
            bool digit = false, alpha = false;
            while (j < n && (isxdigit((unsigned char)msg[j]) || msg[j] == '-')) {
                digit |= isdigit((unsigned char)msg[j]) != 0;
                alpha |= isalpha((unsigned char)msg[j]) != 0;
                j++;
            }
            /* a word made of hex digits only, at a word boundary */
            bool boundary = (i == 0 || !isalnum((unsigned char)msg[i - 1])) &&
                            (j == n || !isalnum((unsigned char)msg[j]));
            if (boundary && digit && alpha && j - i >= 8) {
                hlb_buf_add(out, "H", 1);
                i = j;
                continue;
            }
        }
        if (isdigit((unsigned char)msg[i])) {
            while (i < n && (isdigit((unsigned char)msg[i]) || msg[i] == '.'))
                i++;
            hlb_buf_add(out, "N", 1);
            continue;
        }
        hlb_buf_add(out, msg + i, 1);
        i++;
    }
    if (!out->data)
        hlb_buf_add(out, "", 0);
}

static int level_priority(const char *l, size_t n)
{
    static const struct {
        const char *w;
        int p;
    } w[] = {{"CRITICAL", 2}, {"ERROR", 3}, {"WARNING", 4}, {"INFO", 6}, {"DEBUG", 7}};
    for (size_t i = 0; i < 5; i++)
        if (strlen(w[i].w) == n && strncasecmp(w[i].w, l, n) == 0)
            return w[i].p;
    return 6;
}

/* The unit without ".service", or the name. */
static void service_of(const lg_line_t *l, const char **s, size_t *n)
{
    if (l->unit_n) {
        *s = l->unit;
        *n = l->unit_n;
        if (*n > 8 && memcmp(*s + *n - 8, ".service", 8) == 0)
            *n -= 8;
    } else {
        *s = l->name ? l->name : "";
        *n = l->name_n;
    }
}

bool lg_filter_match(const lg_filter_t *f, const lg_line_t *l)
{
    if (f->since_us && l->ts_us < f->since_us)
        return false;
    if (f->max_priority >= 0 && level_priority(l->level, l->level_n) > f->max_priority)
        return false;
    if (f->service && *f->service) {
        const char *s;
        size_t n;
        service_of(l, &s, &n);
        if (strlen(f->service) != n || memcmp(f->service, s, n) != 0)
            return false;
    }
    return true;
}

/* --- the analysis ---------------------------------------------------------------- */

typedef struct {
    char *key;
    lg_error_row_t row;
} err_t;

typedef struct {
    lg_duration_row_t row;
    double *v;
    size_t n, cap;
    double sum;
} dur_t;

struct lg_analysis {
    uint64_t records, errors, warnings;
    err_t *errs;
    size_t n_errs, cap_errs;
    dur_t *durs;
    size_t n_durs;
    lg_health_row_t *health;
    size_t n_health;
    lg_error_row_t *err_rows;
    lg_duration_row_t *dur_rows;
};

lg_analysis_t *lg_analysis_new(void) { return calloc(1, sizeof(lg_analysis_t)); }

void lg_analysis_free(lg_analysis_t **ap)
{
    lg_analysis_t *a = *ap;
    if (!a)
        return;
    for (size_t i = 0; i < a->n_errs; i++) {
        free(a->errs[i].key);
        free(a->errs[i].row.example);
        free(a->errs[i].row.service);
    }
    for (size_t i = 0; i < a->n_durs; i++) {
        free(a->durs[i].row.field);
        free(a->durs[i].v);
    }
    for (size_t i = 0; i < a->n_health; i++) {
        free(a->health[i].service);
        free(a->health[i].last);
    }
    free(a->errs);
    free(a->durs);
    free(a->health);
    free(a->err_rows);
    free(a->dur_rows);
    free(a);
    *ap = NULL;
}

static char *dupn(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = 0;
    }
    return c;
}

static void add_error(lg_analysis_t *a, const lg_line_t *l)
{
    hlb_buf_t norm = {0};
    lg_normalise(l->message, l->message_n > 4096 ? 4096 : l->message_n, &norm);
    const char *svc;
    size_t sn;
    service_of(l, &svc, &sn);
    /* one pattern per service: the same words from two services are two problems */
    hlb_buf_add(&norm, "\x1f", 1);
    hlb_buf_add(&norm, svc, sn);
    for (size_t i = 0; i < a->n_errs; i++)
        if (strcmp(a->errs[i].key, norm.data) == 0) {
            a->errs[i].row.count++;
            free(a->errs[i].row.example);
            a->errs[i].row.example = dupn(l->message, l->message_n > 4096 ? 4096 : l->message_n);
            hlb_buf_free(&norm);
            return;
        }
    if (a->n_errs >= 100000) { /* bounded: a flood of unique messages */
        hlb_buf_free(&norm);
        return;
    }
    if (a->n_errs == a->cap_errs) {
        size_t nc = a->cap_errs ? a->cap_errs * 2 : 32;
        err_t *ne = realloc(a->errs, nc * sizeof *ne);
        if (!ne) {
            hlb_buf_free(&norm);
            return;
        }
        a->errs = ne;
        a->cap_errs = nc;
    }
    err_t *e = &a->errs[a->n_errs++];
    e->key = hlb_buf_steal(&norm);
    e->row.pattern = e->key; /* up to the separator, cut when reported */
    e->row.count = 1;
    e->row.example = dupn(l->message, l->message_n > 4096 ? 4096 : l->message_n);
    e->row.service = dupn(svc, sn);
}

static void add_duration(lg_analysis_t *a, const char *k, size_t kn, double v)
{
    dur_t *d = NULL;
    for (size_t i = 0; i < a->n_durs; i++)
        if (strlen(a->durs[i].row.field) == kn && memcmp(a->durs[i].row.field, k, kn) == 0)
            d = &a->durs[i];
    if (!d) {
        if (a->n_durs >= 64)
            return;
        dur_t *nd = realloc(a->durs, (a->n_durs + 1) * sizeof *nd);
        if (!nd)
            return;
        a->durs = nd;
        d = &a->durs[a->n_durs++];
        memset(d, 0, sizeof *d);
        d->row.field = dupn(k, kn);
    }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 256;
        double *nv = realloc(d->v, nc * sizeof *nv);
        if (!nv)
            return;
        d->v = nv;
        d->cap = nc;
    }
    d->v[d->n++] = v;
    d->sum += v;
}

static void add_health(lg_analysis_t *a, const lg_line_t *l)
{
    const char *svc = l->service;
    size_t sn = l->service_n;
    if (!svc)
        service_of(l, &svc, &sn);
    lg_health_row_t *h = NULL;
    for (size_t i = 0; i < a->n_health; i++)
        if (strlen(a->health[i].service) == sn && memcmp(a->health[i].service, svc, sn) == 0)
            h = &a->health[i];
    if (!h) {
        if (a->n_health >= 1024)
            return;
        lg_health_row_t *nh = realloc(a->health, (a->n_health + 1) * sizeof *nh);
        if (!nh)
            return;
        a->health = nh;
        h = &a->health[a->n_health++];
        memset(h, 0, sizeof *h);
        h->service = dupn(svc, sn);
    }
    h->checks++;
    const char *st = l->status ? l->status : "";
    size_t stn = l->status_n;
    if (stn == 7 && strncasecmp(st, "healthy", 7) == 0)
        h->healthy++;
    else if (stn == 8 && strncasecmp(st, "degraded", 8) == 0)
        h->degraded++;
    else if (stn == 9 && strncasecmp(st, "unhealthy", 9) == 0)
        h->unhealthy++;
    else
        h->other++;
    free(h->last);
    h->last = dupn(st, stn);
}

void lg_analysis_add(lg_analysis_t *a, const lg_line_t *l)
{
    a->records++;
    int p = level_priority(l->level, l->level_n);
    if (p <= 3) {
        a->errors++;
        add_error(a, l);
    } else if (p == 4) {
        a->warnings++;
    }
    for (size_t i = 0; i < l->n_nums; i++)
        add_duration(a, l->nums[i].key, l->nums[i].key_n, l->nums[i].v);
    if (l->health_check && l->status)
        add_health(a, l);
}

uint64_t lg_analysis_records(const lg_analysis_t *a) { return a->records; }
uint64_t lg_analysis_errors(const lg_analysis_t *a) { return a->errors; }
uint64_t lg_analysis_warnings(const lg_analysis_t *a) { return a->warnings; }

static int cmp_err(const void *x, const void *y)
{
    const lg_error_row_t *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->pattern, b->pattern);
}

size_t lg_analysis_top_errors(lg_analysis_t *a, size_t top, const lg_error_row_t **rows)
{
    free(a->err_rows);
    a->err_rows = calloc(a->n_errs ? a->n_errs : 1, sizeof *a->err_rows);
    if (!a->err_rows)
        return 0;
    for (size_t i = 0; i < a->n_errs; i++) {
        char *sep = strchr(a->errs[i].key, '\x1f');
        if (sep)
            *sep = 0; /* the pattern alone from now on */
        a->err_rows[i] = a->errs[i].row;
    }
    qsort(a->err_rows, a->n_errs, sizeof *a->err_rows, cmp_err);
    *rows = a->err_rows;
    return a->n_errs < top ? a->n_errs : top;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Nearest rank: the smallest value with at least Q of the values at or below it. */
static double rank(const double *v, size_t n, double q)
{
    size_t k = (size_t)ceil(q * (double)n);
    return v[k ? k - 1 : 0];
}

size_t lg_analysis_durations(lg_analysis_t *a, const lg_duration_row_t **rows)
{
    free(a->dur_rows);
    a->dur_rows = calloc(a->n_durs ? a->n_durs : 1, sizeof *a->dur_rows);
    if (!a->dur_rows)
        return 0;
    for (size_t i = 0; i < a->n_durs; i++) {
        dur_t *d = &a->durs[i];
        qsort(d->v, d->n, sizeof *d->v, cmp_double);
        d->row.count = d->n;
        d->row.mean = d->n ? d->sum / (double)d->n : 0;
        d->row.p50 = d->n ? rank(d->v, d->n, 0.50) : 0;
        d->row.p95 = d->n ? rank(d->v, d->n, 0.95) : 0;
        d->row.p99 = d->n ? rank(d->v, d->n, 0.99) : 0;
        d->row.max = d->n ? d->v[d->n - 1] : 0;
        a->dur_rows[i] = d->row;
    }
    *rows = a->dur_rows;
    return a->n_durs;
}

size_t lg_analysis_health(lg_analysis_t *a, const lg_health_row_t **rows)
{
    *rows = a->health;
    return a->n_health;
}

/* --- the files ----------------------------------------------------------------- */

typedef struct {
    char name[300];
    int index; /* 0 current, k rotated */
} fent_t;

static int cmp_fent(const void *x, const void *y)
{
    const fent_t *a = x, *b = y;
    if (a->index != b->index) /* oldest (highest index) first */
        return a->index > b->index ? -1 : 1;
    return strcmp(a->name, b->name);
}

int lg_parse_since(const char *s, uint64_t now_us, uint64_t *out)
{
    *out = 0;
    if (!s || !*s)
        return -EINVAL;
    uint64_t t = lg_parse_asctime(s, strlen(s));
    if (t) {
        *out = t;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -EINVAL;
    uint64_t unit;
    if (!strcmp(end, "s"))
        unit = 1;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        unit = 60;
    else if (!strcmp(end, "h"))
        unit = 3600;
    else if (!strcmp(end, "d"))
        unit = 86400;
    else if (!*end) { /* seconds since the epoch */
        *out = (uint64_t)v * 1000000u;
        return 0;
    } else
        return -EINVAL;
    uint64_t back = (uint64_t)v * unit * 1000000u;
    *out = back >= now_us ? 1 : now_us - back;
    return 0;
}

uint64_t lg_scan_dir(const char *dir, const char *service, uint64_t budget, bool current_only,
                     bool *truncated, lg_line_fn *fn, void *arg)
{
    *truncated = false;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    fent_t *fe = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *dot = strstr(e->d_name, ".log");
        if (!dot || e->d_name[0] == '.')
            continue;
        size_t base = (size_t)(dot - e->d_name);
        if (service && *service && (strlen(service) != base || strncmp(e->d_name, service, base)))
            continue;
        int index = 0;
        if (dot[4] == '.')
            index = atoi(dot + 5);
        else if (dot[4])
            continue;
        if (current_only && index)
            continue;
        fent_t *nf = realloc(fe, (n + 1) * sizeof *nf);
        if (!nf)
            break;
        fe = nf;
        snprintf(fe[n].name, sizeof fe[n].name, "%s", e->d_name);
        fe[n].index = index;
        n++;
    }
    closedir(d);
    if (n)
        qsort(fe, n, sizeof *fe, cmp_fent);
    uint64_t read_bytes = 0;
    char *line = NULL;
    size_t cap = 1 << 16;
    line = malloc(cap);
    for (size_t i = 0; i < n && line; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, fe[i].name);
        gzFile gz = gzopen(path, "rb"); /* reads plain files as they are, too */
        if (!gz)
            continue;
        while (gzgets(gz, line, (int)cap)) {
            size_t l = strlen(line);
            read_bytes += l;
            if (l && line[l - 1] == '\n')
                line[--l] = 0;
            else if (l == cap - 1) { /* longer than any line we write: skip its rest */
                int c;
                while ((c = gzgetc(gz)) != -1 && c != '\n')
                    read_bytes++;
                continue;
            }
            fn(line, l, arg);
            if (read_bytes >= budget) {
                *truncated = true;
                break;
            }
        }
        gzclose(gz);
        if (*truncated)
            break;
    }
    free(line);
    free(fe);
    return read_bytes;
}
