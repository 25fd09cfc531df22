/* The offline outbox: see ul_outbox.h. */
#include "ul_outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hlbus/msgpack_check.h>
#include <hlbus/str.h>

#define FRAME_MAX (4u << 20) /* no record is larger; a longer length is a torn file */

typedef struct {
    ul_event_t ev;
    size_t mem;  /* what it counts against the cap */
    size_t disk; /* its frame's size in the file (0: not written) */
} slot_t;

struct ul_outbox {
    char *path, *tmp_path, *dir;
    int fd;
    size_t max_bytes;
    slot_t *v;
    size_t head, n, cap; /* live slots are v[head .. head+n) */
    size_t bytes;        /* sum of mem of live slots */
    size_t live_disk;    /* sum of disk of live slots */
    off_t file_size;
    ul_outbox_stats_t st;
};

void ul_event_clear(ul_event_t *e)
{
    free((char *)e->id);
    free((char *)e->source);
    free((char *)e->type);
    free((char *)e->topic);
    free((char *)e->body);
    memset(e, 0, sizeof *e);
}

static size_t event_mem(const ul_event_t *e)
{
    return 64 + strlen(e->id) + strlen(e->source) + strlen(e->type) + strlen(e->topic) +
           strlen(e->body);
}

static int event_copy(ul_event_t *dst, const ul_event_t *src)
{
    memset(dst, 0, sizeof *dst);
    dst->id = strdup(src->id ? src->id : "");
    dst->source = strdup(src->source ? src->source : "");
    dst->type = strdup(src->type ? src->type : "");
    dst->topic = strdup(src->topic ? src->topic : "");
    dst->body = strdup(src->body && *src->body ? src->body : "{}");
    dst->epoch = src->epoch;
    dst->seq = src->seq;
    dst->ts_us = src->ts_us;
    if (!dst->id || !dst->source || !dst->type || !dst->topic || !dst->body) {
        ul_event_clear(dst);
        return -ENOMEM;
    }
    return 0;
}

/* ---- frames ---- */

static void pk_str(msgpack_packer *pk, const char *k, const char *v)
{
    msgpack_pack_str(pk, strlen(k));
    msgpack_pack_str_body(pk, k, strlen(k));
    msgpack_pack_str(pk, strlen(v));
    msgpack_pack_str_body(pk, v, strlen(v));
}

static void pk_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    msgpack_pack_str(pk, strlen(k));
    msgpack_pack_str_body(pk, k, strlen(k));
    msgpack_pack_uint64(pk, v);
}

/* A frame: the length, then the record. */
static void frame_begin(msgpack_sbuffer *sb)
{
    static const char zero[4] = {0};
    msgpack_sbuffer_write(sb, zero, 4);
}

static void frame_end(msgpack_sbuffer *sb)
{
    uint32_t n = (uint32_t)(sb->size - 4);
    sb->data[0] = (char)(n >> 24);
    sb->data[1] = (char)(n >> 16);
    sb->data[2] = (char)(n >> 8);
    sb->data[3] = (char)n;
}

static void pack_event(msgpack_sbuffer *sb, const ul_event_t *e)
{
    msgpack_packer pk;
    frame_begin(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 9);
    pk_str(&pk, "k", "e");
    pk_str(&pk, "id", e->id);
    pk_str(&pk, "src", e->source);
    pk_u64(&pk, "ep", e->epoch);
    pk_u64(&pk, "seq", e->seq);
    pk_str(&pk, "type", e->type);
    pk_str(&pk, "topic", e->topic);
    pk_u64(&pk, "ts", e->ts_us);
    pk_str(&pk, "body", e->body);
    frame_end(sb);
}

