/* YAML configuration tree with file:line on every node, and drop-ins. */
#include "hlbus/conf.h"

#include "hlbus/buf.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct hlb_conf {
    hlb_conf_kind_t kind;
    char *key;    /* for entries of a map */
    char *value;  /* scalars */
    const char *file; /* interned in the root's file list */
    int line;
    struct hlb_conf **kids;
    size_t nkids;
    /* root only: names of the files that were read */
    char **files;
    size_t nfiles;
};

#define MAX_DEPTH 64

void hlb_diag_add(hlb_diag_t *d, const hlb_conf_t *at, const char *fmt, ...)
{
    if (!d)
        return;
    hlb_buf_t line = {0};
    if (at && at->line > 0)
        hlb_buf_printf(&line, "%s:%d: ", at->file ? at->file : "<config>", at->line);
    else if (at)
        hlb_buf_printf(&line, "%s: ", at->file ? at->file : "<config>");
    va_list ap;
    va_start(ap, fmt);
    hlb_buf_vprintf(&line, fmt, ap);
    va_end(ap);
    /* Messages quote config values, which may hold newlines and terminal
     * escapes: escape controls so that each diagnostic stays one line and a
     * value cannot forge another "file:line:" entry. */
    hlb_buf_t b = {.data = d->text, .len = d->text ? strlen(d->text) : 0};
    b.cap = b.len ? b.len + 1 : 0;
    for (size_t i = 0; i < line.len; i++) {
        unsigned char c = (unsigned char)line.data[i];
        if (c == '\n')
            hlb_buf_puts(&b, "\\n");
        else if (c == '\t')
            hlb_buf_puts(&b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            hlb_buf_printf(&b, "\\x%02x", c);
        else
            hlb_buf_add(&b, &line.data[i], 1);
    }
    hlb_buf_free(&line);
    hlb_buf_puts(&b, "\n");
    d->text = b.data;
    d->errors++;
}

void hlb_diag_free(hlb_diag_t *d)
{
    free(d->text);
    d->text = NULL;
    d->errors = 0;
}

__attribute__((format(printf, 4, 5))) static void diag_at(hlb_diag_t *d, const char *file, int line,
                                                       const char *fmt, ...)
{
    hlb_conf_t at = {.file = file, .line = line};
    hlb_buf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    hlb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    hlb_diag_add(d, &at, "%s", b.data ? b.data : "");
    hlb_buf_free(&b);
}

static void node_free(hlb_conf_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->key);
    free(n->value);
    for (size_t i = 0; i < n->nfiles; i++)
        free(n->files[i]);
    free(n->files);
    free(n);
}

void hlb_conf_destroy(hlb_conf_t **self_p)
{
    if (!self_p)
        return;
    node_free(*self_p);
    *self_p = NULL;
}

static hlb_conf_t *node_new(hlb_conf_kind_t kind, const char *file, int line)
{
    hlb_conf_t *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = kind;
        n->file = file;
        n->line = line;
    }
    return n;
}

static void add_kid(hlb_conf_t *parent, hlb_conf_t *kid)
{
    hlb_conf_t **k = realloc(parent->kids, (parent->nkids + 1) * sizeof *k);
    if (!k)
        abort();
    parent->kids = k;
    k[parent->nkids++] = kid;
}

/* Builds a node from the parser's events; NULL on error (reported). */
static hlb_conf_t *parse_node(yaml_parser_t *p, yaml_event_t *ev, const char *file, int depth,
                              hlb_diag_t *d)
{
    int line = (int)ev->start_mark.line + 1;
    if (depth > MAX_DEPTH) {
        diag_at(d, file, line, "nesting deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        hlb_conf_t *n = node_new(HLB_CONF_SCALAR, file, line);
        n->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        return n;
    }
    case YAML_ALIAS_EVENT:
        diag_at(d, file, line, "YAML aliases are not supported; write the value out");
        return NULL;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool is_map = ev->type == YAML_MAPPING_START_EVENT;
        hlb_conf_t *n = node_new(is_map ? HLB_CONF_MAP : HLB_CONF_SEQ, file, line);
        for (;;) {
            yaml_event_t e;
            if (!yaml_parser_parse(p, &e)) {
                diag_at(d, file, (int)p->problem_mark.line + 1, "%s",
                        p->problem ? p->problem : "YAML syntax error");
                node_free(n);
                return NULL;
            }
            if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&e);
                return n;
            }
            char *key = NULL;
            int kline = (int)e.start_mark.line + 1;
            if (is_map) {
                if (e.type != YAML_SCALAR_EVENT) {
                    diag_at(d, file, kline, "map keys must be plain strings");
                    yaml_event_delete(&e);
                    node_free(n);
                    return NULL;
                }
                key = strndup((const char *)e.data.scalar.value, e.data.scalar.length);
                yaml_event_delete(&e);
                for (size_t i = 0; i < n->nkids; i++)
                    if (strcmp(n->kids[i]->key, key) == 0) {
                        diag_at(d, file, kline, "duplicate key '%s' (first at line %d)", key,
                                n->kids[i]->line);
                        free(key);
                        node_free(n);
                        return NULL;
                    }
                if (!yaml_parser_parse(p, &e)) {
                    diag_at(d, file, (int)p->problem_mark.line + 1, "%s",
                            p->problem ? p->problem : "YAML syntax error");
                    free(key);
                    node_free(n);
                    return NULL;
                }
            }
            hlb_conf_t *kid = parse_node(p, &e, file, depth + 1, d);
            yaml_event_delete(&e);
            if (!kid) {
                free(key);
                node_free(n);
                return NULL;
            }
            kid->key = key;
            if (is_map)
                kid->line = kline; /* errors about an entry point at its key */
            add_kid(n, kid);
        }
    }
    default:
        diag_at(d, file, line, "unexpected YAML event");
        return NULL;
    }
}

