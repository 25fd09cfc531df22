/* Tree walks with openat(), no link followed (see bk_walk.h). */
#include "bk_walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    bk_walk_fn fn;
    void *arg;
    bool one_fs;
    dev_t dev;
    char path[PATH_MAX + 1];
} walk_t;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Walks the directory open at FD whose path is w->path (length LEN). */
static int walk_dir(walk_t *w, int fd, size_t len)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    /* Names sorted: the walk's order does not depend on the file system's. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                r = -ENOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            r = -ENOMEM;
            break;
        }
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    int dfd = dirfd(d);
    for (size_t i = 0; i < n && r >= 0; i++) {
        size_t nl = strlen(names[i]);
        if (len + 1 + nl > PATH_MAX) {
            r = -ENAMETOOLONG;
            break;
        }
        struct stat sb;
        if (fstatat(dfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            r = -errno;
            break;
        }
        w->path[len] = '/';
        memcpy(w->path + len + 1, names[i], nl + 1);
        int c = w->fn(w->path, dfd, names[i], &sb, w->arg);
        if (c < 0) {
            r = c;
            break;
        }
        if (c == 0 && S_ISDIR(sb.st_mode) && (!w->one_fs || sb.st_dev == w->dev)) {
            int cfd = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd >= 0)
                r = walk_dir(w, cfd, len + 1 + nl);
            else if (errno != ENOENT)
                r = -errno;
        }
        w->path[len] = '\0';
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return r;
}

int bk_walk(const char *top, const char *base, bool one_fs, bk_walk_fn fn, void *arg)
{
    walk_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    *w = (walk_t) {.fn = fn, .arg = arg, .one_fs = one_fs};
    size_t bl = strlen(base);
    if (bl > PATH_MAX) {
        free(w);
        return -ENAMETOOLONG;
    }
    memcpy(w->path, base, bl + 1);
    struct stat sb;
    int r;
    if (lstat(top, &sb) < 0) {
        r = -errno;
        goto out;
    }
    w->dev = sb.st_dev;
    /* The top is named by BASE; "" is the root of a scratch tree and is not
     * itself an entry. */
    r = bl ? fn(w->path, AT_FDCWD, top, &sb, arg) : 0;
    if (r == 0 && S_ISDIR(sb.st_mode)) {
        int fd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        r = fd >= 0 ? walk_dir(w, fd, bl) : -errno;
    } else if (r > 0) {
        r = 0;
    }
out:
    free(w);
    return r;
}

static int remove_at(int dfd, const char *name, dev_t dev)
{
    struct stat sb;
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(sb.st_mode))
        return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
    if (sb.st_dev != dev)
        return -EXDEV;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    /* A restored directory may be read-only (mode 0555): its entries could
     * not be removed otherwise. */
    fchmod(fd, 0700);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    int first = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        int r = remove_at(dirfd(d), de->d_name, dev);
        if (r < 0 && !first)
            first = r;
    }
    closedir(d);
    if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !first)
        first = -errno;
    return first;
}

int bk_remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return errno == ENOENT ? 0 : -errno;
    return remove_at(AT_FDCWD, path, sb.st_dev);
}
