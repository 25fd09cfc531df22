/* The declarative config schema: rows of (key, kind, offset, default,
 * limits, parser) drive parsing, unknown keys, defaults and reload checks. */
#include "hlbus/confschema.h"

#include "hlbus/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const hlb_conf_sections[] = {
    /* shared settings, read by the daemon runtime */
    "admin_group", "log",
    /* the next daemons (issues filed): their sections are not typos */
    "hl-logs", "hl-git-sync", "hl-uplink",
    NULL};

/* One section per daemon, named as the daemon: every hl_daemon() of
 * daemons/ and every hl_conf_section() (the e2e tier's hl-testd, when tests
 * are built), generated at configure time (cmake/HlDaemon.cmake). */
extern const char *const hlb_conf_daemon_sections[];

static bool section_known(const char *key)
{
    for (size_t k = 0; hlb_conf_sections[k]; k++)
        if (!strcmp(hlb_conf_sections[k], key))
            return true;
    for (size_t k = 0; hlb_conf_daemon_sections[k]; k++)
        if (!strcmp(hlb_conf_daemon_sections[k], key))
            return true;
    return false;
}

int hlb_conf_check_sections(const hlb_conf_t *root, hlb_diag_t *d)
{
    int rc = 0;
    for (size_t i = 0; i < hlb_conf_count(root); i++) {
        const hlb_conf_t *s = hlb_conf_at(root, i);
        const char *key = hlb_conf_key(s);
        if (section_known(key))
            continue;
        hlb_buf_t b = {0};
        for (size_t k = 0; hlb_conf_sections[k]; k++)
            hlb_buf_printf(&b, "%s%s", k ? ", " : "", hlb_conf_sections[k]);
        for (size_t k = 0; hlb_conf_daemon_sections[k]; k++)
            hlb_buf_printf(&b, ", %s", hlb_conf_daemon_sections[k]);
        hlb_diag_add(d, s, "unknown section '%s' (known: %s)", key, b.data);
        hlb_buf_free(&b);
        rc = -EINVAL;
    }
    return rc;
}

int hlb_parse_size(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},     {"B", 0},   {"K", 10},  {"KiB", 10}, {"M", 20},
                 {"MiB", 20}, {"G", 30},  {"GiB", 30}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (v > (UINT64_MAX >> units[i].shift))
            return -EINVAL;
        *out = (uint64_t)v << units[i].shift;
        return 0;
    }
    return -EINVAL;
}

int hlb_parse_mode(const char *s, mode_t *out)
{
    if (!s || !*s || strlen(s) > 4)
        return -EINVAL;
    unsigned v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '7')
            return -EINVAL;
        v = v * 8 + (unsigned)(*p - '0');
    }
    *out = (mode_t)v;
    return 0;
}

/* ---- field access by width ---- */

static void put_int(void *field, size_t width, int64_t v)
{
    switch (width) {
    case 1: { int8_t x = (int8_t)v; memcpy(field, &x, 1); break; }
    case 2: { int16_t x = (int16_t)v; memcpy(field, &x, 2); break; }
    case 4: { int32_t x = (int32_t)v; memcpy(field, &x, 4); break; }
    default: memcpy(field, &v, 8); break;
    }
}

static int64_t get_int(const void *field, size_t width)
{
    switch (width) {
    case 1: { int8_t x; memcpy(&x, field, 1); return x; }
    case 2: { int16_t x; memcpy(&x, field, 2); return x; }
    case 4: { int32_t x; memcpy(&x, field, 4); return x; }
    default: { int64_t x; memcpy(&x, field, 8); return x; }
    }
}

/* The largest value a field of WIDTH bytes holds. Rows do not say whether
 * a field is signed: below 4 bytes a row whose minimum is not negative is
 * taken as unsigned; 4-byte fields stop at INT32_MAX, safe for both. */
static int64_t width_max(size_t width, int64_t min)
{
    if (width >= 8)
        return INT64_MAX;
    if (width == 4)
        return INT32_MAX;
    return min >= 0 ? (int64_t)((1ull << (width * 8)) - 1) : (int64_t)((1ull << (width * 8 - 1)) - 1);
}

