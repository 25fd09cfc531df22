/* The backup directory (see bk_store.h). */
#include "bk_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hlbus/str.h>
#include <hlbus/strv.h>

#include "bk_manifest.h"
#include "bk_walk.h"

#define STAMP_LEN 16 /* 20261207T054500Z */

const char *bk_state_name(bk_state_t s)
{
    switch (s) {
    case BK_GOOD: return "verified";
    case BK_BAD: return "bad";
    case BK_LEGACY: return "legacy";
    case BK_DAMAGED: return "damaged";
    }
    return "?";
}

char *bk_store_name(const char *prefix, uint64_t ts_us)
{
    time_t t = (time_t) (ts_us / 1000000);
    struct tm tm;
    char stamp[32];
    if (!gmtime_r(&t, &tm) || !strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm))
        return NULL;
    return hlb_strdupf("%s%s", prefix, stamp);
}

uint64_t bk_store_id_time(const char *id)
{
    const char *s = hlb_after_prefix(id, BK_PREFIX_BACKUP);
    if (!s)
        s = hlb_after_prefix(id, BK_PREFIX_STATE);
    if (!s || strlen(s) != STAMP_LEN || s[8] != 'T' || s[15] != 'Z')
        return 0;
    struct tm tm = {0};
    const char *end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
    if (!end || *end)
        return 0;
    time_t t = timegm(&tm);
    return t > 0 ? (uint64_t) t * 1000000u : 0;
}

bool bk_store_id_ok(const char *id)
{
    return id && bk_store_id_time(id) != 0;
}

char *bk_store_path(const char *dir, const char *id, const char *suffix)
{
    return hlb_strdupf("%s/%s%s", dir, id, suffix);
}

static bool exists_at(int dfd, const char *name)
{
    struct stat sb;
    return fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

static bool id_taken(const char *dir, const char *id)
{
    static const char *const suffixes[] = {".tar.gz", ".manifest", ".snar", ".bad"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char *p = bk_store_path(dir, id, suffixes[i]);
        struct stat sb;
        bool t = p && lstat(p, &sb) == 0;
        free(p);
        if (t)
            return true;
    }
    return false;
}

char *bk_store_new_id(const char *dir, const char *prefix, uint64_t now_us)
{
    for (int i = 0; i < 3600; i++) {
        char *id = bk_store_name(prefix, now_us + (uint64_t) i * 1000000u);
        if (!id || !id_taken(dir, id))
            return id;
        free(id);
    }
    return NULL;
}

/* The id of NAME when it is "ID.SUFFIX" with an id of ours. */
static char *id_of(const char *name, const char *suffix)
{
    size_t l = strlen(name), sl = strlen(suffix);
    if (l <= sl || strcmp(name + l - sl, suffix))
        return NULL;
    char *id = strndup(name, l - sl);
    if (id && !bk_store_id_ok(id)) {
        free(id);
        return NULL;
    }
    return id;
}

static int cmp_info(const void *a, const void *b)
{
    const bk_info_t *x = a, *y = b;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? 1 : -1;
    return strcmp(y->id, x->id);
}

static char *first_line(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return strdup("(unreadable)");
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return strdup(buf);
}

int bk_store_list(const char *dir, bk_list_t *out)
{
    *out = (bk_list_t) {0};
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dup(dfd));
    if (!d) {
        close(dfd);
        return -errno;
    }
    size_t cap = 0;
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        /* Every backup has an archive or a manifest (a manifest alone: its
         * archive was deleted, which verify reports). */
        char *id = id_of(de->d_name, ".manifest");
        bool legacy_candidate = false;
        if (!id) {
            id = id_of(de->d_name, ".tar.gz");
            if (!id)
                continue;
            char *m = hlb_strdupf("%s.manifest", id);
            bool has_m = m && exists_at(dfd, m);
            free(m);
            if (has_m) { /* listed by its manifest */
                free(id);
                continue;
            }
            char *s = hlb_strdupf("%s.snar", id);
            bool has_s = s && exists_at(dfd, s);
            free(s);
            if (has_s) { /* an interrupted run's: not a backup */
                free(id);
                continue;
            }
            legacy_candidate = true;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            bk_info_t *nv = realloc(out->v, cap * sizeof *nv);
            if (!nv) {
                free(id);
                r = -ENOMEM;
                break;
            }
            out->v = nv;
        }
        bk_info_t *b = &out->v[out->n++];
        *b = (bk_info_t) {.id = id, .ts_us = bk_store_id_time(id)};
        {
            char *an = hlb_strdupf("%s.tar.gz", id);
            struct stat ms;
            if (an && (fstatat(dfd, an, &ms, AT_SYMLINK_NOFOLLOW) == 0 ||
                       fstatat(dfd, de->d_name, &ms, AT_SYMLINK_NOFOLLOW) == 0))
                b->mtime_us = (uint64_t) ms.st_mtim.tv_sec * 1000000u + (uint64_t) ms.st_mtim.tv_nsec / 1000u;
            free(an);
        }
        if (legacy_candidate) {
            b->state = BK_LEGACY;
            b->kind = strdup("full");
            struct stat sb;
            if (fstatat(dfd, de->d_name, &sb, 0) == 0)
                b->archive_size = (uint64_t) sb.st_size;
            continue;
        }
        char *mp = bk_store_path(dir, id, ".manifest");
        bk_manifest_t m;
        char err[256];
        int pr = mp ? bk_manifest_load(mp, &m, err, sizeof err) : -ENOMEM;
        free(mp);
        if (pr < 0) {
            b->state = BK_DAMAGED;
            b->why = hlb_strdupf("%s.manifest: %s", id, pr == -EINVAL ? err : strerror(-pr));
            continue;
        }
        if (strcmp(m.id, id)) {
            b->state = BK_DAMAGED;
            b->why = hlb_strdupf("%s.manifest: names another backup (%s)", id, m.id);
            bk_manifest_free(&m);
            continue;
        }
        b->kind = m.kind;
        b->parent = m.parent;
        b->reason = m.reason;
        m.kind = m.parent = m.reason = NULL;
        b->archive_size = m.archive_size;
        b->entries = m.n;
        bk_manifest_free(&m);
        char *bad = hlb_strdupf("%s.bad", id);
        if (bad && exists_at(dfd, bad)) {
            b->state = BK_BAD;
            b->why = first_line(dfd, bad);
        }
        free(bad);
    }
    closedir(d);
    close(dfd);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_info);
    if (r < 0)
        bk_list_free(out);
    return r;
}

