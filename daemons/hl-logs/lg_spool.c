/* The forwarding spool (lg_spool.h). */
#include "lg_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hlbus/buf.h>

#define READ_BUF (256 * 1024)
#define REC_FIELDS 6

struct lg_spool {
    char *dir;
    uint64_t max_bytes, chunk_bytes;
    /* chunks on disk, oldest first */
    uint64_t *ids;
    uint64_t *sizes;
    size_t n, cap;
    /* the writer: appends to the newest chunk */
    int wfd;
    uint64_t wid;
    hlb_buf_t pending;
    uint64_t pending_records;
    /* the reader */
    lg_pos_t rpos;      /* next record to read */
    int rfd;
    uint64_t rfd_id;
    uint8_t *rbuf;
    size_t rlen;        /* bytes in rbuf */
    uint64_t rbuf_off;  /* file offset of rbuf[0] */
    lg_pos_t confirmed;
    lg_spool_stats_t st;
};

/* --- msgpack: the one record shape, encoded and decoded by hand ---------- */

static void put_str(hlb_buf_t *b, const char *s, size_t n)
{
    uint8_t h[5];
    size_t hl;
    if (n < 32)
        h[0] = (uint8_t)(0xa0 | n), hl = 1;
    else if (n < 256)
        h[0] = 0xd9, h[1] = (uint8_t)n, hl = 2;
    else if (n < 65536)
        h[0] = 0xda, h[1] = (uint8_t)(n >> 8), h[2] = (uint8_t)n, hl = 3;
    else
        h[0] = 0xdb, h[1] = (uint8_t)(n >> 24), h[2] = (uint8_t)(n >> 16), h[3] = (uint8_t)(n >> 8),
        h[4] = (uint8_t)n, hl = 5;
    hlb_buf_add(b, h, hl);
    hlb_buf_add(b, s, n);
}

static void put_uint(hlb_buf_t *b, uint64_t v)
{
    uint8_t h[9];
    if (v < 128) {
        h[0] = (uint8_t)v;
        hlb_buf_add(b, h, 1);
        return;
    }
    h[0] = 0xcf;
    for (int i = 0; i < 8; i++)
        h[1 + i] = (uint8_t)(v >> (56 - 8 * i));
    hlb_buf_add(b, h, 9);
}

void lg_spool_encode(hlb_buf_t *out, const lg_spool_rec_t *r)
{
    uint8_t h = 0x90 | REC_FIELDS;
    hlb_buf_add(out, &h, 1);
    put_str(out, r->id, r->id_len);
    put_uint(out, r->ts_us);
    put_uint(out, r->priority);
    put_str(out, r->name, r->name_len);
    put_uint(out, r->pid);
    put_str(out, r->line, r->line_len);
}

/* 1 ok, 0 incomplete, -EINVAL not this shape */
static int get_str(const uint8_t *p, size_t n, size_t *at, const char **s, size_t *len)
{
    if (*at >= n)
        return 0;
    uint8_t t = p[*at];
    size_t hl, l;
    if ((t & 0xe0) == 0xa0)
        hl = 1, l = t & 0x1f;
    else if (t == 0xd9 || t == 0xda || t == 0xdb) {
        hl = t == 0xd9 ? 2 : t == 0xda ? 3 : 5;
        if (*at + hl > n)
            return 0;
        l = 0;
        for (size_t i = 1; i < hl; i++)
            l = (l << 8) | p[*at + i];
    } else
        return -EINVAL;
    if (l > (64u << 20))
        return -EINVAL; /* no record is this long: garbage, not a wait */
    if (*at + hl + l > n)
        return 0;
    *s = (const char *)p + *at + hl;
    *len = l;
    *at += hl + l;
    return 1;
}

