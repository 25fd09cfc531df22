/* Safe removal (see fsclean.h). Every directory is opened with O_NOFOLLOW
 * relative to its parent's descriptor, and compared with the entry that was
 * examined (inode and mount id), so swapping a directory for a link or a
 * mount between the check and the open is detected, not followed. */
#include "fsclean.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <hlbus/conf.h>

#define MAX_DEPTH 256

typedef struct ident {
    uint64_t dev;
    uint64_t ino;
    uint64_t mnt;    /* mount id; 0 when the kernel does not say */
    uint16_t mode;
} ident_t;

static int ident_at(int dfd, const char *name, ident_t *id)
{
    struct statx sx;
    if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH),
              STATX_TYPE | STATX_INO | STATX_MNT_ID, &sx) < 0)
        return -errno;
    id->dev = ((uint64_t) sx.stx_dev_major << 32) | sx.stx_dev_minor;
    id->ino = sx.stx_ino;
    id->mnt = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
    id->mode = sx.stx_mode;
    return 0;
}

static bool same_mount(const ident_t *a, const ident_t *b)
{
    if (a->dev != b->dev)
        return false;
    return !a->mnt || !b->mnt || a->mnt == b->mnt;
}

static void note(fsc_stats_t *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(fsc_stats_t *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hlb_buf_vprintf(&st->log, fmt, ap);
    va_end(ap);
    hlb_buf_puts(&st->log, "\n");
}

static int fail(fsc_stats_t *st, int *first, int err, const char *what, const char *name)
{
    st->errors++;
    note(st, "cannot remove %s%s: %s", what, name, strerror(-err));
    if (!*first)
        *first = err;
    return err;
}

/* Empties the directory open at DFD (identity SELF). */
static int clear_fd(int dfd, const ident_t *self, const char *where, int depth, fsc_stats_t *st)
{
    int first = 0;
    if (depth > MAX_DEPTH)
        return fail(st, &first, -ELOOP, where, " (too deep)");
    int fd2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd2 < 0)
        return fail(st, &first, -errno, where, "");
    DIR *d = fdopendir(fd2);
    if (!d) {
        close(fd2);
        return fail(st, &first, -errno, where, "");
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        ident_t id = {0};
        int r = ident_at(dfd, n, &id);
        if (r == -ENOENT)
            continue;
        if (r < 0) {
            fail(st, &first, r, where, n);
            continue;
        }
        if (S_ISDIR(id.mode)) {
            if (!same_mount(&id, self)) {
                st->kept++;
                note(st, "kept %s%s: a mount point, not crossed", where, n);
                continue;
            }
            int sub = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            ident_t now = {0};
            if (sub < 0 || ident_at(sub, "", &now) < 0 || now.ino != id.ino ||
                !same_mount(&now, self)) {
                /* Replaced since we looked: leave it. */
                r = sub < 0 ? -errno : -ESTALE;
                if (sub >= 0)
                    close(sub);
                fail(st, &first, r, where, n);
                continue;
            }
            size_t wl = strlen(where) + strlen(n) + 2;
            char *sw = malloc(wl);
            if (sw)
                snprintf(sw, wl, "%s%s/", where, n);
            r = clear_fd(sub, self, sw ? sw : where, depth + 1, st);
            free(sw);
            close(sub);
            if (r < 0 && !first)
                first = r;
            if (unlinkat(dfd, n, AT_REMOVEDIR) == 0)
                st->removed++;
            else if (errno != ENOENT)
                fail(st, &first, -errno, where, n);
        } else {
            /* Files, links (the link itself), sockets, fifos, devices. */
            if (unlinkat(dfd, n, 0) == 0)
                st->removed++;
            else if (errno != ENOENT)
                fail(st, &first, -errno, where, n);
        }
    }
    if (errno && !first)
        first = -errno;
    closedir(d);
    return first;
}