/* ---- secrets ---- */

static char *secret_from_file(const hlb_conf_t *at, const char *what, const char *path,
                              hlb_diag_t *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        hlb_diag_add(d, at, "%s: cannot read %s: %s", what, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & S_IROTH)) {
        /* A secret everyone can read is not one (ssh refuses such keys too). */
        close(fd);
        hlb_diag_add(d, at, "%s: %s is readable by everyone; chmod 0640 (or 0600) it", what,
                     path);
        return NULL;
    }
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf && (n = read(fd, buf + len, sizeof buf - len)) > 0)
        len += (size_t)n;
    bool too_big = len == sizeof buf && read(fd, &(char){0}, 1) > 0;
    close(fd);
    if (too_big) {
        explicit_bzero(buf, sizeof buf);
        hlb_diag_add(d, at, "%s: %s is longer than %zu bytes", what, path, sizeof buf - 1);
        return NULL;
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (len == 0 || memchr(buf, '\n', len) || memchr(buf, '\0', len)) {
        explicit_bzero(buf, sizeof buf);
        hlb_diag_add(d, at, "%s: %s must hold one line, the secret", what, path);
        return NULL;
    }
    char *s = strndup(buf, len);
    explicit_bzero(buf, sizeof buf);
    return s;
}

int hlb_conf_secret_read(const hlb_conf_t *node, const char *key, char **out, hlb_diag_t *d)
{
    *out = NULL;
    char file_key[128], cred_key[128];
    snprintf(file_key, sizeof file_key, "%s_file", key);
    snprintf(cred_key, sizeof cred_key, "%s_credential", key);
    const hlb_conf_t *inl = hlb_conf_get(node, key);
    const hlb_conf_t *f = hlb_conf_get(node, file_key);
    const hlb_conf_t *c = hlb_conf_get(node, cred_key);
    if (inl) {
        /* Refused, not warned about: a config file is read by more people
         * and tools than a secret should be, and a warning is easy to miss.
         * The value is never quoted. */
        hlb_diag_add(d, inl,
                     "'%s' is a secret and is not read inline; put it in a file (%s: PATH, "
                     "mode 0640) or a systemd credential (%s: NAME, with LoadCredential=)",
                     key, file_key, cred_key);
        return -EINVAL;
    }
    if (f && c) {
        hlb_diag_add(d, c, "'%s' and '%s' both given; use one", file_key, cred_key);
        return -EINVAL;
    }
    if (f) {
        const char *path = hlb_conf_scalar(f);
        if (!path || path[0] != '/') {
            hlb_diag_add(d, f, "'%s' must be an absolute path", file_key);
            return -EINVAL;
        }
        *out = secret_from_file(f, file_key, path, d);
        return *out ? 0 : -EINVAL;
    }
    if (c) {
        const char *name = hlb_conf_scalar(c);
        if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
            strcmp(name, "..") == 0) {
            hlb_diag_add(d, c, "'%s' must be a credential name (no '/')", cred_key);
            return -EINVAL;
        }
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        if (!dir || !*dir) {
            hlb_diag_add(d, c,
                         "'%s: %s' needs systemd credentials: add LoadCredential=%s:PATH to the "
                         "unit ($CREDENTIALS_DIRECTORY is not set)",
                         cred_key, name, name);
            return -EINVAL;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        *out = secret_from_file(c, cred_key, path, d);
        return *out ? 0 : -EINVAL;
    }
    return 0;
}

/* ---- rows ---- */

static const char *kind_word(const hlb_conf_key_t *k)
{
    switch (k->kind) {
    case HLB_KIND_STR: return "a string";
    case HLB_KIND_INT: return "an integer";
    case HLB_KIND_DOUBLE: return "a number";
    case HLB_KIND_BOOL: return "true or false";
    case HLB_KIND_DURATION: return "a duration like 500ms, 10s, 5m or 1h";
    case HLB_KIND_SIZE: return "a size like 1MiB, 64K or 65536";
    case HLB_KIND_MODE: return "an octal mode like \"0660\"";
    case HLB_KIND_ENUM: return "one of the listed words";
    default: return "a value";
    }
}