static int get_uint(const uint8_t *p, size_t n, size_t *at, uint64_t *v)
{
    if (*at >= n)
        return 0;
    uint8_t t = p[*at];
    if (t < 0x80) {
        *v = t;
        *at += 1;
        return 1;
    }
    size_t w = t == 0xcc ? 1 : t == 0xcd ? 2 : t == 0xce ? 4 : t == 0xcf ? 8 : 0;
    if (!w)
        return -EINVAL;
    if (*at + 1 + w > n)
        return 0;
    uint64_t x = 0;
    for (size_t i = 0; i < w; i++)
        x = (x << 8) | p[*at + 1 + i];
    *v = x;
    *at += 1 + w;
    return 1;
}

int lg_spool_decode(const uint8_t *p, size_t n, lg_spool_rec_t *r, size_t *used)
{
    if (!n)
        return 0;
    if (p[0] != (0x90 | REC_FIELDS))
        return -EINVAL;
    size_t at = 1;
    int rc;
    memset(r, 0, sizeof *r);
    if ((rc = get_str(p, n, &at, &r->id, &r->id_len)) <= 0 ||
        (rc = get_uint(p, n, &at, &r->ts_us)) <= 0 ||
        (rc = get_uint(p, n, &at, &r->priority)) <= 0 ||
        (rc = get_str(p, n, &at, &r->name, &r->name_len)) <= 0 ||
        (rc = get_uint(p, n, &at, &r->pid)) <= 0 ||
        (rc = get_str(p, n, &at, &r->line, &r->line_len)) <= 0)
        return rc;
    if (r->priority > 7 || r->id_len > 64 || r->name_len > 1024)
        return -EINVAL;
    *used = at;
    return 1;
}

/* --- the chunk list -------------------------------------------------------- */

static void chunk_path(const lg_spool_t *sp, uint64_t id, char *out, size_t size)
{
    snprintf(out, size, "%s/%016" PRIx64 ".chunk", sp->dir, id);
}

static int add_chunk(lg_spool_t *sp, uint64_t id, uint64_t size)
{
    if (sp->n == sp->cap) {
        size_t nc = sp->cap ? sp->cap * 2 : 16;
        uint64_t *ni = realloc(sp->ids, nc * sizeof *ni);
        if (!ni)
            return -ENOMEM;
        sp->ids = ni;
        uint64_t *ns = realloc(sp->sizes, nc * sizeof *ns);
        if (!ns)
            return -ENOMEM;
        sp->sizes = ns;
        sp->cap = nc;
    }
    sp->ids[sp->n] = id;
    sp->sizes[sp->n] = size;
    sp->n++;
    sp->st.bytes += size;
    sp->st.chunks = sp->n;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void remove_first(lg_spool_t *sp)
{
    sp->st.bytes -= sp->sizes[0];
    memmove(sp->ids, sp->ids + 1, (sp->n - 1) * sizeof *sp->ids);
    memmove(sp->sizes, sp->sizes + 1, (sp->n - 1) * sizeof *sp->sizes);
    sp->n--;
    sp->st.chunks = sp->n;
}

static ssize_t index_of(const lg_spool_t *sp, uint64_t id)
{
    for (size_t i = 0; i < sp->n; i++)
        if (sp->ids[i] == id)
            return (ssize_t)i;
    return -1;
}

/* The length of the prefix of the chunk at PATH made of whole records. */
static int good_prefix(const char *path, uint64_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    uint8_t *buf = malloc(READ_BUF);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    uint64_t off = 0, base = 0;
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, READ_BUF - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
        size_t at = 0, used;
        lg_spool_rec_t rec;
        int rc;
        while ((rc = lg_spool_decode(buf + at, have - at, &rec, &used)) == 1)
            at += used;
        off = base + at;
        if (rc < 0)
            break;
        memmove(buf, buf + at, have - at);
        have -= at;
        base += at;
        if (have == READ_BUF)
            break; /* one record bigger than the buffer: not ours */
    }
    free(buf);
    close(fd);
    *len = off;
    return 0;
}

static void save_confirmed(lg_spool_t *sp)
{
    char path[4200], tmp[4200];
    snprintf(path, sizeof path, "%s/acked", sp->dir);
    snprintf(tmp, sizeof tmp, "%s/.acked.tmp", sp->dir);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return;
    fprintf(f, "%" PRIu64 " %" PRIu64 "\n", sp->confirmed.chunk, sp->confirmed.off);
    if (fclose(f) == 0)
        rename(tmp, path);
}