static int open_trusted_dir(const char *path, ident_t *id)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = ident_at(fd, "", id);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int fsc_clear_beneath(const char *root, const char *name, fsc_stats_t *st)
{
    if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return -EINVAL;
    ident_t rid = {0};
    int rfd = open_trusted_dir(root, &rid);
    if (rfd < 0)
        return rfd == -ENOENT ? 0 : rfd;
    ident_t id = {0};
    int r = ident_at(rfd, name, &id);
    if (r < 0) {
        close(rfd);
        return r == -ENOENT ? 0 : r;
    }
    if (S_ISLNK(id.mode)) {
        close(rfd);
        st->errors++;
        note(st, "%s/%s is a symbolic link: not following it out of %s", root, name, root);
        return -ELOOP;
    }
    if (!S_ISDIR(id.mode)) {
        close(rfd);
        st->errors++;
        note(st, "%s/%s is not a directory", root, name);
        return -ENOTDIR;
    }
    if (!same_mount(&id, &rid)) {
        close(rfd);
        st->kept++;
        note(st, "%s/%s is a mount point: not cleared", root, name);
        return -EXDEV;
    }
    int dfd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(rfd);
    if (dfd < 0)
        return -errno;
    ident_t now = {0};
    if (ident_at(dfd, "", &now) < 0 || now.ino != id.ino) {
        close(dfd);
        return -ESTALE;
    }
    size_t wl = strlen(root) + strlen(name) + 3;
    char *where = malloc(wl);
    if (!where) {
        close(dfd);
        return -ENOMEM;
    }
    snprintf(where, wl, "%s/%s/", root, name);
    r = clear_fd(dfd, &now, where, 0, st);
    free(where);
    close(dfd);
    return r;
}

int fsc_remove_matching(const char *dir, const char *pattern, fsc_stats_t *st)
{
    ident_t did = {0};
    int dfd = open_trusted_dir(dir, &did);
    if (dfd < 0)
        return dfd == -ENOENT ? 0 : dfd;
    int fd2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
    if (!d) {
        int r = -errno;
        if (fd2 >= 0)
            close(fd2);
        close(dfd);
        return r;
    }
    int first = 0;
    size_t wl = strlen(dir) + 2;
    char *where = malloc(wl);
    if (where)
        snprintf(where, wl, "%s/", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || fnmatch(pattern, n, FNM_PERIOD) != 0)
            continue;
        ident_t id = {0};
        int r = ident_at(dfd, n, &id);
        if (r < 0) {
            if (r != -ENOENT)
                fail(st, &first, r, where ? where : "", n);
            continue;
        }
        if (S_ISDIR(id.mode)) {
            if (!same_mount(&id, &did)) {
                st->kept++;
                note(st, "kept %s/%s: a mount point", dir, n);
                continue;
            }
            int sub = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            ident_t now = {0};
            if (sub < 0 || ident_at(sub, "", &now) < 0 || now.ino != id.ino) {
                r = sub < 0 ? -errno : -ESTALE;
                if (sub >= 0)
                    close(sub);
                fail(st, &first, r, where ? where : "", n);
                continue;
            }
            size_t sl = strlen(dir) + strlen(n) + 3;
            char *sw = malloc(sl);
            if (sw)
                snprintf(sw, sl, "%s/%s/", dir, n);
            r = clear_fd(sub, &now, sw ? sw : n, 0, st);
            free(sw);
            close(sub);
            if (r < 0 && !first)
                first = r;
            if (unlinkat(dfd, n, AT_REMOVEDIR) == 0)
                st->removed++;
            else if (errno != ENOENT)
                fail(st, &first, -errno, where ? where : "", n);
        } else if (unlinkat(dfd, n, 0) == 0) {
            st->removed++;
        } else if (errno != ENOENT) {
            fail(st, &first, -errno, where ? where : "", n);
        }
    }
    free(where);
    closedir(d);
    close(dfd);
    return first;
}

/* The directory of PATH, opened without following any symbolic link: one
 * component at a time with O_NOFOLLOW (openat2's RESOLVE_NO_SYMLINKS would
 * do it in one call, but seccomp filters of systemd 252 do not know it). */