static bool is_scalar_kind(hlb_conf_kindof_t k)
{
    return k <= HLB_KIND_ENUM;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_table(const hlb_conf_table_t *t, const hlb_conf_t *node, const hlb_conf_t *at,
                       void *obj, void *ctx, hlb_diag_t *d, bool zero);

static int parse_vec(const hlb_conf_key_t *k, const hlb_conf_t *n, hlb_conf_vec_t *vec, void *ctx,
                     hlb_diag_t *d)
{
    bool dict = k->kind == HLB_KIND_DICT;
    if (hlb_conf_kind(n) != (dict ? HLB_CONF_MAP : HLB_CONF_SEQ)) {
        hlb_diag_add(d, n, "'%s' must be a %s", k->key,
                     dict ? "map of name: {settings}" : "list of maps");
        return -EINVAL;
    }
    size_t cnt = hlb_conf_count(n);
    if (k->max && (int64_t)cnt > k->max) {
        hlb_diag_add(d, n, "'%s' holds %zu entries; at most %lld", k->key, cnt,
                     (long long)k->max);
        return -EINVAL;
    }
    if (k->min && (int64_t)cnt < k->min) {
        hlb_diag_add(d, n, "'%s' needs at least %lld entries", k->key, (long long)k->min);
        return -EINVAL;
    }
    vec->items = calloc(cnt ? cnt : 1, k->sub->size);
    if (!vec->items)
        abort();
    int rc = 0;
    for (size_t i = 0; i < cnt; i++) {
        const hlb_conf_t *item = hlb_conf_at(n, i);
        char *obj = (char *)vec->items + i * k->sub->size;
        if (k->sub->has_name) { /* every item has its name, even a bad one */
            char *name = strdup(dict ? hlb_conf_key(item) : "");
            memcpy(obj + k->sub->name_offset, &name, sizeof name);
        }
        const char *v = hlb_conf_scalar(item);
        /* "name:" with nothing after it: an entry of all defaults */
        bool empty = dict && v && (!*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0);
        if (hlb_conf_kind(item) != HLB_CONF_MAP && !empty) {
            if (dict)
                hlb_diag_add(d, item, "%s '%s' must be a map (or empty for the defaults)",
                             k->sub->name, hlb_conf_key(item));
            else
                hlb_diag_add(d, item, "an entry of '%s' must be a map", k->key);
            rc = -EINVAL;
            continue;
        }
        if (parse_table(k->sub, empty ? NULL : item, item, obj, ctx, d, false) < 0)
            rc = -EINVAL;
    }
    vec->n = cnt;
    return rc;
}

/* Parses one row's NODE (present) into FIELD. */
static int parse_row(const hlb_conf_key_t *k, const hlb_conf_t *n, void *field, void *ctx,
                     hlb_diag_t *d)
{
    if (is_scalar_kind(k->kind) && hlb_conf_kind(n) != HLB_CONF_SCALAR) {
        hlb_diag_add(d, n, "'%s' must be %s, not a %s", k->key, kind_word(k),
                     hlb_conf_kind(n) == HLB_CONF_MAP ? "map" : "list");
        return -EINVAL;
    }
    const char *s = hlb_conf_scalar(n);
    int64_t iv = 0;
    switch (k->kind) {
    case HLB_KIND_STR: {
        char **slot = field;
        free(*slot);
        *slot = strdup(s);
        return 0;
    }
    case HLB_KIND_INT:
        if (hlb_parse_int(s, &iv) < 0) {
            hlb_diag_add(d, n, "'%s' must be an integer, not '%s'", k->key, s);
            return -EINVAL;
        }
        goto range;
    case HLB_KIND_DURATION:
        if (hlb_parse_duration_ms(s, &iv) < 0) {
            hlb_diag_add(d, n, "'%s' must be %s, not '%s'", k->key, kind_word(k), s);
            return -EINVAL;
        }
        goto range;
    case HLB_KIND_SIZE: {
        uint64_t u;
        if (hlb_parse_size(s, &u) < 0 || u > INT64_MAX) {
            hlb_diag_add(d, n, "'%s' must be %s, not '%s'", k->key, kind_word(k), s);
            return -EINVAL;
        }
        iv = (int64_t)u;
        goto range;
    }
    case HLB_KIND_MODE: {
        mode_t m;
        if (hlb_parse_mode(s, &m) < 0) {
            hlb_diag_add(d, n, "'%s' must be %s, not '%s'", k->key, kind_word(k), s);
            return -EINVAL;
        }
        iv = m;
        goto range;
    }
    range: {
        int64_t lo = k->min, hi = k->max;
        if ((lo == 0 && hi == 0) || hi > width_max(k->width, lo))
            hi = width_max(k->width, lo);
        if (iv < lo || iv > hi) {
            const char *unit = k->kind == HLB_KIND_DURATION ? "ms"
                               : k->kind == HLB_KIND_SIZE   ? " bytes"
                                                            : "";
            if (k->kind == HLB_KIND_MODE)
                hlb_diag_add(d, n, "'%s' must be between %04llo and %04llo, not %04llo", k->key,
                             (long long)lo, (long long)hi, (long long)iv);
            else
                hlb_diag_add(d, n, "'%s' must be between %lld%s and %lld%s, not %lld%s", k->key,
                             (long long)lo, unit, (long long)hi, unit, (long long)iv, unit);
            return -EINVAL;
        }
        put_int(field, k->width, iv);
        return 0;
    }
    case HLB_KIND_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || !isfinite(v)) {
            hlb_diag_add(d, n, "'%s' must be a number, not '%s'", k->key, s);
            return -EINVAL;
        }
        if ((k->dmin != 0 || k->dmax != 0) && (v < k->dmin || v > k->dmax)) {
            hlb_diag_add(d, n, "'%s' must be between %g and %g, not %g", k->key, k->dmin, k->dmax, v);
            return -EINVAL;
        }
        memcpy(field, &v, sizeof v);
        return 0;
    }
    case HLB_KIND_BOOL: {
        bool b;
        if (parse_bool(s, &b) < 0) {
            hlb_diag_add(d, n, "'%s' must be true or false, not '%s'", k->key, s);
            return -EINVAL;
        }
        memcpy(field, &b, sizeof b);
        return 0;
    }
    case HLB_KIND_ENUM:
        for (size_t i = 0; k->names[i]; i++)
            if (strcmp(k->names[i], s) == 0) {
                put_int(field, k->width, k->values ? k->values[i] : (int64_t)i);
                return 0;
            }
        {
            hlb_buf_t b = {0};
            for (size_t i = 0; k->names[i]; i++)
                hlb_buf_printf(&b, "%s%s", i ? ", " : "", k->names[i]);
            hlb_diag_add(d, n, "'%s' must be one of %s, not '%s'", k->key, b.data, s);
            hlb_buf_free(&b);
        }
        return -EINVAL;
    case HLB_KIND_STRV: {
        if (hlb_conf_kind(n) != HLB_CONF_SEQ) {
            hlb_diag_add(d, n, "'%s' must be a list of strings", k->key);
            return -EINVAL;
        }
        size_t cnt = hlb_conf_count(n);
        if (k->max && (int64_t)cnt > k->max) {
            hlb_diag_add(d, n, "'%s' holds %zu items; at most %lld", k->key, cnt,
                         (long long)k->max);
            return -EINVAL;
        }
        char **v = calloc(cnt + 1, sizeof *v);
        if (!v)
            abort();
        int rc = 0;
        for (size_t i = 0; i < cnt; i++) {
            const char *item = hlb_conf_scalar(hlb_conf_at(n, i));
            if (!item) {
                hlb_diag_add(d, hlb_conf_at(n, i), "'%s' must be a list of strings", k->key);
                item = "";
                rc = -EINVAL;
            }
            v[i] = strdup(item);
        }
        char ***slot = field;
        for (char **p = *slot; p && *p; p++)
            free(*p);
        free(*slot);
        *slot = v;
        return rc;
    }
    case HLB_KIND_CUSTOM:
        return k->parse(n, field, ctx, d);
    case HLB_KIND_TABLE:
        if (hlb_conf_kind(n) != HLB_CONF_MAP) {
            hlb_diag_add(d, n, "'%s' must be a map", k->key);
            return -EINVAL;
        }
        return parse_table(k->sub, n, n, field, ctx, d, false);
    case HLB_KIND_LIST:
    case HLB_KIND_DICT:
        return parse_vec(k, n, field, ctx, d);
    case HLB_KIND_SECRET:
        break;
    }
    return 0;
}