static void pack_skip(msgpack_sbuffer *sb, uint64_t n)
{
    msgpack_packer pk;
    frame_begin(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "k", "s");
    pk_u64(&pk, "n", n);
    frame_end(sb);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Appends BUF and syncs; a failed write is cut off again so the file stays
 * a sequence of whole frames. */
static int append(ul_outbox_t *o, const msgpack_sbuffer *sb)
{
    if (o->fd < 0)
        return o->path ? -EBADF : 0;
    int rc = write_all(o->fd, sb->data, sb->size);
    if (rc == 0 && fdatasync(o->fd) < 0)
        rc = -errno;
    if (rc < 0) {
        o->st.write_errors++;
        if (ftruncate(o->fd, o->file_size) < 0) {
            /* cannot even cut it: the next load cuts the torn frame */
        }
        return rc;
    }
    o->file_size += (off_t)sb->size;
    return 0;
}

/* ---- the queue ---- */

static slot_t *slot_at(const ul_outbox_t *o, size_t i) { return &o->v[o->head + i]; }

static int queue_add(ul_outbox_t *o, ul_event_t *ev_moved, size_t disk)
{
    if (o->head + o->n == o->cap) {
        if (o->head > 0) {
            memmove(o->v, o->v + o->head, o->n * sizeof *o->v);
            o->head = 0;
        } else {
            size_t nc = o->cap ? o->cap * 2 : 64;
            slot_t *nv = realloc(o->v, nc * sizeof *nv);
            if (!nv)
                return -ENOMEM;
            o->v = nv;
            o->cap = nc;
        }
    }
    slot_t *s = &o->v[o->head + o->n++];
    s->ev = *ev_moved;
    s->mem = event_mem(&s->ev);
    s->disk = disk;
    o->bytes += s->mem;
    o->live_disk += disk;
    memset(ev_moved, 0, sizeof *ev_moved);
    return 0;
}

static void queue_pop(ul_outbox_t *o, size_t n)
{
    for (size_t i = 0; i < n && o->n; i++) {
        slot_t *s = slot_at(o, 0);
        o->bytes -= s->mem;
        o->live_disk -= s->disk;
        ul_event_clear(&s->ev);
        o->head++;
        o->n--;
    }
    if (o->n == 0)
        o->head = 0;
}

/* Rewrites the file with the live events only. */
static int compact(ul_outbox_t *o)
{
    int fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = 0;
    off_t size = 0;
    for (size_t i = 0; i < o->n && rc == 0; i++) {
        slot_t *s = slot_at(o, i);
        sb.size = 0;
        pack_event(&sb, &s->ev);
        rc = write_all(fd, sb.data, sb.size);
        s->disk = sb.size;
        size += (off_t)sb.size;
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(o->tmp_path, o->path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(o->tmp_path);
        o->st.write_errors++;
        /* the old file stays valid; disk sizes of the slots are now those of
         * the new layout, which only steers the next compaction */
        return rc;
    }
    int dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    int nfd = open(o->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (nfd < 0)
        return -errno;
    if (o->fd >= 0)
        close(o->fd);
    o->fd = nfd;
    o->file_size = size;
    o->live_disk = (size_t)size;
    o->st.compactions++;
    return 0;
}

static void maybe_compact(ul_outbox_t *o)
{
    if (o->fd >= 0 && (size_t)o->file_size > 2 * o->live_disk + (64u << 10))
        (void)compact(o);
}

static int write_skip(ul_outbox_t *o, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_skip(&sb, n);
    int rc = append(o, &sb);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- loading ---- */

static char *obj_str(const msgpack_object *m, const char *key)
{
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0 &&
            kv->val.type == MSGPACK_OBJECT_STR)
            return strndup(kv->val.via.str.ptr, kv->val.via.str.size);
    }
    return NULL;
}

static bool obj_u64(const msgpack_object *m, const char *key, uint64_t *out)
{
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0 &&
            kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            *out = kv->val.via.u64;
            return true;
        }
    }
    return false;
}

