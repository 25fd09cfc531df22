#include "sysfile.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_fd(hlm_buf_t *b, int fd);

int hlm_read_file(hlm_buf_t *b, const char *path)
{
    hlm_buf_reset(b);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    return read_fd(b, fd);
}

static int line_only(hlm_buf_t *b)
{
    char *nl = memchr(b->data, '\n', b->len);
    if (nl) {
        b->len = (size_t)(nl - b->data);
        *nl = '\0';
    }
    return 0;
}

int hlm_read_line_at(hlm_buf_t *b, int dirfd, const char *name)
{
    hlm_buf_reset(b);
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    /* A sysfs (kernfs) attribute is at most a page and comes whole in one
     * read: no second read to see the end. */
    char *p = hlm_buf_reserve(b, 4096);
    ssize_t n;
    do
        n = read(fd, p, 4096);
    while (n < 0 && errno == EINTR);
    int rc = n < 0 ? -errno : 0;
    close(fd);
    if (rc < 0)
        return rc;
    hlm_buf_commit(b, (size_t)n);
    return line_only(b);
}

/* Reads FD to its end into B and closes it. */
static int read_fd(hlm_buf_t *b, int fd)
{
    int rc = 0;
    for (;;) {
        /* /proc files report size 0: read until EOF. */
        char *p = hlm_buf_reserve(b, 4096);
        ssize_t n = read(fd, p, b->cap - b->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        hlm_buf_commit(b, (size_t)n);
        if (b->len > HLM_FILE_MAX) {
            rc = -EFBIG;
            break;
        }
    }
    close(fd);
    return rc;
}

const char *hlm_join(hlm_buf_t *b, const char *root, const char *rel)
{
    hlm_buf_reset(b);
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    hlm_buf_add(b, root, rl);
    while (*rel == '/')
        rel++;
    if (*rel) {
        if (!(rl == 1 && root[0] == '/'))
            hlm_buf_putc(b, '/');
        hlm_buf_puts(b, rel);
    }
    return b->data;
}

const char *hlm_join3(hlm_buf_t *b, const char *root, const char *mid, const char *rel)
{
    hlm_join(b, root, mid);
    while (*rel == '/')
        rel++;
    if (*rel) {
        if (b->len && b->data[b->len - 1] != '/')
            hlm_buf_putc(b, '/');
        hlm_buf_puts(b, rel);
    }
    return b->data;
}

bool hlm_next_line(char **cur, char **line)
{
    char *p = *cur;
    if (!p || !*p)
        return false;
    char *nl = strchr(p, '\n');
    *line = p;
    if (nl) {
        *nl = '\0';
        *cur = nl + 1;
    } else {
        *cur = p + strlen(p);
    }
    return true;
}

size_t hlm_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        fields[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        if (!*p)
            break;
        *p++ = '\0';
    }
    return n;
}

int hlm_parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *out = v;
    return 0;
}

int hlm_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
        return -EINVAL;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || end == s)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *out = v;
    return 0;
}

int hlm_parse_double(const char *s, double *out)
{
    if (!s || !*s || *s == ' ')
        return -EINVAL;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || !isfinite(v))
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *out = v;
    return 0;
}