static void load_confirmed(lg_spool_t *sp)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/acked", sp->dir);
    FILE *f = fopen(path, "re");
    unsigned long long c = 0, o = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &c, &o) != 2)
            c = o = 0;
        fclose(f);
    }
    sp->confirmed = (lg_pos_t){c, o};
    if (sp->n && (c < sp->ids[0] || index_of(sp, c) < 0))
        sp->confirmed = (lg_pos_t){sp->ids[0], 0};
    if (!sp->n)
        sp->confirmed = (lg_pos_t){c, 0};
    sp->rpos = sp->confirmed;
}

int lg_spool_open(lg_spool_t **out, const char *dir, uint64_t max_bytes, uint64_t chunk_bytes)
{
    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        return -errno;
    lg_spool_t *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->dir = strdup(dir)) || !(sp->rbuf = malloc(READ_BUF))) {
        if (sp)
            free(sp->dir);
        free(sp);
        return -ENOMEM;
    }
    sp->max_bytes = max_bytes;
    sp->chunk_bytes = chunk_bytes;
    sp->wfd = sp->rfd = -1;
    char qdir[4200];
    snprintf(qdir, sizeof qdir, "%s/quarantine", dir);
    mkdir(qdir, 0750);
    DIR *d = opendir(dir);
    if (!d) {
        int rc = -errno;
        lg_spool_close(&sp);
        return rc;
    }
    struct dirent *e;
    uint64_t *found = NULL;
    size_t nf = 0;
    while ((e = readdir(d))) {
        char *end;
        if (strlen(e->d_name) != 22 || strcmp(e->d_name + 16, ".chunk") != 0)
            continue;
        uint64_t id = strtoull(e->d_name, &end, 16);
        if (end != e->d_name + 16)
            continue;
        uint64_t *nfp = realloc(found, (nf + 1) * sizeof *nfp);
        if (!nfp)
            break;
        found = nfp;
        found[nf++] = id;
    }
    closedir(d);
    if (nf) /* qsort(NULL, 0) is undefined (UBSan says so) */
        qsort(found, nf, sizeof *found, cmp_u64);
    for (size_t i = 0; i < nf; i++) {
        char path[4200];
        chunk_path(sp, found[i], path, sizeof path);
        struct stat st;
        if (stat(path, &st) < 0)
            continue;
        uint64_t size = (uint64_t)st.st_size;
        if (i + 1 == nf) {
            /* the newest: a crash may have torn its last record */
            uint64_t good = size;
            if (good_prefix(path, &good) == 0 && good < size && truncate(path, (off_t)good) == 0)
                size = good;
        }
        add_chunk(sp, found[i], size);
    }
    free(found);
    sp->wid = sp->n ? sp->ids[sp->n - 1] : 1;
    load_confirmed(sp);
    *out = sp;
    return 0;
}

void lg_spool_close(lg_spool_t **spp)
{
    lg_spool_t *sp = *spp;
    if (!sp)
        return;
    if (sp->pending.len)
        lg_spool_commit(sp);
    if (sp->wfd >= 0)
        close(sp->wfd);
    if (sp->rfd >= 0)
        close(sp->rfd);
    if (sp->dir)
        save_confirmed(sp);
    hlb_buf_free(&sp->pending);
    free(sp->ids);
    free(sp->sizes);
    free(sp->rbuf);
    free(sp->dir);
    free(sp);
    *spp = NULL;
}

int lg_spool_append(lg_spool_t *sp, const lg_spool_rec_t *r)
{
    size_t before = sp->pending.len;
    lg_spool_encode(&sp->pending, r);
    size_t len = sp->pending.len - before;
    if (sp->st.bytes + sp->pending.len > sp->max_bytes) {
        sp->pending.len = before;
        sp->st.dropped++;
        sp->st.dropped_bytes += len;
        return -ENOSPC;
    }
    sp->pending_records++;
    return 0;
}

