/* tar's argv and a runner with captured output (see bk_tar.h). */
#include "bk_tar.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hlbus/str.h>
#include <hlbus/strv.h>

extern char **environ;

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

char *bk_tar_member(const char *path)
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

char **bk_tar_create_argv(const char *tar, const char *out, const char *snar, const char *dir,
                          char *const *paths, char *const *exclude)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    r |= push(&v, &n, &cap, "%s", tar);
    r |= push(&v, &n, &cap, "%s", "--create");
    r |= push(&v, &n, &cap, "%s", "--gzip");
    r |= push(&v, &n, &cap, "--file=%s", out);
    if (snar) {
        r |= push(&v, &n, &cap, "--listed-incremental=%s", snar);
        /* Device numbers of a file system may change at a reboot: without
         * this every directory would look new and be stored whole again. */
        r |= push(&v, &n, &cap, "%s", "--no-check-device");
    }
    r |= push(&v, &n, &cap, "%s", "--directory=/");
    /* A file that disappears or changes while being read is expected on a
     * live system; it must not lose the backup (the verification that
     * follows says what the archive holds). */
    r |= push(&v, &n, &cap, "%s", "--ignore-failed-read");
    r |= push(&v, &n, &cap, "%s", "--warning=no-file-changed");
    r |= push(&v, &n, &cap, "%s", "--warning=no-file-removed");
    r |= push(&v, &n, &cap, "%s", "--warning=no-file-ignored");
    r |= push(&v, &n, &cap, "%s", "--one-file-system");
    /* Excludes are paths: what the scan leaves out, tar leaves out. */
    r |= push(&v, &n, &cap, "%s", "--anchored");
    r |= push(&v, &n, &cap, "%s", "--no-wildcards");
    char *self = dir ? bk_tar_member(dir) : NULL;
    if (self && *self)
        r |= push(&v, &n, &cap, "--exclude=%s", self);
    free(self);
    for (size_t i = 0; exclude && exclude[i]; i++) {
        char *m = bk_tar_member(exclude[i]);
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
        char *m = bk_tar_member(paths[i]);
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

char **bk_tar_extract_argv(const char *tar, const char *archive, const char *to,
                           char *const *members)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    r |= push(&v, &n, &cap, "%s", tar);
    r |= push(&v, &n, &cap, "%s", "--extract");
    r |= push(&v, &n, &cap, "%s", "--gzip");
    r |= push(&v, &n, &cap, "--file=%s", archive);
    /* The archive's directory listings are applied: what was deleted
     * before this backup is deleted by its restore. */
    r |= push(&v, &n, &cap, "%s", "--listed-incremental=/dev/null");
    r |= push(&v, &n, &cap, "--directory=%s", to);
    r |= push(&v, &n, &cap, "%s", "--preserve-permissions");
    r |= push(&v, &n, &cap, "%s", "--no-wildcards");
    r |= push(&v, &n, &cap, "%s", "--");
    for (size_t i = 0; members && members[i]; i++) {
        char *m = bk_tar_member(members[i]);
        if (m && *m)
            r |= push(&v, &n, &cap, "%s", m);
        free(m);
    }
    if (r < 0) {
        hlb_strv_free(v);
        return NULL;
    }
    return v;
}

char **bk_tar_list_argv(const char *tar, const char *archive)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    r |= push(&v, &n, &cap, "%s", tar);
    r |= push(&v, &n, &cap, "%s", "--list");
    r |= push(&v, &n, &cap, "%s", "--gzip");
    r |= push(&v, &n, &cap, "--file=%s", archive);
    if (r < 0) {
        hlb_strv_free(v);
        return NULL;
    }
    return v;
}

int bk_run(char *const *argv, hlb_buf_t *out, hlb_buf_t *err)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe2(po, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(pe, O_CLOEXEC) < 0) {
        int e = -errno;
        close(po[0]);
        close(po[1]);
        return e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    sigset_t dfl;
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(po[1]);
    close(pe[1]);
    if (r != 0) {
        close(po[0]);
        close(pe[0]);
        return -r;
    }
    struct pollfd pf[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    char buf[16384];
    int open_n = 2;
    while (open_n > 0) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(pf[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_n--;
                continue;
            }
            hlb_buf_t *b = i == 0 ? out : err;
            if (b && (i == 0 || b->len < 65536))
                hlb_buf_add(b, buf, (size_t) n);
        }
    }
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0)
            close(pf[i].fd);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}