/* Parses one document; an empty document is an empty map. */
static hlb_conf_t *parse_text(const char *file, const unsigned char *text, size_t len,
                              hlb_diag_t *d)
{
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, text, len);
    hlb_conf_t *root = NULL;
    bool failed = false;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            diag_at(d, file, (int)p.problem_mark.line + 1, "%s",
                    p.problem ? p.problem : "YAML syntax error");
            failed = true;
            break;
        }
        yaml_event_type_t t = e.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT) {
            if (root) {
                diag_at(d, file, (int)e.start_mark.line + 1, "only one YAML document allowed");
                yaml_event_delete(&e);
                failed = true;
                break;
            }
            bool empty_scalar = t == YAML_SCALAR_EVENT && e.data.scalar.length == 0;
            root = empty_scalar ? node_new(HLB_CONF_MAP, file, 1)
                                : parse_node(&p, &e, file, 0, d);
            yaml_event_delete(&e);
            if (!root) {
                failed = true;
                break;
            }
            if (root->kind != HLB_CONF_MAP) {
                diag_at(d, file, root->line, "the top level must be a map of sections");
                failed = true;
                break;
            }
            continue;
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    if (failed) {
        node_free(root);
        return NULL;
    }
    return root ? root : node_new(HLB_CONF_MAP, file, 1);
}

hlb_conf_t *hlb_conf_parse(const char *name, const char *text, hlb_diag_t *d)
{
    hlb_conf_t *root = node_new(HLB_CONF_MAP, NULL, 1);
    char *fname = strdup(name);
    root->files = malloc(sizeof *root->files);
    root->files[0] = fname;
    root->nfiles = 1;
    hlb_conf_t *doc = parse_text(fname, (const unsigned char *)text, strlen(text), d);
    if (!doc) {
        node_free(root);
        return NULL;
    }
    /* move the document's entries under the root that owns the file names */
    root->kids = doc->kids;
    root->nkids = doc->nkids;
    root->file = fname;
    doc->kids = NULL;
    doc->nkids = 0;
    node_free(doc);
    return root;
}

static hlb_conf_t *find_kid(const hlb_conf_t *n, const char *key, size_t klen)
{
    for (size_t i = 0; i < n->nkids; i++)
        if (strlen(n->kids[i]->key) == klen && strncmp(n->kids[i]->key, key, klen) == 0)
            return n->kids[i];
    return NULL;
}

/* Merges map OVER into map BASE, taking OVER's nodes. */
static void merge(hlb_conf_t *base, hlb_conf_t *over)
{
    for (size_t i = 0; i < over->nkids; i++) {
        hlb_conf_t *o = over->kids[i];
        hlb_conf_t *b = find_kid(base, o->key, strlen(o->key));
        if (b && b->kind == HLB_CONF_MAP && o->kind == HLB_CONF_MAP) {
            merge(b, o);
            node_free(o);
        } else if (b) {
            for (size_t k = 0; k < base->nkids; k++)
                if (base->kids[k] == b)
                    base->kids[k] = o;
            node_free(b);
        } else {
            add_kid(base, o);
        }
    }
    free(over->kids);
    over->kids = NULL;
    over->nkids = 0;
}