/* Applies a row's built-in default, written as config text. */
static void apply_default(const hlb_conf_table_t *t, const hlb_conf_key_t *k, void *field,
                          void *ctx)
{
    char *text = NULL;
    if (asprintf(&text, "v: %s\n", k->def) < 0)
        abort();
    char name[160];
    snprintf(name, sizeof name, "<built-in default of %s.%s>", t->name, k->key);
    hlb_diag_t dd = {0};
    hlb_conf_t *c = hlb_conf_parse(name, text, &dd);
    free(text);
    const hlb_conf_t *n = hlb_conf_get(c, "v");
    if (n) {
        hlb_conf_key_t row = *k;
        row.key = k->key;
        parse_row(&row, n, field, ctx, &dd);
    }
    if (dd.errors || !n) {
        /* a bug in the table, not in the user's file: loud, at once */
        fprintf(stderr, "hlbus: bad schema default: %s", dd.text ? dd.text : name);
        abort();
    }
    hlb_diag_free(&dd);
    hlb_conf_destroy(&c);
}

/* Whether map NODE's entry KEY belongs to row K. */
static bool row_owns(const hlb_conf_key_t *k, const char *key)
{
    size_t kl = strlen(k->key);
    if (strcmp(k->key, key) == 0)
        return true;
    if (k->kind != HLB_KIND_SECRET || strncmp(key, k->key, kl) != 0)
        return false;
    return strcmp(key + kl, "_file") == 0 || strcmp(key + kl, "_credential") == 0;
}

