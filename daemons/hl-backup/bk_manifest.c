/* The manifest's text format: writing, strict parsing (see bk_manifest.h).
 * The parser is fed files that may have been damaged on disk, so every
 * field is checked and any doubt is an error naming the line. */
#include "bk_manifest.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hlbus/buf.h>

int bk_manifest_add(bk_manifest_t *m, const bk_entry_t *e)
{
    if (m->n == m->cap) {
        size_t c = m->cap ? m->cap * 2 : 256;
        bk_entry_t *ne = realloc(m->e, c * sizeof *ne);
        if (!ne)
            return -ENOMEM;
        m->e = ne;
        m->cap = c;
    }
    bk_entry_t *d = &m->e[m->n];
    *d = *e;
    d->path = strdup(e->path);
    if (!d->path)
        return -ENOMEM;
    m->n++;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const bk_entry_t *) a)->path, ((const bk_entry_t *) b)->path);
}

void bk_manifest_sort(bk_manifest_t *m)
{
    if (m->n > 1)
        qsort(m->e, m->n, sizeof *m->e, cmp_entry);
}

bk_entry_t *bk_manifest_find(const bk_manifest_t *m, const char *path)
{
    bk_entry_t key = {.path = (char *) path};
    return m->n ? bsearch(&key, m->e, m->n, sizeof *m->e, cmp_entry) : NULL;
}

void bk_manifest_free(bk_manifest_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].path);
    free(m->e);
    free(m->id);
    free(m->kind);
    free(m->parent);
    free(m->reason);
    *m = (bk_manifest_t) {0};
}

bool bk_path_ok(const char *p)
{
    size_t len = strlen(p);
    if (p[0] != '/' || len > PATH_MAX)
        return false;
    if (len == 1)
        return true;
    if (p[len - 1] == '/')
        return false;
    for (const char *s = p + 1;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t) (e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (!e)
            return true;
        s = e + 1;
    }
}

static bool must_escape(unsigned char c)
{
    return c <= 0x20 || c == 0x7f || c == '%';
}

static void put_path(hlb_buf_t *b, const char *p)
{
    for (const unsigned char *s = (const unsigned char *) p; *s; s++) {
        if (must_escape(*s))
            hlb_buf_printf(b, "%%%02X", *s);
        else
            hlb_buf_add(b, s, 1);
    }
}

char *bk_manifest_format(bk_manifest_t *m, size_t *len)
{
    bk_manifest_sort(m);
    hlb_buf_t b = {0};
    hlb_buf_printf(&b, "hl-backup-manifest 1\nid %s\nkind %s\nparent %s\nreason %s\n",
                   m->id, m->kind, m->parent ? m->parent : "-", m->reason);
    hlb_buf_printf(&b, "created_us %" PRIu64 "\narchive_size %" PRIu64 "\narchive_sha256 %s\n",
                   m->created_us, m->archive_size, m->archive_sha);
    hlb_buf_printf(&b, "snar_sha256 %s\nentries %zu\n", m->snar_sha[0] ? m->snar_sha : "-", m->n);
    for (size_t i = 0; i < m->n; i++) {
        const bk_entry_t *e = &m->e[i];
        hlb_buf_printf(&b, "%c %04o %" PRIu64 " %" PRId64 " %" PRId64 " %" PRIu64 " %s %c ",
                       e->type, (unsigned) e->mode, e->size, e->mtime_ns, e->ctime_ns, e->ino,
                       e->sha[0] ? e->sha : "-", e->stored ? 's' : 'i');
        put_path(&b, e->path);
        hlb_buf_puts(&b, "\n");
    }
    char hex[BK_SHA_HEX];
    bk_sha256_buf(b.data, b.len, hex);
    hlb_buf_printf(&b, "end %s\n", hex);
    if (len)
        *len = b.len;
    return hlb_buf_steal(&b);
}

/* ---- parsing ---- */

typedef struct {
    const char *p, *end;
    int line;
    char *err;
    size_t errn;
} rd_t;

__attribute__((format(printf, 2, 3))) static int fail(rd_t *r, const char *fmt, ...)
{
    if (r->err && r->errn) {
        int n = snprintf(r->err, r->errn, "line %d: ", r->line);
        va_list ap;
        va_start(ap, fmt);
        if (n >= 0 && (size_t) n < r->errn)
            vsnprintf(r->err + n, r->errn - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* The next line, without its '\n' (which must be there). */
static int next_line(rd_t *r, const char **s, size_t *n)
{
    r->line++;
    if (r->p >= r->end)
        return fail(r, "the manifest ends early (truncated?)");
    const char *nl = memchr(r->p, '\n', (size_t) (r->end - r->p));
    if (!nl)
        return fail(r, "no end of line (truncated?)");
    *s = r->p;
    *n = (size_t) (nl - r->p);
    r->p = nl + 1;
    if (memchr(*s, '\0', *n))
        return fail(r, "a NUL byte");
    return 0;
}

static bool is_hex64(const char *s, size_t n)
{
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char) s[i]) || isupper((unsigned char) s[i]))
            return false;
    return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t) (s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (n > 1 && s[0] == '0')
        return false;
    *out = v;
    return true;
}