static char *read_file(const char *path, size_t *len, int *err)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        *err = errno;
        return NULL;
    }
    hlb_buf_t b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        hlb_buf_add(&b, chunk, n);
        if (b.len > 16 * 1024 * 1024) { /* a config is not this big */
            fclose(f);
            hlb_buf_free(&b);
            *err = EFBIG;
            return NULL;
        }
    }
    *err = ferror(f) ? EIO : 0;
    fclose(f);
    if (*err) {
        hlb_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return hlb_buf_steal(&b);
}

static int load_into(hlb_conf_t *root, const char *path, bool missing_ok, hlb_diag_t *d)
{
    size_t len = 0;
    int err = 0;
    char *text = read_file(path, &len, &err);
    if (!text) {
        if (err == ENOENT && missing_ok)
            return 0;
        diag_at(d, path, 0, "cannot read: %s", strerror(err));
        return -err;
    }
    char **files = realloc(root->files, (root->nfiles + 1) * sizeof *files);
    if (!files)
        abort();
    root->files = files;
    char *fname = strdup(path);
    files[root->nfiles++] = fname;
    hlb_conf_t *doc = parse_text(fname, (unsigned char *)text, len, d);
    free(text);
    if (!doc)
        return -EINVAL;
    merge(root, doc);
    node_free(doc);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

hlb_conf_t *hlb_conf_load(const char *path, bool missing_ok, hlb_diag_t *d)
{
    hlb_conf_t *root = node_new(HLB_CONF_MAP, path, 1);
    int errors = d ? d->errors : 0;
    load_into(root, path, missing_ok, d);

    /* drop-ins: <dir of path>/hl.d/NAME.yaml in name order */
    char *copy = strdup(path);
    char *dir = NULL;
    if (asprintf(&dir, "%s/hl.d", dirname(copy)) < 0)
        dir = NULL;
    free(copy);
    DIR *dh = dir ? opendir(dir) : NULL;
    if (dh) {
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(dh))) {
            size_t l = strlen(de->d_name);
            if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0)
                continue;
            names = realloc(names, (n + 1) * sizeof *names);
            if (!names)
                abort();
            if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0)
                abort();
            n++;
        }
        closedir(dh);
        if (n)
            qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n; i++) {
            load_into(root, names[i], false, d);
            free(names[i]);
        }
        free(names);
    }
    free(dir);
    if (d && d->errors > errors) {
        node_free(root);
        return NULL;
    }
    return root;
}

hlb_conf_t *hlb_conf_load_file(const char *path, bool missing_ok, hlb_diag_t *d)
{
    size_t len = 0;
    int err = 0;
    char *text = read_file(path, &len, &err);
    if (!text) {
        if (err != ENOENT || !missing_ok)
            diag_at(d, path, 0, "cannot read: %s", strerror(err));
        errno = err;
        return NULL;
    }
    hlb_conf_t *root = node_new(HLB_CONF_MAP, NULL, 1);
    char *fname = strdup(path);
    root->files = malloc(sizeof *root->files);
    if (!fname || !root->files)
        abort();
    root->files[0] = fname;
    root->nfiles = 1;
    root->file = fname;
    hlb_conf_t *doc = parse_text(fname, (unsigned char *)text, len, d);
    free(text);
    if (!doc) {
        node_free(root);
        errno = EINVAL;
        return NULL;
    }
    merge(root, doc);
    node_free(doc);
    return root;
}

const hlb_conf_t *hlb_conf_get(const hlb_conf_t *node, const char *path)
{
    const char *p = path;
    while (node && *p) {
        if (node->kind != HLB_CONF_MAP)
            return NULL;
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        node = find_kid(node, p, len);
        p += len + (dot ? 1 : 0);
    }
    return node;
}

hlb_conf_kind_t hlb_conf_kind(const hlb_conf_t *n) { return n->kind; }
const char *hlb_conf_file(const hlb_conf_t *n) { return n->file; }
int hlb_conf_line(const hlb_conf_t *n) { return n->line; }
const char *hlb_conf_key(const hlb_conf_t *n) { return n->key; }
size_t hlb_conf_count(const hlb_conf_t *n) { return n && n->kind != HLB_CONF_SCALAR ? n->nkids : 0; }
const hlb_conf_t *hlb_conf_at(const hlb_conf_t *n, size_t i) { return i < hlb_conf_count(n) ? n->kids[i] : NULL; }
const char *hlb_conf_scalar(const hlb_conf_t *n) { return n && n->kind == HLB_CONF_SCALAR ? n->value : NULL; }

int hlb_parse_int(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (*end || end == s)
        return -EINVAL;
    *out = v;
    return 0;
}

int hlb_parse_duration_ms(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || !isfinite(v))
        return -EINVAL;
    double mul;
    if (!*end || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else
        return -EINVAL;
    if (v * mul > (double)INT64_MAX / 2)
        return -ERANGE;
    *out = (int64_t)(v * mul + 0.5);
    return 0;
}