static void unknown_key(const hlb_conf_table_t *t, const hlb_conf_t *node, const hlb_conf_t *kid,
                        hlb_diag_t *d)
{
    hlb_buf_t b = {0};
    for (const hlb_conf_key_t *k = t->keys; k->key; k++) {
        if (k->kind == HLB_KIND_SECRET)
            hlb_buf_printf(&b, "%s%s_file, %s_credential", b.len ? ", " : "", k->key, k->key);
        else
            hlb_buf_printf(&b, "%s%s", b.len ? ", " : "", k->key);
    }
    const char *where = hlb_conf_key(node) ? hlb_conf_key(node) : t->name;
    hlb_diag_add(d, kid, "unknown key '%s' in '%s' (known: %s)", hlb_conf_key(kid), where,
                 b.data ? b.data : "none");
    hlb_buf_free(&b);
}

/* AT: where messages about an absent NODE point (an empty entry), or NULL. */
static int parse_table(const hlb_conf_table_t *t, const hlb_conf_t *node, const hlb_conf_t *at,
                       void *obj, void *ctx, hlb_diag_t *d, bool zero)
{
    int errors = d->errors;
    if (zero)
        memset(obj, 0, t->size);
    if (t->init)
        t->init(obj, ctx);
    if (node && hlb_conf_kind(node) != HLB_CONF_MAP) {
        hlb_diag_add(d, node, "'%s' must be a map", hlb_conf_key(node) ? hlb_conf_key(node) : t->name);
        node = NULL;
    }
    for (size_t i = 0; i < hlb_conf_count(node); i++) {
        const hlb_conf_t *kid = hlb_conf_at(node, i);
        bool known = false;
        for (const hlb_conf_key_t *k = t->keys; k->key && !known; k++)
            known = row_owns(k, hlb_conf_key(kid));
        if (!known)
            unknown_key(t, node, kid, d);
    }
    for (const hlb_conf_key_t *k = t->keys; k->key; k++) {
        void *field = (char *)obj + k->offset;
        if (k->kind == HLB_KIND_SECRET) {
            char *s = NULL;
            hlb_conf_secret_read(node, k->key, &s, d);
            if (s) {
                memcpy(field, &s, sizeof s);
            } else if (k->flags & HLB_KEY_REQUIRED && !hlb_conf_get(node, k->key)) {
                hlb_diag_add(d, node ? node : at, "'%s' needs '%s_file' or '%s_credential'",
                             t->name, k->key, k->key);
            }
            continue;
        }
        const hlb_conf_t *n = hlb_conf_get(node, k->key);
        if (!n && k->kind == HLB_KIND_TABLE) {
            /* an absent nested map: its rows' defaults */
            parse_table(k->sub, NULL, NULL, field, ctx, d, false);
            continue;
        }
        if (!n) {
            if (k->flags & HLB_KEY_REQUIRED) {
                const hlb_conf_t *where = node ? node : at;
                hlb_diag_add(d, where, "'%s' needs '%s'",
                             where && hlb_conf_key(where) ? hlb_conf_key(where) : t->name, k->key);
            }
            else if (k->def)
                apply_default(t, k, field, ctx);
            continue;
        }
        if (parse_row(k, n, field, ctx, d) < 0 && k->def && is_scalar_kind(k->kind) &&
            k->kind != HLB_KIND_STR)
            apply_default(t, k, field, ctx); /* a bad value leaves the default, as before */
    }
    if (t->check)
        t->check(obj, node, ctx, d);
    return d->errors > errors ? -EINVAL : 0;
}