int lg_spool_commit(lg_spool_t *sp)
{
    if (!sp->pending.len)
        return 0;
    /* a sealed chunk is never appended to: a new one once it is full */
    if (sp->n && sp->ids[sp->n - 1] == sp->wid && sp->sizes[sp->n - 1] >= sp->chunk_bytes) {
        if (sp->wfd >= 0)
            close(sp->wfd);
        sp->wfd = -1;
        sp->wid++;
    }
    if (sp->wfd < 0) {
        char path[4200];
        chunk_path(sp, sp->wid, path, sizeof path);
        sp->wfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (sp->wfd < 0) {
            sp->st.sync_errors++;
            return -errno;
        }
        if (!sp->n || sp->ids[sp->n - 1] != sp->wid) {
            int rc = add_chunk(sp, sp->wid, 0);
            if (rc < 0)
                return rc;
        }
    }
    uint64_t start = sp->sizes[sp->n - 1];
    size_t off = 0;
    while (off < sp->pending.len) {
        ssize_t w = write(sp->wfd, sp->pending.data + off, sp->pending.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int rc = w < 0 ? -errno : -EIO;
            /* no torn record stays behind for the reader */
            if (off && ftruncate(sp->wfd, (off_t)start) < 0)
                rc = -errno;
            sp->st.sync_errors++;
            return rc;
        }
        off += (size_t)w;
    }
    if (fdatasync(sp->wfd) < 0) {
        sp->st.sync_errors++;
        /* the bytes are in the file; a failed sync is reported, not undone */
    }
    sp->sizes[sp->n - 1] += sp->pending.len;
    sp->st.bytes += sp->pending.len;
    sp->st.appended += sp->pending_records;
    sp->pending_records = 0;
    hlb_buf_reset(&sp->pending);
    return 0;
}

static void quarantine(lg_spool_t *sp, uint64_t id)
{
    char from[4200], to[4300];
    chunk_path(sp, id, from, sizeof from);
    snprintf(to, sizeof to, "%s/quarantine/%016" PRIx64 ".chunk", sp->dir, id);
    ssize_t i = index_of(sp, id);
    if (i >= 0)
        sp->st.quarantined_bytes += sp->sizes[i];
    sp->st.quarantined_chunks++;
    if (rename(from, to) < 0)
        unlink(from);
    if (sp->rfd >= 0 && sp->rfd_id == id) {
        close(sp->rfd);
        sp->rfd = -1;
    }
    if (i >= 0) {
        sp->st.bytes -= sp->sizes[i];
        memmove(sp->ids + i, sp->ids + i + 1, (sp->n - (size_t)i - 1) * sizeof *sp->ids);
        memmove(sp->sizes + i, sp->sizes + i + 1, (sp->n - (size_t)i - 1) * sizeof *sp->sizes);
        sp->n--;
        sp->st.chunks = sp->n;
    }
    if (id == sp->wid) { /* the writer goes on in a fresh one */
        if (sp->wfd >= 0)
            close(sp->wfd);
        sp->wfd = -1;
        sp->wid++;
    }
}

/* Moves the read position to the next chunk after the current one. */
static bool next_chunk(lg_spool_t *sp)
{
    for (size_t i = 0; i < sp->n; i++)
        if (sp->ids[i] > sp->rpos.chunk) {
            sp->rpos = (lg_pos_t){sp->ids[i], 0};
            sp->rlen = 0;
            return true;
        }
    return false;
}