static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    bool neg = n > 0 && s[0] == '-';
    uint64_t v;
    if (!parse_u64(s + neg, n - neg, &v) || v > (uint64_t) INT64_MAX)
        return false;
    *out = neg ? -(int64_t) v : (int64_t) v;
    return true;
}

/* "KEY VALUE": VALUE's start and length. */
static int keyed(rd_t *r, const char *key, const char **v, size_t *vn)
{
    const char *s;
    size_t n;
    int rc = next_line(r, &s, &n);
    if (rc)
        return rc;
    size_t kl = strlen(key);
    if (n <= kl + 1 || memcmp(s, key, kl) || s[kl] != ' ')
        return fail(r, "expected '%s VALUE'", key);
    *v = s + kl + 1;
    *vn = n - kl - 1;
    return 0;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char) s[i]) && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static char *unescape(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(d);
                return NULL;
            }
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            int c = a < 0 || b < 0 ? -1 : a * 16 + b;
            if (c <= 0 || !must_escape((unsigned char) c)) {
                free(d);
                return NULL;
            }
            d[o++] = (char) c;
            i += 2;
        } else if (must_escape((unsigned char) s[i])) {
            free(d);
            return NULL;
        } else {
            d[o++] = s[i];
        }
    }
    d[o] = '\0';
    return d;
}

/* Splits S (N bytes) at single spaces into at most MAX fields, the last one
 * taking the rest. Returns the count. */
static size_t split(const char *s, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t k = 0;
    const char *p = s, *end = s + n;
    while (k < max) {
        const char *sp = k + 1 < max ? memchr(p, ' ', (size_t) (end - p)) : NULL;
        f[k] = p;
        fl[k] = (size_t) ((sp ? sp : end) - p);
        k++;
        if (!sp)
            break;
        p = sp + 1;
    }
    return k;
}

static int parse_entry(rd_t *r, bk_entry_t *e)
{
    const char *s;
    size_t n;
    int rc = next_line(r, &s, &n);
    if (rc)
        return rc;
    const char *f[9];
    size_t fl[9];
    if (split(s, n, f, fl, 9) != 9)
        return fail(r, "an entry needs 9 fields");
    if (fl[0] != 1 || !strchr("fdlo", f[0][0]))
        return fail(r, "unknown entry type");
    e->type = f[0][0];
    if (fl[1] < 1 || fl[1] > 5)
        return fail(r, "bad mode");
    uint32_t mode = 0;
    for (size_t i = 0; i < fl[1]; i++) {
        if (f[1][i] < '0' || f[1][i] > '7')
            return fail(r, "bad mode");
        mode = mode * 8 + (uint32_t) (f[1][i] - '0');
    }
    if (mode > 07777)
        return fail(r, "bad mode");
    e->mode = mode;
    if (!parse_u64(f[2], fl[2], &e->size) || !parse_i64(f[3], fl[3], &e->mtime_ns) ||
        !parse_i64(f[4], fl[4], &e->ctime_ns) || !parse_u64(f[5], fl[5], &e->ino))
        return fail(r, "bad number");
    bool hashed = e->type == 'f' || e->type == 'l';
    if (hashed) {
        if (!is_hex64(f[6], fl[6]))
            return fail(r, "bad SHA-256");
        memcpy(e->sha, f[6], 64);
        e->sha[64] = '\0';
    } else {
        if (fl[6] != 1 || f[6][0] != '-')
            return fail(r, "a directory or special file has no SHA-256");
        e->sha[0] = '\0';
        if (e->type == 'd' && e->size)
            e->size = 0;
    }
    if (fl[7] != 1 || (f[7][0] != 's' && f[7][0] != 'i'))
        return fail(r, "stored must be s or i");
    e->stored = f[7][0] == 's';
    e->path = unescape(f[8], fl[8]);
    if (!e->path)
        return fail(r, "bad path escape");
    if (!bk_path_ok(e->path)) {
        free(e->path);
        e->path = NULL;
        return fail(r, "not an absolute, plain path");
    }
    return 0;
}