int hlb_conf_schema_parse(const hlb_conf_table_t *table, const hlb_conf_t *node, void *obj,
                          void *ctx, hlb_diag_t *d)
{
    hlb_diag_t local = {0};
    int rc = parse_table(table, node, NULL, obj, ctx, d ? d : &local, true);
    hlb_diag_free(&local);
    return rc;
}

static void free_table(const hlb_conf_table_t *t, void *obj);

static void free_row(const hlb_conf_key_t *k, void *field)
{
    switch (k->kind) {
    case HLB_KIND_SECRET: {
        char **slot = field;
        if (*slot)
            explicit_bzero(*slot, strlen(*slot));
        free(*slot);
        *slot = NULL;
        break;
    }
    case HLB_KIND_STR: {
        char **slot = field;
        free(*slot);
        *slot = NULL;
        break;
    }
    case HLB_KIND_STRV: {
        char ***slot = field;
        for (char **p = *slot; p && *p; p++)
            free(*p);
        free(*slot);
        *slot = NULL;
        break;
    }
    case HLB_KIND_CUSTOM:
        if (k->free)
            k->free(field);
        break;
    case HLB_KIND_TABLE:
        free_table(k->sub, field);
        break;
    case HLB_KIND_LIST:
    case HLB_KIND_DICT: {
        hlb_conf_vec_t *v = field;
        for (size_t i = 0; i < v->n; i++)
            free_table(k->sub, (char *)v->items + i * k->sub->size);
        free(v->items);
        v->items = NULL;
        v->n = 0;
        break;
    }
    default:
        break;
    }
}

static void free_table(const hlb_conf_table_t *t, void *obj)
{
    if (t->free)
        t->free(obj);
    for (const hlb_conf_key_t *k = t->keys; k->key; k++)
        free_row(k, (char *)obj + k->offset);
    if (t->has_name) {
        char *name;
        memcpy(&name, (char *)obj + t->name_offset, sizeof name);
        free(name);
        name = NULL;
        memcpy((char *)obj + t->name_offset, &name, sizeof name);
    }
}