int lg_spool_next(lg_spool_t *sp, lg_spool_rec_t *r)
{
    for (int guard = 0; guard < 1000000; guard++) {
        ssize_t i = index_of(sp, sp->rpos.chunk);
        if (i < 0) {
            if (!next_chunk(sp))
                return 0;
            continue;
        }
        uint64_t size = sp->sizes[i];
        bool sealed = (size_t)i + 1 < sp->n;
        /* decode from the buffer if it holds the position */
        if (sp->rfd_id == sp->rpos.chunk && sp->rpos.off >= sp->rbuf_off &&
            sp->rpos.off < sp->rbuf_off + sp->rlen) {
            size_t at = (size_t)(sp->rpos.off - sp->rbuf_off), used;
            int rc = lg_spool_decode(sp->rbuf + at, sp->rlen - at, r, &used);
            if (rc == 1) {
                sp->rpos.off += used;
                return 1;
            }
            if (rc < 0) {
                quarantine(sp, sp->rpos.chunk);
                continue;
            }
            /* incomplete: read more below */
        }
        if (sp->rpos.off >= size) {
            if (!sealed)
                return 0; /* caught up with the writer */
            if (!next_chunk(sp))
                return 0;
            continue;
        }
        /* (re)fill the buffer at the position */
        if (sp->rfd < 0 || sp->rfd_id != sp->rpos.chunk) {
            if (sp->rfd >= 0)
                close(sp->rfd);
            char path[4200];
            chunk_path(sp, sp->rpos.chunk, path, sizeof path);
            sp->rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            sp->rfd_id = sp->rpos.chunk;
            sp->rlen = 0;
            if (sp->rfd < 0) {
                quarantine(sp, sp->rpos.chunk);
                continue;
            }
        }
        uint64_t want = size - sp->rpos.off;
        if (want > READ_BUF)
            want = READ_BUF;
        if (sp->rpos.off == sp->rbuf_off && sp->rlen >= want && sp->rlen > 0) {
            /* the buffer is full and still no whole record: not ours */
            quarantine(sp, sp->rpos.chunk);
            continue;
        }
        ssize_t got = pread(sp->rfd, sp->rbuf, (size_t)want, (off_t)sp->rpos.off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            quarantine(sp, sp->rpos.chunk);
            continue;
        }
        sp->rbuf_off = sp->rpos.off;
        sp->rlen = (size_t)got;
        size_t used;
        lg_spool_rec_t probe;
        int rc = lg_spool_decode(sp->rbuf, sp->rlen, &probe, &used);
        if (rc == 0 && (uint64_t)got == size - sp->rpos.off) {
            /* a partial record at the end of what is on disk: a sealed
             * chunk never grows again; the writer's chunk may */
            if (sealed) {
                quarantine(sp, sp->rpos.chunk);
                continue;
            }
            return 0;
        }
        if (rc == 0 && (size_t)got == READ_BUF) {
            quarantine(sp, sp->rpos.chunk);
            continue;
        }
    }
    return 0;
}

lg_pos_t lg_spool_tell(const lg_spool_t *sp) { return sp->rpos; }

void lg_spool_rewind(lg_spool_t *sp, lg_pos_t pos)
{
    sp->rpos = pos;
    sp->rlen = 0;
}

void lg_spool_confirm(lg_spool_t *sp, lg_pos_t pos, bool save)
{
    sp->confirmed = pos;
    /* whole chunks before the confirmed one are done; so is the confirmed
     * one itself once it is sealed and read to its end */
    while (sp->n && (sp->ids[0] < pos.chunk ||
                     (sp->ids[0] == pos.chunk && sp->n > 1 && pos.off >= sp->sizes[0]))) {
        char path[4200];
        chunk_path(sp, sp->ids[0], path, sizeof path);
        if (sp->rfd >= 0 && sp->rfd_id == sp->ids[0]) {
            close(sp->rfd);
            sp->rfd = -1;
        }
        unlink(path);
        remove_first(sp);
    }
    if (save)
        save_confirmed(sp);
}

lg_pos_t lg_spool_confirmed(const lg_spool_t *sp) { return sp->confirmed; }

bool lg_spool_pending(const lg_spool_t *sp)
{
    if (!sp->n)
        return false;
    ssize_t i = index_of(sp, sp->confirmed.chunk);
    if (i < 0)
        return sp->st.bytes > 0;
    return (size_t)i + 1 < sp->n || sp->confirmed.off < sp->sizes[i];
}

const lg_spool_stats_t *lg_spool_stats(const lg_spool_t *sp) { return &sp->st; }