int bk_manifest_parse(const char *text, size_t len, bk_manifest_t *m, char *err, size_t errn)
{
    *m = (bk_manifest_t) {0};
    rd_t r = {.p = text, .end = text + len, .err = err, .errn = errn};
    if (err && errn)
        err[0] = '\0';
    /* The end line first: a damaged manifest says so before anything else. */
    const char *last = NULL;
    if (len >= 70 && text[len - 1] == '\n') {
        const char *q = text + len - 1;
        while (q > text && q[-1] != '\n')
            q--;
        last = q;
    }
    if (!last || (size_t) (text + len - last) != 69 || memcmp(last, "end ", 4) ||
        !is_hex64(last + 4, 64)) {
        r.line = 0;
        for (const char *q = text; q < text + len; q++)
            r.line += *q == '\n';
        return fail(&r, "no end line with the manifest's SHA-256 (truncated?)");
    }
    char hex[BK_SHA_HEX];
    bk_sha256_buf(text, (size_t) (last - text), hex);
    if (memcmp(hex, last + 4, 64)) {
        r.line = 0;
        for (const char *q = text; q < last; q++)
            r.line += *q == '\n';
        r.line++;
        return fail(&r, "the manifest's SHA-256 does not match its content (damaged)");
    }
    r.end = last;

    const char *v;
    size_t vn;
    int rc;
    if ((rc = keyed(&r, "hl-backup-manifest", &v, &vn)))
        goto bad;
    if (vn != 1 || v[0] != '1') {
        rc = fail(&r, "unknown manifest version");
        goto bad;
    }
    if ((rc = keyed(&r, "id", &v, &vn)))
        goto bad;
    if (!name_ok(v, vn)) {
        rc = fail(&r, "bad id");
        goto bad;
    }
    m->id = dupn(v, vn);
    if ((rc = keyed(&r, "kind", &v, &vn)))
        goto bad;
    if (!((vn == 4 && !memcmp(v, "full", 4)) || (vn == 11 && !memcmp(v, "incremental", 11)))) {
        rc = fail(&r, "kind must be full or incremental");
        goto bad;
    }
    m->kind = dupn(v, vn);
    if ((rc = keyed(&r, "parent", &v, &vn)))
        goto bad;
    if (!(vn == 1 && v[0] == '-') && !name_ok(v, vn)) {
        rc = fail(&r, "bad parent");
        goto bad;
    }
    m->parent = vn == 1 && v[0] == '-' ? NULL : dupn(v, vn);
    if ((m->parent != NULL) != !strcmp(m->kind ? m->kind : "", "incremental")) {
        rc = fail(&r, "an incremental backup has a parent, a full one none");
        goto bad;
    }
    if ((rc = keyed(&r, "reason", &v, &vn)))
        goto bad;
    if (!name_ok(v, vn)) {
        rc = fail(&r, "bad reason");
        goto bad;
    }
    m->reason = dupn(v, vn);
    if ((rc = keyed(&r, "created_us", &v, &vn)))
        goto bad;
    if (!parse_u64(v, vn, &m->created_us)) {
        rc = fail(&r, "bad number");
        goto bad;
    }
    if ((rc = keyed(&r, "archive_size", &v, &vn)))
        goto bad;
    if (!parse_u64(v, vn, &m->archive_size)) {
        rc = fail(&r, "bad number");
        goto bad;
    }
    if ((rc = keyed(&r, "archive_sha256", &v, &vn)))
        goto bad;
    if (!is_hex64(v, vn)) {
        rc = fail(&r, "bad SHA-256");
        goto bad;
    }
    memcpy(m->archive_sha, v, 64);
    if ((rc = keyed(&r, "snar_sha256", &v, &vn)))
        goto bad;
    if (vn == 1 && v[0] == '-') {
        m->snar_sha[0] = '\0';
    } else if (is_hex64(v, vn)) {
        memcpy(m->snar_sha, v, 64);
    } else {
        rc = fail(&r, "bad SHA-256");
        goto bad;
    }
    uint64_t count;
    if ((rc = keyed(&r, "entries", &v, &vn)))
        goto bad;
    /* Each entry takes at least 20 bytes: a count beyond that is a lie. */
    if (!parse_u64(v, vn, &count) || count > (uint64_t) (r.end - r.p) / 20 + 1) {
        rc = fail(&r, "bad entry count");
        goto bad;
    }
    if (!m->id || !m->kind || !m->reason) {
        rc = -ENOMEM;
        goto bad;
    }
    for (uint64_t i = 0; i < count; i++) {
        bk_entry_t e = {0};
        if ((rc = parse_entry(&r, &e))) {
            free(e.path);
            goto bad;
        }
        if (m->n && strcmp(m->e[m->n - 1].path, e.path) >= 0) {
            free(e.path);
            rc = fail(&r, "entries out of order or repeated");
            goto bad;
        }
        if (m->n == m->cap) {
            size_t c = m->cap ? m->cap * 2 : 256;
            bk_entry_t *ne = realloc(m->e, c * sizeof *ne);
            if (!ne) {
                free(e.path);
                rc = -ENOMEM;
                goto bad;
            }
            m->e = ne;
            m->cap = c;
        }
        m->e[m->n++] = e;
    }
    if (r.p != r.end) {
        r.line++;
        rc = fail(&r, "more entries than the count says");
        goto bad;
    }
    return 0;
bad:
    bk_manifest_free(m);
    return rc;
}

int bk_manifest_load(const char *file, bk_manifest_t *m, char *err, size_t errn)
{
    *m = (bk_manifest_t) {0};
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
        (uint64_t) sb.st_size > (uint64_t) BK_MANIFEST_MAX) {
        close(fd);
        if (err && errn)
            snprintf(err, errn, "not a regular file of a sane size");
        return -EINVAL;
    }
    size_t len = (size_t) sb.st_size;
    char *buf = malloc(len + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close(fd);
    int r = bk_manifest_parse(buf, got, m, err, errn);
    free(buf);
    return r;
}
