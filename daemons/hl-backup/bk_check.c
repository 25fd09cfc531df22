/* A tree against a manifest (see bk_check.h). */
#include "bk_check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hlbus/str.h>

#include "bk_scan.h"
#include "bk_walk.h"

void bk_problem(bk_problems_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = hlb_vstrdupf(fmt, ap);
    va_end(ap);
    if (!s)
        return;
    char **nv = realloc(p->v, (p->n + 2) * sizeof *nv);
    if (!nv) {
        free(s);
        return;
    }
    p->v = nv;
    p->v[p->n++] = s;
    p->v[p->n] = NULL;
}

void bk_problems_free(bk_problems_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    *p = (bk_problems_t) {0};
}

static const char *type_name(char t)
{
    switch (t) {
    case 'f': return "a file";
    case 'd': return "a directory";
    case 'l': return "a link";
    default: return "a special file";
    }
}

/* ROOT + PATH, with ROOT "" or "/" meaning the live tree. */
static char *join(const char *root, const char *path)
{
    if (!root[0] || !strcmp(root, "/"))
        return strdup(path);
    return hlb_strdupf("%s%s", root, path);
}

static long check_entry(const bk_entry_t *e, const char *root, bk_problems_t *p)
{
    char *full = join(root, e->path);
    if (!full)
        return -ENOMEM;
    struct stat sb;
    long bad = 0;
    if (lstat(full, &sb) < 0) {
        bk_problem(p, "%s: missing", e->path);
        free(full);
        return 1;
    }
    bk_entry_t got;
    int r = bk_entry_from(e->path, AT_FDCWD, full, &sb, NULL, &got);
    if (r < 0) {
        bk_problem(p, "%s: unreadable: %s", e->path, strerror(-r));
        free(full);
        return 1;
    }
    if (got.type != e->type) {
        bk_problem(p, "%s: is %s, was %s", e->path, type_name(got.type), type_name(e->type));
        bad = 1;
    } else if (e->type == 'f' && got.size != e->size) {
        bk_problem(p, "%s: %llu bytes, the manifest says %llu", e->path,
                   (unsigned long long) got.size, (unsigned long long) e->size);
        bad = 1;
    } else if ((e->type == 'f' || e->type == 'l') && strcmp(got.sha, e->sha)) {
        bk_problem(p, "%s: content differs (SHA-256 %.12s…, the manifest says %.12s…)", e->path,
                   got.sha, e->sha);
        bad = 1;
    } else if (e->type != 'l' && got.mode != e->mode) {
        bk_problem(p, "%s: mode %04o, the manifest says %04o", e->path, (unsigned) got.mode,
                   (unsigned) e->mode);
        bad = 1;
    }
    free(full);
    return bad;
}

typedef struct {
    const bk_manifest_t *m;
    const char *only;
    bk_problems_t *p;
    long bad;
} extras_t;

static int on_extra(const char *path, int dirfd, const char *name, const struct stat *sb, void *arg)
{
    (void) dirfd;
    (void) name;
    extras_t *x = arg;
    if (S_ISDIR(sb->st_mode))
        return 0;
    if (x->only && !bk_path_under(path, x->only))
        return 0;
    if (!bk_manifest_find(x->m, path)) {
        bk_problem(x->p, "%s: restored, but not in the manifest", path);
        x->bad++;
    }
    return 0;
}

long bk_check_tree(const bk_manifest_t *m, const char *root, const char *only, bool extras,
                   bk_problems_t *p)
{
    long bad = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (only && !bk_path_under(m->e[i].path, only))
            continue;
        long r = check_entry(&m->e[i], root, p);
        if (r < 0)
            return r;
        bad += r;
    }
    if (extras && root[0] && strcmp(root, "/")) {
        extras_t x = {.m = m, .only = only, .p = p};
        int r = bk_walk(root, "", false, on_extra, &x);
        if (r < 0 && r != -ENOENT)
            return r;
        bad += x.bad;
    }
    return bad;
}
