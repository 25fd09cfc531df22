/* Session recording: see rec.h. */
#include "rec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <hlbus/clock.h>

#define RETRY_US (30u * 1000000u) /* after a failed write: a new file, this much later */

struct stdio_rec {
    char *dir, *channel;
    bool input;
    size_t max_file, max_total;
    uint64_t stream;
    stdio_rec_event_fn *event;
    stdio_rec_screen_fn *screen;
    void *arg;
    int fd;
    char path[4096];
    unsigned seq;
    uint64_t bytes, dropped, start_us, retry_at_us;
    unsigned cols, rows;
    uint8_t carry_o[4], carry_i[4];
    size_t carry_o_len, carry_i_len;
    char *buf;
    size_t cap;
};

static size_t utf8_len(uint8_t c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

static bool utf8_valid(const uint8_t *p, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return false;
    if (n == 3 && p[0] == 0xe0 && p[1] < 0xa0)
        return false; /* overlong */
    if (n == 3 && p[0] == 0xed && p[1] >= 0xa0)
        return false; /* surrogates */
    if (n == 4 && p[0] == 0xf0 && p[1] < 0x90)
        return false;
    if (n == 4 && p[0] == 0xf4 && p[1] >= 0x90)
        return false;
    return true;
}

size_t stdio_rec_escape(const uint8_t *data, size_t len, uint8_t carry[4], size_t *carry_len,
                        char *out, size_t cap)
{
    if (cap < 6 * (len + *carry_len) + 16)
        return 0;
    uint8_t tmp[8];
    size_t o = 0, i = 0;
    /* An incomplete sequence from last time, completed from the front. */
    while (*carry_len && i < len) {
        size_t need = utf8_len(carry[0]);
        memcpy(tmp, carry, *carry_len);
        size_t have = *carry_len;
        while (have < need && i < len)
            tmp[have++] = data[i++];
        if (have < need) {
            memcpy(carry, tmp, have);
            *carry_len = have;
            return o;
        }
        *carry_len = 0;
        if (utf8_valid(tmp, need)) {
            memcpy(out + o, tmp, need);
            o += need;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i = 0; /* what was taken from DATA is looked at again, on its own */
        }
    }
    while (i < len) {
        uint8_t c = data[i];
        if (c < 0x80) {
            switch (c) {
            case '"': memcpy(out + o, "\\\"", 2); o += 2; break;
            case '\\': memcpy(out + o, "\\\\", 2); o += 2; break;
            case '\n': memcpy(out + o, "\\n", 2); o += 2; break;
            case '\r': memcpy(out + o, "\\r", 2); o += 2; break;
            case '\t': memcpy(out + o, "\\t", 2); o += 2; break;
            default:
                if (c < 0x20 || c == 0x7f)
                    o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
                else
                    out[o++] = (char)c;
            }
            i++;
            continue;
        }
        size_t n = utf8_len(c);
        if (n == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        if (i + n > len) {
            /* The rest of it comes with the next bytes. */
            memcpy(carry, data + i, len - i);
            *carry_len = len - i;
            return o;
        }
        if (utf8_valid(data + i, n)) {
            memcpy(out + o, data + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    return o;
}

stdio_rec_t *stdio_rec_new(const stdio_rec_conf_t *conf, const char *channel, uint64_t stream,
                           stdio_rec_event_fn *event, stdio_rec_screen_fn *screen, void *arg)
{
    if (!conf->dir || !*conf->dir)
        return NULL;
    stdio_rec_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->dir = strdup(conf->dir);
    r->channel = strdup(channel);
    if (!r->dir || !r->channel) {
        stdio_rec_free(&r);
        return NULL;
    }
    r->input = conf->input;
    r->max_file = conf->max_file;
    r->max_total = conf->max_total;
    r->stream = stream;
    r->event = event;
    r->screen = screen;
    r->arg = arg;
    r->fd = -1;
    return r;
}

static void tell(stdio_rec_t *r, stdio_rec_state_t st, const char *error)
{
    if (r->event)
        r->event(r->arg, r->channel, r->stream, r->path, st, r->bytes, r->dropped, error);
}

static void file_close(stdio_rec_t *r, stdio_rec_state_t st)
{
    if (r->fd < 0)
        return;
    close(r->fd);
    r->fd = -1;
    tell(r, st, NULL);
}

void stdio_rec_free(stdio_rec_t **self_p)
{
    stdio_rec_t *r = *self_p;
    if (!r)
        return;
    file_close(r, STDIO_REC_STOPPED);
    free(r->dir);
    free(r->channel);
    free(r->buf);
    free(r);
    *self_p = NULL;
}

/* Failed writes and opens: the file ends, what it would have held is
 * counted, a new one is tried later. */
static void fail(stdio_rec_t *r, const char *what, int e, size_t lost)
{
    char err[160];
    snprintf(err, sizeof err, "%s: %s", what, strerror(e));
    r->dropped += lost;
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    if (!r->retry_at_us || hlb_mono_us() >= r->retry_at_us)
        tell(r, STDIO_REC_ERROR, err); /* once per try */
    r->retry_at_us = hlb_mono_us() + RETRY_US;
}

static bool write_all(stdio_rec_t *r, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(r->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fail(r, "write", w < 0 ? errno : ENOSPC, n);
            return false;
        }
        r->bytes += (size_t)w;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Oldest *.cast files first, until the directory holds at most max_total
 * (the open file counts, and stays). */
static void prune(stdio_rec_t *r)
{
    DIR *d = opendir(r->dir);
    if (!d)
        return;
    typedef struct {
        char name[256];
        time_t mtime;
        off_t size;
    } ent_t;
    ent_t *ents = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".cast") != 0 || l >= sizeof ents->name)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        total += (uint64_t)st.st_size;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            ent_t *ne = realloc(ents, cap * sizeof *ents);
            if (!ne)
                break;
            ents = ne;
        }
        memcpy(ents[n].name, de->d_name, l + 1);
        ents[n].mtime = st.st_mtime;
        ents[n].size = st.st_size;
        n++;
    }
    const char *cur = strrchr(r->path, '/');
    cur = cur ? cur + 1 : r->path;
    while (total > r->max_total) {
        ent_t *old = NULL;
        for (size_t i = 0; i < n; i++)
            if (ents[i].name[0] && strcmp(ents[i].name, cur) != 0 &&
                (!old || ents[i].mtime < old->mtime))
                old = &ents[i];
        if (!old)
            break;
        if (unlinkat(dirfd(d), old->name, 0) == 0)
            total -= (uint64_t)old->size;
        old->name[0] = 0;
    }
    free(ents);
    closedir(d);
}

static bool file_open(stdio_rec_t *r, unsigned cols, unsigned rows, bool rotated)
{
    if (r->retry_at_us && hlb_mono_us() < r->retry_at_us)
        return false;
    mkdir(r->dir, 0750);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(r->path, sizeof r->path, "%s/%s-%s-%016llx-%u.cast", r->dir, r->channel, when,
             (unsigned long long)r->stream, ++r->seq);
    /* 0640: the session is the agent's terminal; its group reads it. */
    r->fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (r->fd < 0) {
        fail(r, r->path, errno, 0);
        return false;
    }
    r->retry_at_us = 0;
    r->bytes = 0;
    r->start_us = hlb_mono_us();
    r->cols = cols;
    r->rows = rows;
    r->carry_o_len = r->carry_i_len = 0;
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "{\"version\": 2, \"width\": %u, \"height\": %u, \"timestamp\": %lld, "
                     "\"title\": \"hl-stdio %s stream %016llx part %u\", "
                     "\"env\": {\"TERM\": \"xterm-256color\"}}\n",
                     cols, rows, (long long)now, r->channel, (unsigned long long)r->stream, r->seq);
    if (!write_all(r, hdr, (size_t)n))
        return false;
    tell(r, rotated ? STDIO_REC_ROTATED : STDIO_REC_STARTED, NULL);
    prune(r);
    return true;
}

static void event(stdio_rec_t *r, char kind, const void *data, size_t len, uint8_t *carry,
                  size_t *carry_len)
{
    size_t need = 6 * (len + 4) + 64;
    if (need > r->cap) {
        char *nb = realloc(r->buf, need);
        if (!nb) {
            r->dropped += len;
            return;
        }
        r->buf = nb;
        r->cap = need;
    }
    double t = (double)(hlb_mono_us() - r->start_us) / 1e6;
    size_t o = (size_t)snprintf(r->buf, r->cap, "[%.6f, \"%c\", \"", t, kind);
    size_t e = stdio_rec_escape(data, len, carry, carry_len, r->buf + o, r->cap - o);
    if (e == 0 && len)
        return; /* all of it waits in CARRY (an incomplete character) */
    o += e;
    memcpy(r->buf + o, "\"]\n", 3);
    o += 3;
    write_all(r, r->buf, o);
}

void stdio_rec_output(stdio_rec_t *r, const void *data, size_t len, unsigned cols,
                      unsigned rows)
{
    if (!r || !len)
        return;
    if (r->fd >= 0 && r->bytes >= r->max_file) {
        file_close(r, STDIO_REC_ROTATED);
        if (file_open(r, cols, rows, true) && r->screen) {
            /* The new part replays on its own: it starts with the screen. */
            char *draw = NULL;
            size_t dl = 0;
            if (r->screen(r->arg, &draw, &dl) == 0) {
                uint8_t c[4];
                size_t cl = 0;
                event(r, 'o', draw, dl, c, &cl);
                free(draw);
            }
            return; /* the screen has these bytes in it already */
        }
    }
    if (r->fd < 0 && !file_open(r, cols, rows, r->seq > 0)) {
        r->dropped += len;
        return;
    }
    event(r, 'o', data, len, r->carry_o, &r->carry_o_len);
}

void stdio_rec_input(stdio_rec_t *r, const void *data, size_t len)
{
    if (!r || !r->input || r->fd < 0 || !len)
        return;
    event(r, 'i', data, len, r->carry_i, &r->carry_i_len);
}

void stdio_rec_resize(stdio_rec_t *r, unsigned cols, unsigned rows)
{
    if (!r || r->fd < 0 || (cols == r->cols && rows == r->rows))
        return;
    r->cols = cols;
    r->rows = rows;
    char sz[32];
    int n = snprintf(sz, sizeof sz, "%ux%u", cols, rows);
    uint8_t c[4];
    size_t cl = 0;
    event(r, 'r', sz, (size_t)n, c, &cl);
}