void hlb_conf_schema_free(const hlb_conf_table_t *table, void *obj)
{
    if (!obj)
        return;
    free_table(table, obj);
    memset(obj, 0, table->size);
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool table_equal(const hlb_conf_table_t *t, const void *a, const void *b);

static bool row_equal(const hlb_conf_key_t *k, const void *a, const void *b)
{
    switch (k->kind) {
    case HLB_KIND_STR:
    case HLB_KIND_SECRET: {
        const char *x, *y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        return str_eq(x, y);
    }
    case HLB_KIND_STRV: {
        char **x, **y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        size_t i = 0;
        for (; x && y && x[i] && y[i]; i++)
            if (strcmp(x[i], y[i]) != 0)
                return false;
        return (!x || !x[i]) && (!y || !y[i]);
    }
    case HLB_KIND_DOUBLE:
        return memcmp(a, b, sizeof(double)) == 0;
    case HLB_KIND_BOOL:
        return *(const bool *)a == *(const bool *)b;
    case HLB_KIND_TABLE:
        return table_equal(k->sub, a, b);
    case HLB_KIND_LIST:
    case HLB_KIND_DICT: {
        const hlb_conf_vec_t *x = a, *y = b;
        if (x->n != y->n)
            return false;
        for (size_t i = 0; i < x->n; i++)
            if (!table_equal(k->sub, (const char *)x->items + i * k->sub->size,
                             (const char *)y->items + i * k->sub->size))
                return false;
        return true;
    }
    case HLB_KIND_CUSTOM:
        return memcmp(a, b, k->width) == 0;
    default:
        return get_int(a, k->width) == get_int(b, k->width);
    }
}

static bool table_equal(const hlb_conf_table_t *t, const void *a, const void *b)
{
    for (const hlb_conf_key_t *k = t->keys; k->key; k++)
        if (!row_equal(k, (const char *)a + k->offset, (const char *)b + k->offset))
            return false;
    if (t->has_name) {
        const char *x, *y;
        memcpy(&x, (const char *)a + t->name_offset, sizeof x);
        memcpy(&y, (const char *)b + t->name_offset, sizeof y);
        return str_eq(x, y);
    }
    return true;
}

size_t hlb_conf_schema_restart_keys(const hlb_conf_table_t *t, const char *prefix,
                                    const void *old_obj, const void *new_obj, char ***out)
{
    size_t added = 0;
    for (const hlb_conf_key_t *k = t->keys; k->key; k++) {
        const char *a = (const char *)old_obj + k->offset, *b = (const char *)new_obj + k->offset;
        char *name = NULL;
        if (asprintf(&name, "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "",
                     k->key) < 0)
            abort();
        if (k->flags & HLB_KEY_RESTART) {
            if (!row_equal(k, a, b)) {
                size_t n = 0;
                while (*out && (*out)[n])
                    n++;
                char **v = realloc(*out, (n + 2) * sizeof *v);
                if (!v)
                    abort();
                v[n] = name;
                v[n + 1] = NULL;
                *out = v;
                added++;
                continue;
            }
        } else if (k->kind == HLB_KIND_TABLE) {
            added += hlb_conf_schema_restart_keys(k->sub, name, a, b, out);
        }
        free(name);
    }
    return added;
}

char *hlb_conf_schema_help(const hlb_conf_table_t *t)
{
    hlb_buf_t b = {0};
    for (const hlb_conf_key_t *k = t->keys; k->key; k++) {
        hlb_buf_printf(&b, "%s%s", b.len ? ", " : "", k->key);
        if (k->kind == HLB_KIND_SECRET)
            hlb_buf_puts(&b, "_file|_credential");
        else if (k->kind == HLB_KIND_TABLE)
            hlb_buf_puts(&b, ": {...}");
        else if (k->kind == HLB_KIND_LIST)
            hlb_buf_puts(&b, ": [...]");
        else if (k->kind == HLB_KIND_DICT)
            hlb_buf_puts(&b, ": {NAME: {...}}");
        else if (k->def)
            hlb_buf_printf(&b, " (%s)", k->def);
        if (k->flags & HLB_KEY_RESTART)
            hlb_buf_puts(&b, " [restart]");
    }
    return hlb_buf_steal(&b);
}
