/* Per-connection subscription accounting: see subbudget.h. */
#include "subbudget.h"

#include <stdlib.h>
#include <sys/stat.h>

#define MAX_FDS 16384 /* as many as hlbus/fdguard.h lets us hold */

typedef struct {
    ino_t ino; /* 0: unused */
    uint32_t count;
    uint64_t bytes;
} conn_t;

struct subbudget {
    conn_t *conns; /* by fd */
    uint64_t count, bytes;
};

subbudget_t *subbudget_new(void)
{
    subbudget_t *b = calloc(1, sizeof *b);
    if (b && !(b->conns = calloc(MAX_FDS, sizeof *b->conns))) {
        free(b);
        b = NULL;
    }
    return b;
}

void subbudget_destroy(subbudget_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->conns);
    free(*self_p);
    *self_p = NULL;
}

static ino_t inode_of(int fd)
{
    struct stat sb;
    return fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode) ? sb.st_ino : 0;
}

static void forget(subbudget_t *b, conn_t *c)
{
    b->count -= c->count;
    b->bytes -= c->bytes;
    c->ino = 0;
    c->count = 0;
    c->bytes = 0;
}

/* Connections that went give their share back. */
static void collect(subbudget_t *b)
{
    for (int fd = 0; fd < MAX_FDS; fd++) {
        conn_t *c = &b->conns[fd];
        if (c->ino && inode_of(fd) != c->ino)
            forget(b, c);
    }
}

/* The slot of FD for the connection open on it now. */
static conn_t *slot(subbudget_t *b, int fd)
{
    if (fd < 0 || fd >= MAX_FDS)
        return NULL;
    ino_t ino = inode_of(fd);
    if (!ino)
        return NULL;
    conn_t *c = &b->conns[fd];
    if (c->ino != ino) { /* a new connection on a reused number */
        if (c->ino)
            forget(b, c);
        c->ino = ino;
    }
    return c;
}

sb_verdict_t subbudget_add(subbudget_t *b, int fd, size_t len, int per_conn, int64_t max_bytes)
{
    conn_t *c = slot(b, fd);
    if (!c)
        return SB_UNKNOWN;
    if (c->count >= (uint32_t)per_conn)
        return SB_TOO_MANY;
    if (b->bytes + len > (uint64_t)max_bytes) {
        collect(b);
        if (b->bytes + len > (uint64_t)max_bytes)
            return SB_NO_ROOM;
    }
    c->count++;
    c->bytes += len;
    b->count++;
    b->bytes += len;
    return SB_OK;
}

void subbudget_remove(subbudget_t *b, int fd, size_t len)
{
    conn_t *c = slot(b, fd);
    if (!c || !c->count)
        return;
    if (len > c->bytes)
        len = c->bytes;
    c->count--;
    c->bytes -= len;
    b->count--;
    b->bytes -= len;
}

void subbudget_totals(subbudget_t *b, uint64_t *count, uint64_t *bytes)
{
    collect(b);
    *count = b->count;
    *bytes = b->bytes;
}