void bk_list_free(bk_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        bk_info_t *b = &l->v[i];
        free(b->id);
        free(b->kind);
        free(b->parent);
        free(b->reason);
        free(b->why);
    }
    free(l->v);
    *l = (bk_list_t) {0};
}

const bk_info_t *bk_list_find(const bk_list_t *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].id, id))
            return &l->v[i];
    return NULL;
}

const bk_info_t *bk_list_newest_good(const bk_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].state == BK_GOOD)
            return &l->v[i];
    return NULL;
}

char **bk_list_chain(const bk_list_t *l, const char *id, char **missing)
{
    *missing = NULL;
    char **rev = NULL;
    const char *cur = id;
    for (size_t depth = 0; cur; depth++) {
        const bk_info_t *b = bk_list_find(l, cur);
        if (!b || b->state == BK_BAD || b->state == BK_DAMAGED || depth > l->n) {
            /* named by what is wrong with it: its manifest's error, its .bad */
            *missing = !b ? hlb_strdupf("%s (not there: %s.manifest is missing)", cur, cur)
                       : b->why ? hlb_strdupf("%s (%s: %s)", cur, bk_state_name(b->state), b->why)
                                : hlb_strdupf("%s (%s)", cur, bk_state_name(b->state));
            hlb_strv_free(rev);
            return NULL;
        }
        hlb_strv_push(&rev, b->id);
        cur = b->parent;
    }
    size_t n = hlb_strv_len(rev);
    for (size_t i = 0; i < n / 2; i++) {
        char *t = rev[i];
        rev[i] = rev[n - 1 - i];
        rev[n - 1 - i] = t;
    }
    return rev;
}

char *bk_store_latest(const char *dir)
{
    char *p = hlb_strdupf("%s/%s", dir, BK_LATEST);
    char buf[512];
    ssize_t n = p ? readlink(p, buf, sizeof buf - 1) : -1;
    free(p);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    return id_of(slash ? slash + 1 : buf, ".tar.gz");
}

int bk_mkdir_p(const char *path, mode_t mode)
{
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int r = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = '\0';
            if (mkdir(p, mode) < 0 && errno != EEXIST) {
                r = -errno;
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    struct stat sb;
    if (!r && (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)))
        r = -ENOTDIR;
    free(p);
    return r;
}

int bk_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

int bk_store_set_latest(const char *dir, const char *id)
{
    char *link = hlb_strdupf("%s/%s", dir, BK_LATEST);
    char *tmp = hlb_strdupf("%s/.%s.part", dir, BK_LATEST);
    char *target = id ? hlb_strdupf("%s.tar.gz", id) : NULL;
    int r = 0;
    if (!link || !tmp || (id && !target)) {
        r = -ENOMEM;
    } else if (!id) {
        if (unlink(link) < 0 && errno != ENOENT)
            r = -errno;
    } else {
        unlink(tmp);
        /* A new link under a temporary name renamed over the old one: a
         * reader sees the old or the new, never none. */
        if (symlink(target, tmp) < 0 || rename(tmp, link) < 0) {
            r = -errno;
            unlink(tmp);
        }
    }
    if (!r)
        bk_fsync_path(dir);
    free(link);
    free(tmp);
    free(target);
    return r;
}

