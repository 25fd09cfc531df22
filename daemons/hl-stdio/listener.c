/* Listening unix sockets with safe permissions: see listener.h. */
#include "listener.h"

#include "hlbus/paths.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void stdio_sock_close(stdio_sock_t **self_p)
{
    stdio_sock_t *s = *self_p;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    /* A successor may own the path by now: remove only our own file. */
    struct stat st;
    if (s->bound && stat(s->bound, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        unlink(s->bound);
    free(s->path);
    free(s->bound);
    free(s);
    *self_p = NULL;
}

static void set_path(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, strlen(path) + 1); /* length checked by the caller */
}

/* Binds the socket at PATH, which is final (a link's target). */
static int listen_at(const char *path, gid_t gid, mode_t mode, stdio_sock_t **out, char *err,
                     size_t errlen);

int stdio_sock_listen(const char *path, gid_t gid, mode_t mode, stdio_sock_t **out, char *err,
                      size_t errlen)
{
    /* Under systemd /run/hl/stdio.sock is a root-owned link into the relay's
     * own directory (deploy/tmpfiles.d/hl.conf): bind where it points, so
     * that no other user can take the name. */
    char *target = hlb_socket_target(path);
    if (!target)
        return fail(err, errlen, -errno, "%s: cannot follow the link: %s", path,
                    strerror(errno));
    int rc = listen_at(target, gid, mode, out, err, errlen);
    if (rc < 0) {
        free(target);
        return rc;
    }
    (*out)->bound = target;
    if (strcmp(target, path) != 0) {
        free((*out)->path);
        if (!((*out)->path = strdup(path))) {
            stdio_sock_close(out);
            return fail(err, errlen, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

static int listen_at(const char *path, gid_t gid, mode_t mode, stdio_sock_t **out, char *err,
                     size_t errlen)
{
    struct sockaddr_un sa;
    char *tmp = NULL;
    if (strlen(path) + 17 > sizeof sa.sun_path)
        return fail(err, errlen, -ENAMETOOLONG, "%s: path too long for a unix socket", path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return fail(err, errlen, -EEXIST, "%s: exists and is not a socket", path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0) {
            set_path(&sa, path);
            int rc = connect(probe, (struct sockaddr *)&sa, sizeof sa);
            close(probe);
            if (rc == 0)
                return fail(err, errlen, -EADDRINUSE, "%s: another process is listening on it",
                            path);
        }
    }
    if (asprintf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0)
        return fail(err, errlen, -ENOMEM, "out of memory");
    int rc = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = fail(err, errlen, -errno, "socket: %s", strerror(errno));
        goto out;
    }
    /* On Linux the socket inode's mode (less the umask) becomes the file's
     * mode at bind: so it is never created any looser than MODE. */
    fchmod(fd, mode);
    unlink(tmp);
    set_path(&sa, tmp);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        rc = fail(err, errlen, -errno, "%s: bind: %s", tmp, strerror(errno));
        goto out;
    }
    if (gid != (gid_t)-1 && chown(tmp, (uid_t)-1, gid) < 0) {
        rc = fail(err, errlen, -errno, "%s: chown to group %u: %s", path, (unsigned)gid,
                  strerror(errno));
        goto out;
    }
    if (chmod(tmp, mode) < 0 || listen(fd, 128) < 0 || rename(tmp, path) < 0 ||
        stat(path, &st) < 0) {
        rc = fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    stdio_sock_t *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        unlink(path);
        rc = fail(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    s->fd = fd;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->gid = gid;
    s->mode = mode;
    *out = s;
    fd = -1;
out:
    if (rc < 0)
        unlink(tmp);
    if (fd >= 0)
        close(fd);
    free(tmp);
    return rc;
}

int stdio_sock_retune(stdio_sock_t *s, gid_t gid, mode_t mode, char *err, size_t errlen)
{
    if (s->gid == gid && s->mode == mode)
        return 0;
    if (gid != (gid_t)-1 && chown(s->path, (uid_t)-1, gid) < 0)
        return fail(err, errlen, -errno, "%s: chown: %s", s->path, strerror(errno));
    if (chmod(s->path, mode) < 0)
        return fail(err, errlen, -errno, "%s: chmod: %s", s->path, strerror(errno));
    s->gid = gid;
    s->mode = mode;
    return 0;
}
