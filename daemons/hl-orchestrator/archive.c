/* Archive naming, tar's argv, latest link and retention (see archive.h). */
#include "archive.h"
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <hlbus/str.h>
#include "config.h"

char *archive_name(uint64_t ts_us)
{
    time_t t = (time_t) (ts_us / 1000000);
    struct tm tm;
    char stamp[32];
    if (!gmtime_r(&t, &tm) || !strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm))
        return NULL;
    char *out = NULL;
    if (asprintf(&out, ARCHIVE_PREFIX "%s" ARCHIVE_SUFFIX, stamp) < 0)
        return NULL;
    return out;
}

__attribute__((format(printf, 4, 5))) static int push(char ***v, size_t *n, size_t *cap,
                                                      const char *fmt, ...)
{
    if (*n + 2 > *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        char **nv = realloc(*v, c * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = c;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = hlb_vstrdupf(fmt, ap);
    va_end(ap);
    if (!s)
        return -ENOMEM;
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
    return 0;
}

/* "/var/lib/hl/" → "var/lib/hl" (tar member names, relative to /). */
static char *member(const char *path)
{
    while (*path == '/')
        path++;
    char *m = strdup(path);
    if (!m)
        return NULL;
    size_t n = strlen(m);
    while (n > 0 && m[n - 1] == '/')
        m[--n] = '\0';
    return m;
}

char **archive_argv(const char *tar, const char *out, const char *dir, char *const *paths,
                    char *const *exclude)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    r |= push(&v, &n, &cap, "%s", tar);
    r |= push(&v, &n, &cap, "%s", "--create");
    r |= push(&v, &n, &cap, "%s", "--gzip");
    r |= push(&v, &n, &cap, "--file=%s", out);
    r |= push(&v, &n, &cap, "%s", "--directory=/");
    /* A file that disappears or changes while being read is expected on a
     * system that is still winding down; it must not lose the archive. */
    r |= push(&v, &n, &cap, "%s", "--ignore-failed-read");
    r |= push(&v, &n, &cap, "%s", "--warning=no-file-changed");
    r |= push(&v, &n, &cap, "%s", "--warning=no-file-removed");
    r |= push(&v, &n, &cap, "%s", "--warning=no-file-ignored");
    r |= push(&v, &n, &cap, "%s", "--one-file-system");
    r |= push(&v, &n, &cap, "%s", "--anchored");
    char *self = member(dir);
    if (self && *self)
        r |= push(&v, &n, &cap, "--exclude=%s", self);
    free(self);
    for (size_t i = 0; exclude && exclude[i]; i++) {
        char *m = member(exclude[i]);
        if (m && *m)
            r |= push(&v, &n, &cap, "--exclude=%s", m);
        free(m);
    }
    r |= push(&v, &n, &cap, "%s", "--");
    size_t before = n;
    for (size_t i = 0; paths && paths[i]; i++) {
        struct stat sb;
        if (lstat(paths[i], &sb) < 0)
            continue;
        char *m = member(paths[i]);
        if (m && *m)
            r |= push(&v, &n, &cap, "%s", m);
        free(m);
    }
    if (r < 0 || n == before) {
        hlb_strv_free(v);
        return NULL;
    }
    return v;
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *) b, *(char *const *) a);
}

static bool is_archive(const char *n)
{
    size_t l = strlen(n), pl = strlen(ARCHIVE_PREFIX), sl = strlen(ARCHIVE_SUFFIX);
    return l > pl + sl && !strncmp(n, ARCHIVE_PREFIX, pl) && !strcmp(n + l - sl, ARCHIVE_SUFFIX) &&
           strcmp(n, ARCHIVE_LATEST) != 0;
}

static bool is_leftover(const char *n, const char *tmp)
{
    size_t l = strlen(n);
    return n[0] == '.' && !strncmp(n + 1, ARCHIVE_PREFIX, strlen(ARCHIVE_PREFIX)) && l > 5 &&
           !strcmp(n + l - 5, ".part") && strcmp(n, tmp) != 0;
}

int archive_finish(const char *dir, const char *tmp, const char *final, int64_t keep,
                   int64_t max_age_ms, uint64_t now_us, char ***pruned, uint64_t *bytes)
{
    *pruned = NULL;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int r = 0;
    struct stat sb;
    if (fstatat(dfd, tmp, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode)) {
        r = -ENOENT;
        goto out;
    }
    if (bytes)
        *bytes = (uint64_t) sb.st_size;
    /* Durable before it replaces anything. */
    int fd = openat(dfd, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    if (renameat(dfd, tmp, dfd, final) < 0) {
        r = -errno;
        goto out;
    }
    const char *link_tmp = ".hl-state-latest.tmp";
    unlinkat(dfd, link_tmp, 0);
    if (symlinkat(final, dfd, link_tmp) < 0 || renameat(dfd, link_tmp, dfd, ARCHIVE_LATEST) < 0) {
        r = -errno;
        unlinkat(dfd, link_tmp, 0);
        goto out;
    }
    fsync(dfd);

    int fd2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
    if (!d) {
        if (fd2 >= 0)
            close(fd2);
        goto out;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    char **gone = NULL;
    size_t ng = 0, capg = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (is_leftover(de->d_name, tmp)) {
            if (unlinkat(dfd, de->d_name, 0) == 0)
                push(&gone, &ng, &capg, "%s", de->d_name);
            continue;
        }
        if (!is_archive(de->d_name))
            continue;
        push(&names, &n, &cap, "%s", de->d_name);
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, cmp_desc);
    /* The new archive is always kept and counts towards KEEP. */
    int64_t others = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(names[i], final))
            continue;
        bool drop = others >= keep - 1;
        struct stat as;
        if (!drop && max_age_ms > 0 && fstatat(dfd, names[i], &as, AT_SYMLINK_NOFOLLOW) == 0 &&
            (uint64_t) as.st_mtime * 1000000u + (uint64_t) max_age_ms * 1000u < now_us)
            drop = true;
        if (drop && unlinkat(dfd, names[i], 0) == 0)
            push(&gone, &ng, &capg, "%s", names[i]);
        else if (!drop)
            others++;
    }
    hlb_strv_free(names);
    *pruned = gone;
out:
    close(dfd);
    return r;
}