int bk_store_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char *tmp = hlb_strdupf("%s/.%s.part", dir, name);
    char *fin = hlb_strdupf("%s/%s", dir, name);
    int r = 0;
    if (!tmp || !fin) {
        r = -ENOMEM;
        goto out;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    const char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        off += (size_t) n;
    }
    if (!r && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && !r)
        r = -errno;
    if (!r && rename(tmp, fin) < 0)
        r = -errno;
    if (r)
        unlink(tmp);
    else
        bk_fsync_path(dir);
out:
    free(tmp);
    free(fin);
    return r;
}

int bk_store_mark_bad(const char *dir, const char *id, const char *why)
{
    char *name = hlb_strdupf("%s.bad", id);
    char *text = hlb_strdupf("%s\n", why ? why : "did not verify");
    int r = name && text ? bk_store_write_file(dir, name, text, strlen(text)) : -ENOMEM;
    free(name);
    free(text);
    return r;
}

void bk_store_remove(const char *dir, const char *id)
{
    /* The manifest first: what is left of a half-removed backup is then an
     * incomplete one, which the next run's clean removes. */
    static const char *const suffixes[] = {".manifest", ".bad", ".tar.gz", ".snar"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char *p = bk_store_path(dir, id, suffixes[i]);
        if (p)
            unlink(p);
        free(p);
    }
}

int bk_store_clean(const char *dir, char ***removed)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    char **names = NULL;
    struct dirent *de;
    while ((de = readdir(d)))
        hlb_strv_push(&names, de->d_name);
    closedir(d);
    for (char **n = names; n && *n; n++) {
        const char *s = *n;
        bool ours_tmp = s[0] == '.' &&
                        (hlb_has_prefix(s + 1, BK_PREFIX_BACKUP) || hlb_has_prefix(s + 1, BK_PREFIX_STATE));
        char *id = NULL;
        bool incomplete = false;
        if (!ours_tmp && ((id = id_of(s, ".snar")) || (id = id_of(s, ".bad")))) {
            char *m = bk_store_path(dir, id, ".manifest");
            struct stat sb;
            incomplete = m && lstat(m, &sb) < 0;
            free(m);
        }
        if (ours_tmp || incomplete) {
            char *p = hlb_strdupf("%s/%s", dir, s);
            if (p && bk_remove_tree(p) == 0)
                hlb_strv_push(removed, s);
            if (incomplete) { /* its archive too, written just before */
                char *a = bk_store_path(dir, id, ".tar.gz");
                if (a && unlink(a) == 0) {
                    char *an = hlb_strdupf("%s.tar.gz", id);
                    if (an)
                        hlb_strv_push(removed, an);
                    free(an);
                }
                free(a);
            }
            free(p);
        }
        free(id);
    }
    hlb_strv_free(names);
    return 0;
}

int bk_store_prune(const char *dir, const char *prefix, int64_t keep, int64_t max_age_ms,
                   uint64_t now_us, const char *protect, char ***pruned)
{
    bk_list_t l;
    int r = bk_store_list(dir, &l);
    if (r < 0)
        return r;
    bool *kept = calloc(l.n ? l.n : 1, sizeof *kept);
    if (!kept) {
        bk_list_free(&l);
        return -ENOMEM;
    }
    char *latest = bk_store_latest(dir);
    int64_t good = 0, bad = 0;
    for (size_t i = 0; i < l.n; i++) {
        bk_info_t *b = &l.v[i];
        if ((protect && !strcmp(b->id, protect)) || (latest && !strcmp(b->id, latest)) ||
            !hlb_has_prefix(b->id, prefix)) {
            kept[i] = true;
            if ((b->state == BK_GOOD || b->state == BK_LEGACY) && hlb_has_prefix(b->id, prefix))
                good++;
        }
    }
    for (size_t i = 0; i < l.n; i++) {
        bk_info_t *b = &l.v[i];
        if (kept[i])
            continue;
        bool old = max_age_ms > 0 && b->mtime_us + (uint64_t) max_age_ms * 1000u < now_us;
        if (b->state == BK_GOOD || b->state == BK_LEGACY) {
            if (!old && good < keep) {
                kept[i] = true;
                good++;
            }
        } else if (!old && bad < 2) {
            kept[i] = true;
            bad++;
        }
    }
    /* What a kept incremental needs stays, however old. */
    for (size_t i = 0; i < l.n; i++) {
        if (!kept[i])
            continue;
        const char *p = l.v[i].parent;
        for (size_t depth = 0; p && depth < l.n; depth++) {
            size_t j;
            for (j = 0; j < l.n && strcmp(l.v[j].id, p); j++)
                ;
            if (j == l.n)
                break;
            kept[j] = true;
            p = l.v[j].parent;
        }
    }
    for (size_t i = 0; i < l.n; i++) {
        if (kept[i])
            continue;
        bk_store_remove(dir, l.v[i].id);
        hlb_strv_push(pruned, l.v[i].id);
    }
    bk_fsync_path(dir);
    free(latest);
    free(kept);
    bk_list_free(&l);
    return 0;
}
