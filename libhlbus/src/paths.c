/* Runtime directory and endpoint names. */
#include "hlbus/paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

const char *hlb_runtime_dir(const char *dir)
{
    if (dir && *dir)
        return dir;
    const char *env = getenv("HL_RUNTIME_DIR");
    return env && *env ? env : HLB_RUNTIME_DIR_DEFAULT;
}

char *hlb_path(const char *runtime_dir, const char *rel)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", hlb_runtime_dir(runtime_dir), rel) < 0)
        return NULL;
    return p;
}

char *hlb_endpoint(const char *runtime_dir, const char *rel)
{
    char *p = NULL;
    if (asprintf(&p, "ipc://%s/%s", hlb_runtime_dir(runtime_dir), rel) < 0)
        return NULL;
    return p;
}

char *hlb_socket_target(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode))
        return strdup(path);
    char link[PATH_MAX];
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0)
        return NULL;
    if (n == 0) {
        errno = EINVAL;
        return NULL;
    }
    link[n] = '\0';
    char *target = NULL;
    if (link[0] == '/') {
        target = strdup(link);
    } else {
        const char *slash = strrchr(path, '/');
        int dirlen = slash ? (int)(slash - path) : 1;
        if (asprintf(&target, "%.*s/%s", dirlen, slash ? path : ".", link) < 0)
            target = NULL;
    }
    if (target && lstat(target, &st) == 0 && S_ISLNK(st.st_mode)) {
        free(target);
        errno = EMLINK;
        return NULL;
    }
    return target;
}

int hlb_mkdir_p(const char *path, mode_t mode)
{
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, mode) < 0 && errno != EEXIST) {
                rc = -errno;
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return rc;
}

int hlb_socket_probe(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0;
    close(fd);
    if (rc == -ENOENT)
        rc = -ECONNREFUSED;
    return rc == -EAGAIN ? 0 : rc; /* a full backlog still means someone is there */
}

int hlb_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-' || name[i] == '_'))
            return 0;
    return 1;
}