/* One record; false when it is not one of ours (the file is cut there). */
static bool load_record(ul_outbox_t *o, const char *p, size_t n, size_t frame)
{
    if (hlb_msgpack_check(p, n) < 0)
        return false;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    bool ok = false;
    if (msgpack_unpack_next(&u, p, n, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        char *k = obj_str(&u.data, "k");
        if (k && strcmp(k, "s") == 0) {
            uint64_t cnt;
            if ((ok = obj_u64(&u.data, "n", &cnt)))
                queue_pop(o, cnt);
        } else if (k && strcmp(k, "e") == 0) {
            ul_event_t e = {0};
            e.id = obj_str(&u.data, "id");
            e.source = obj_str(&u.data, "src");
            e.type = obj_str(&u.data, "type");
            e.topic = obj_str(&u.data, "topic");
            e.body = obj_str(&u.data, "body");
            bool nums = obj_u64(&u.data, "seq", &e.seq) && obj_u64(&u.data, "ts", &e.ts_us);
            (void)obj_u64(&u.data, "ep", &e.epoch); /* 0 when absent */
            if (e.id && e.source && e.type && e.topic && e.body && nums &&
                queue_add(o, &e, frame) == 0) {
                o->st.loaded++;
                ok = true;
            }
            ul_event_clear(&e);
        }
        free(k);
    }
    msgpack_unpacked_destroy(&u);
    return ok;
}

static int load(ul_outbox_t *o)
{
    int fd = open(o->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct stat stt;
    if (fstat(fd, &stt) < 0) {
        close(fd);
        return -errno;
    }
    size_t size = (size_t)stt.st_size;
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    size_t off = 0;
    while (off + 4 <= got) {
        const unsigned char *h = (const unsigned char *)buf + off;
        uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (n == 0 || n > FRAME_MAX || off + 4 + n > got ||
            !load_record(o, buf + off + 4, n, 4 + n))
            break;
        off += 4 + n;
    }
    free(buf);
    if (off < got)
        o->st.torn++;
    o->file_size = (off_t)off;
    /* reopened for appends in open(), cut to the last whole frame there */
    return 0;
}

ul_outbox_t *ul_outbox_open(const char *dir, size_t max_bytes, char **err)
{
    ul_outbox_t *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->fd = -1;
    o->max_bytes = max_bytes ? max_bytes : (8u << 20);
    if (!dir)
        return o;
    o->dir = strdup(dir);
    o->path = hlb_strdupf("%s/outbox.msgpack", dir);
    o->tmp_path = hlb_strdupf("%s/outbox.msgpack.tmp", dir);
    int rc = o->dir && o->path && o->tmp_path ? load(o) : -ENOMEM;
    if (rc == 0) {
        o->fd = open(o->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (o->fd < 0)
            rc = -errno;
        else if (ftruncate(o->fd, o->file_size) < 0)
            rc = -errno;
    }
    if (rc < 0) {
        if (err)
            *err = hlb_strdupf("%s: %s", o->path ? o->path : dir, strerror(-rc));
        ul_outbox_close(&o);
        return NULL;
    }
    /* a cap lowered since the last run: the oldest go now, counted */
    size_t drop = 0;
    while (o->n && o->bytes > o->max_bytes) {
        queue_pop(o, 1);
        drop++;
    }
    if (drop) {
        o->st.dropped += drop;
        (void)write_skip(o, drop);
    }
    maybe_compact(o);
    return o;
}

void ul_outbox_close(ul_outbox_t **o_p)
{
    if (!o_p || !*o_p)
        return;
    ul_outbox_t *o = *o_p;
    queue_pop(o, o->n);
    free(o->v);
    if (o->fd >= 0)
        close(o->fd);
    free(o->path);
    free(o->tmp_path);
    free(o->dir);
    free(o);
    *o_p = NULL;
}

int ul_outbox_push(ul_outbox_t *o, const ul_event_t *ev)
{
    ul_event_t e;
    if (event_copy(&e, ev) < 0)
        return -ENOMEM;
    size_t mem = event_mem(&e);
    if (mem > o->max_bytes) {
        o->st.dropped++; /* larger than the whole outbox: it alone goes */
        ul_event_clear(&e);
        return 0;
    }
    size_t drop = 0;
    while (o->n && o->bytes + mem > o->max_bytes) {
        queue_pop(o, 1);
        drop++;
    }
    int rc = 0;
    if (drop) {
        o->st.dropped += drop;
        rc = write_skip(o, drop);
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_event(&sb, &e);
    int wrc = append(o, &sb);
    size_t disk = wrc == 0 && o->fd >= 0 ? sb.size : 0;
    msgpack_sbuffer_destroy(&sb);
    if (queue_add(o, &e, disk) < 0) {
        ul_event_clear(&e);
        o->st.dropped++;
        return -ENOMEM;
    }
    o->st.pushed++;
    maybe_compact(o);
    return wrc < 0 ? wrc : rc;
}

size_t ul_outbox_depth(const ul_outbox_t *o) { return o->n; }

const ul_event_t *ul_outbox_at(const ul_outbox_t *o, size_t i)
{
    return i < o->n ? &slot_at(o, i)->ev : NULL;
}

int ul_outbox_ack(ul_outbox_t *o, size_t n)
{
    if (n > o->n)
        n = o->n;
    if (!n)
        return 0;
    queue_pop(o, n);
    o->st.delivered += n;
    int rc = write_skip(o, n);
    maybe_compact(o);
    return rc;
}

int ul_outbox_sync(ul_outbox_t *o)
{
    if (o->fd < 0)
        return 0;
    int rc = fsync(o->fd) < 0 ? -errno : 0;
    int dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return rc;
}

void ul_outbox_stats(const ul_outbox_t *o, ul_outbox_stats_t *s)
{
    *s = o->st;
    s->depth = o->n;
    s->bytes = o->bytes;
}