static const hlb_conf_t *scalar_at(const hlb_conf_t *node, const char *path, hlb_diag_t *d,
                                   int *rc)
{
    const hlb_conf_t *n = hlb_conf_get(node, path);
    *rc = 0;
    if (!n)
        return NULL;
    if (n->kind != HLB_CONF_SCALAR) {
        hlb_diag_add(d, n, "'%s' must be a single value, not a %s", path,
                     n->kind == HLB_CONF_MAP ? "map" : "list");
        *rc = -EINVAL;
        return NULL;
    }
    return n;
}

int hlb_conf_str(const hlb_conf_t *node, const char *path, const char *def, const char **out,
                 hlb_diag_t *d)
{
    int rc;
    const hlb_conf_t *n = scalar_at(node, path, d, &rc);
    *out = n ? n->value : def;
    return rc;
}

int hlb_conf_int(const hlb_conf_t *node, const char *path, int64_t def, int64_t min, int64_t max,
                 int64_t *out, hlb_diag_t *d)
{
    int rc;
    const hlb_conf_t *n = scalar_at(node, path, d, &rc);
    *out = def;
    if (!n)
        return rc;
    int64_t v;
    if (hlb_parse_int(n->value, &v) < 0) {
        hlb_diag_add(d, n, "'%s' must be an integer, not '%s'", path, n->value);
        return -EINVAL;
    }
    if (v < min || v > max) {
        hlb_diag_add(d, n, "'%s' must be between %lld and %lld, not %lld", path, (long long)min,
                     (long long)max, (long long)v);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int hlb_conf_double(const hlb_conf_t *node, const char *path, double def, double min, double max,
                    double *out, hlb_diag_t *d)
{
    int rc;
    const hlb_conf_t *n = scalar_at(node, path, d, &rc);
    *out = def;
    if (!n)
        return rc;
    char *end;
    errno = 0;
    double v = strtod(n->value, &end);
    if (errno || end == n->value || *end || !isfinite(v)) {
        hlb_diag_add(d, n, "'%s' must be a number, not '%s'", path, n->value);
        return -EINVAL;
    }
    if (v < min || v > max) {
        hlb_diag_add(d, n, "'%s' must be between %g and %g, not %g", path, min, max, v);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int hlb_conf_bool(const hlb_conf_t *node, const char *path, bool def, bool *out, hlb_diag_t *d)
{
    int rc;
    const hlb_conf_t *n = scalar_at(node, path, d, &rc);
    *out = def;
    if (!n)
        return rc;
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(n->value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(n->value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    hlb_diag_add(d, n, "'%s' must be true or false, not '%s'", path, n->value);
    return -EINVAL;
}

int hlb_conf_duration_ms(const hlb_conf_t *node, const char *path, int64_t def, int64_t min,
                         int64_t max, int64_t *out, hlb_diag_t *d)
{
    int rc;
    const hlb_conf_t *n = scalar_at(node, path, d, &rc);
    *out = def;
    if (!n)
        return rc;
    int64_t v;
    if (hlb_parse_duration_ms(n->value, &v) < 0) {
        hlb_diag_add(d, n, "'%s' must be a duration like 500ms, 10s, 5m or 1h, not '%s'", path,
                     n->value);
        return -EINVAL;
    }
    if (v < min || v > max) {
        hlb_diag_add(d, n, "'%s' must be between %lldms and %lldms, not %lldms", path,
                     (long long)min, (long long)max, (long long)v);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int hlb_conf_check_keys(const hlb_conf_t *node, const char *const *allowed, hlb_diag_t *d)
{
    if (!node)
        return 0;
    if (node->kind != HLB_CONF_MAP) {
        hlb_diag_add(d, node, "'%s' must be a map", node->key ? node->key : "section");
        return -EINVAL;
    }
    int rc = 0;
    for (size_t i = 0; i < node->nkids; i++) {
        bool ok = false;
        for (size_t k = 0; allowed[k] && !ok; k++)
            ok = strcmp(allowed[k], node->kids[i]->key) == 0;
        if (!ok) {
            hlb_buf_t b = {0};
            for (size_t k = 0; allowed[k]; k++)
                hlb_buf_printf(&b, "%s%s", k ? ", " : "", allowed[k]);
            hlb_diag_add(d, node->kids[i], "unknown key '%s' in '%s' (known: %s)",
                         node->kids[i]->key, node->key ? node->key : "top level",
                         b.data ? b.data : "none");
            hlb_buf_free(&b);
            rc = -EINVAL;
        }
    }
    return rc;
}
