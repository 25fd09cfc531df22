/* The scan of the live paths (see bk_scan.h). */
#include "bk_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bk_walk.h"

bool bk_path_under(const char *path, const char *excl)
{
    size_t n = strlen(excl);
    while (n > 1 && excl[n - 1] == '/')
        n--;
    if (n == 1 && excl[0] == '/')
        return true;
    return !strncmp(path, excl, n) && (path[n] == '\0' || path[n] == '/');
}

static int64_t ns(const struct timespec *t)
{
    return (int64_t) t->tv_sec * 1000000000LL + t->tv_nsec;
}

int bk_entry_from(const char *path, int dirfd, const char *name, const struct stat *sb,
                  const bk_entry_t *reuse, bk_entry_t *e)
{
    *e = (bk_entry_t) {.mode = (uint32_t) (sb->st_mode & 07777), .mtime_ns = ns(&sb->st_mtim),
                       .ctime_ns = ns(&sb->st_ctim), .ino = (uint64_t) sb->st_ino,
                       .path = (char *) path};
    if (S_ISREG(sb->st_mode)) {
        e->type = 'f';
        e->size = (uint64_t) sb->st_size;
        if (reuse && reuse->type == 'f' && reuse->size == e->size &&
            reuse->mtime_ns == e->mtime_ns && reuse->ctime_ns == e->ctime_ns &&
            reuse->ino == e->ino) {
            memcpy(e->sha, reuse->sha, BK_SHA_HEX);
            return 1;
        }
        uint64_t got;
        int r = bk_sha256_file(dirfd, name, e->sha, &got);
        if (r < 0)
            return r;
        e->size = got; /* what was read, should it have grown meanwhile */
    } else if (S_ISLNK(sb->st_mode)) {
        e->type = 'l';
        char target[PATH_MAX + 1];
        ssize_t n = readlinkat(dirfd, name, target, PATH_MAX);
        if (n < 0)
            return -errno;
        e->size = (uint64_t) n;
        e->mode = 0777;
        bk_sha256_buf(target, (size_t) n, e->sha);
    } else if (S_ISDIR(sb->st_mode)) {
        e->type = 'd';
    } else {
        e->type = 'o';
    }
    return 0;
}

typedef struct {
    const bk_scan_opts_t *o;
    bk_manifest_t *out;
    bk_scan_stats_t *st;
    hlb_buf_t *warn;
} scan_t;

static int on_entry(const char *path, int dirfd, const char *name, const struct stat *sb,
                    void *arg)
{
    scan_t *s = arg;
    if (s->o->skip && bk_path_under(path, s->o->skip))
        return 1;
    for (char *const *x = s->o->exclude; x && *x; x++)
        if (bk_path_under(path, *x))
            return 1;
    if (!bk_path_ok(path)) {
        hlb_buf_printf(s->warn, "%s: not a plain path, left out\n", path);
        return 1;
    }
    const bk_entry_t *prev = s->o->prev ? bk_manifest_find(s->o->prev, path) : NULL;
    bk_entry_t e;
    int r = bk_entry_from(path, dirfd, name, sb, prev, &e);
    if (r < 0) {
        if (r == -ENOENT)
            return 1; /* gone meanwhile */
        s->st->unreadable++;
        hlb_buf_printf(s->warn, "%s: %s, left out\n", path, strerror(-r));
        return 1;
    }
    if (e.type == 'f') {
        if (r == 1) {
            s->st->reused++;
        } else {
            s->st->hashed++;
            s->st->bytes_hashed += e.size;
        }
    }
    return bk_manifest_add(s->out, &e);
}

int bk_scan(const bk_scan_opts_t *o, bk_manifest_t *out, bk_scan_stats_t *st, hlb_buf_t *warn)
{
    scan_t s = {.o = o, .out = out, .st = st, .warn = warn};
    *st = (bk_scan_stats_t) {0};
    for (char *const *p = o->paths; p && *p; p++) {
        char *top = strdup(*p);
        if (!top)
            return -ENOMEM;
        size_t n = strlen(top);
        while (n > 1 && top[n - 1] == '/')
            top[--n] = '\0';
        int r = bk_walk(top, top, true, on_entry, &s);
        free(top);
        if (r == -ENOENT)
            continue;
        if (r < 0)
            return r;
    }
    bk_manifest_sort(out);
    /* Overlapping paths (/var/lib/hl and /var/lib/hl/x) name a file twice. */
    size_t w = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (w && !strcmp(out->e[w - 1].path, out->e[i].path)) {
            free(out->e[i].path);
            continue;
        }
        out->e[w++] = out->e[i];
    }
    out->n = w;
    return 0;
}