static int open_parent_nofollow(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash || path[0] != '/' || !slash[1])
        return -EINVAL;
    *base = slash + 1;
    int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    const char *p = path;
    while (p < slash) {
        while (*p == '/')
            p++;
        const char *end = strchr(p, '/');
        if (!end || end > slash)
            end = slash;
        size_t len = (size_t) (end - p);
        if (len == 0)
            break;
        char *comp = strndup(p, len);
        if (!comp) {
            close(dfd);
            return -ENOMEM;
        }
        int r = 0;
        if (!strcmp(comp, "..") || !strcmp(comp, "."))
            r = -EINVAL;
        int next = r ? -1 : openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (!r && next < 0)
            r = errno == ENOTDIR ? -ELOOP : -errno; /* a link to a directory reads as ENOTDIR */
        free(comp);
        close(dfd);
        if (r < 0)
            return r;
        dfd = next;
        p = end;
    }
    /* The final directory must allow unlinkat and openat of entries. */
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = fd < 0 ? -errno : fd;
    close(dfd);
    return r;
}

static bool pid_in_unit(pid_t pid, const char *unit)
{
    if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
        return false;
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/cgroup", (int) pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return false;
    bool in = false;
    char *line = NULL;
    size_t cap = 0;
    size_t ul = strlen(unit);
    while (getline(&line, &cap, f) > 0) {
        /* "0::/system.slice/hl-daemon.service[/...]" */
        for (char *s = strstr(line, unit); s; s = strstr(s + 1, unit))
            if (s > line && s[-1] == '/' && (s[ul] == '\n' || s[ul] == '/' || s[ul] == '\0'))
                in = true;
    }
    free(line);
    fclose(f);
    return in;
}

int fsc_remove_stale(const char *path, const char *unit, fsc_stats_t *st)
{
    const char *base;
    int dfd = open_parent_nofollow(path, &base);
    if (dfd == -ENOENT)
        return 0;
    if (dfd < 0) {
        st->errors++;
        note(st, "%s: %s%s", path, strerror(-dfd),
             dfd == -ELOOP ? " (a symbolic link in its directory path: not followed)" : "");
        return dfd;
    }
    int fd = openat(dfd, base, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        if (r == -ELOOP) {
            /* A symbolic link where a pid or lock file should be: removing
             * the link itself is safe and nothing it points to is touched. */
            if (unlinkat(dfd, base, 0) == 0) {
                st->removed++;
                note(st, "removed %s (a symbolic link; its target left alone)", path);
                close(dfd);
                return 0;
            }
            r = -errno;
        }
        close(dfd);
        if (r == -ENOENT)
            return 0;
        st->errors++;
        note(st, "%s: %s", path, strerror(-r));
        return r;
    }
    struct stat sb;
    int r = 0;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        r = -EPERM;
        st->errors++;
        note(st, "%s: not a regular file, left alone", path);
        goto out;
    }
    size_t len = strlen(base);
    bool pidfile = len > 4 && !strcmp(base + len - 4, ".pid");
    if (pidfile) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        int64_t pid = 0;
        if (n > 0) {
            buf[n] = '\0';
            buf[strcspn(buf, " \t\r\n")] = '\0';
            if (hlb_parse_int(buf, &pid) < 0 || pid <= 0 || pid > INT32_MAX)
                pid = 0;
        }
        if (pid && pid_in_unit((pid_t) pid, unit)) {
            st->kept++;
            note(st, "kept %s: process %lld is alive in %s", path, (long long) pid, unit);
            r = -EBUSY;
            goto out;
        }
    } else {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        bool held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
        if (!held && fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
            held = true;
        if (held) {
            st->kept++;
            note(st, "kept %s: locked by a running process", path);
            r = -EBUSY;
            goto out;
        }
        /* Our flock is held until close, so nobody takes it in between. */
    }
    if (unlinkat(dfd, base, 0) == 0) {
        st->removed++;
        note(st, "removed stale %s", path);
    } else if (errno != ENOENT) {
        r = -errno;
        st->errors++;
        note(st, "%s: %s", path, strerror(errno));
    }
out:
    close(fd);
    close(dfd);
    return r;
}

void fsc_stats_free(fsc_stats_t *st)
{
    hlb_buf_free(&st->log);
}
