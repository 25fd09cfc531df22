/* The scrollback ring: see ring.h. */
#include "ring.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct run {
    uint64_t start;  /* offset of the run's first byte; it ends where the next begins */
    uint64_t author;
} run_t;

struct stdio_ring {
    uint8_t *buf;
    size_t keep, slack, size; /* size = keep + slack, the physical capacity */
    uint64_t head;
    uint64_t base; /* nothing below this offset exists (history lost by a resize) */
    /* Author runs as a circular array, oldest first. */
    run_t *runs;
    size_t runs_cap, runs_first, runs_n, runs_max;
};

stdio_ring_t *stdio_ring_new(size_t keep, size_t slack, size_t max_runs)
{
    if (keep == 0 || slack == 0 || max_runs < 2 || keep > SIZE_MAX / 2 || slack > SIZE_MAX / 2)
        return NULL;
    stdio_ring_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->keep = keep;
    r->slack = slack;
    r->size = keep + slack;
    r->runs_max = max_runs;
    r->runs_cap = 8;
    r->buf = malloc(r->size);
    r->runs = malloc(r->runs_cap * sizeof *r->runs);
    if (!r->buf || !r->runs) {
        stdio_ring_destroy(&r);
        return NULL;
    }
    return r;
}

void stdio_ring_destroy(stdio_ring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stdio_ring_t *r = *self_p;
    free(r->buf);
    free(r->runs);
    free(r);
    *self_p = NULL;
}

static run_t *run_at(const stdio_ring_t *r, size_t i)
{
    return &r->runs[(r->runs_first + i) % r->runs_cap];
}

uint64_t stdio_ring_head(const stdio_ring_t *r) { return r->head; }
size_t stdio_ring_keep(const stdio_ring_t *r) { return r->keep; }
size_t stdio_ring_slack(const stdio_ring_t *r) { return r->slack; }
size_t stdio_ring_runs(const stdio_ring_t *r) { return r->runs_n; }

uint64_t stdio_ring_tail(const stdio_ring_t *r)
{
    uint64_t t = r->head > r->keep ? r->head - r->keep : 0;
    if (t < r->base)
        t = r->base;
    if (r->runs_n && run_at(r, 0)->start > t)
        t = run_at(r, 0)->start;
    if (!r->runs_n)
        t = r->head;
    return t;
}

/* Splits [off, off+len) of the physical buffer into at most two pieces. */
static int span_iov(const stdio_ring_t *r, uint64_t off, size_t len, struct iovec iov[2])
{
    size_t pos = (size_t)(off % r->size);
    size_t first = r->size - pos;
    iov[0].iov_base = r->buf + pos;
    if (len <= first) {
        iov[0].iov_len = len;
        return 1;
    }
    iov[0].iov_len = first;
    iov[1].iov_base = r->buf;
    iov[1].iov_len = len - first;
    return 2;
}

int stdio_ring_reserve(stdio_ring_t *r, size_t len, struct iovec iov[2])
{
    assert(len <= r->slack);
    return span_iov(r, r->head, len, iov);
}

/* Forgets runs that lie wholly before the logical tail. */
static void trim_runs(stdio_ring_t *r)
{
    uint64_t t = r->head > r->keep ? r->head - r->keep : 0;
    while (r->runs_n > 1 && run_at(r, 1)->start <= t) {
        r->runs_first = (r->runs_first + 1) % r->runs_cap;
        r->runs_n--;
    }
}

static void push_run(stdio_ring_t *r, uint64_t start, uint64_t author)
{
    if (r->runs_n == r->runs_max) {
        /* Bookkeeping is full: forget the oldest run (the tail moves past it). */
        r->runs_first = (r->runs_first + 1) % r->runs_cap;
        r->runs_n--;
    }
    if (r->runs_n == r->runs_cap) {
        size_t ncap = r->runs_cap * 2;
        if (ncap > r->runs_max)
            ncap = r->runs_max;
        run_t *n = malloc(ncap * sizeof *n);
        if (!n) {
            /* Keep going with the runs we have: forget the oldest. */
            r->runs_first = (r->runs_first + 1) % r->runs_cap;
            r->runs_n--;
        } else {
            for (size_t i = 0; i < r->runs_n; i++)
                n[i] = *run_at(r, i);
            free(r->runs);
            r->runs = n;
            r->runs_cap = ncap;
            r->runs_first = 0;
        }
    }
    *run_at(r, r->runs_n) = (run_t){.start = start, .author = author};
    r->runs_n++;
}

void stdio_ring_commit(stdio_ring_t *r, size_t n, uint64_t author)
{
    assert(n <= r->slack && author != 0);
    if (n == 0)
        return;
    if (!r->runs_n || run_at(r, r->runs_n - 1)->author != author)
        push_run(r, r->head, author);
    r->head += n;
    trim_runs(r);
}

void stdio_ring_append(stdio_ring_t *r, const void *data, size_t len, uint64_t author)
{
    const uint8_t *p = data;
    while (len) {
        size_t n = len < r->slack ? len : r->slack;
        struct iovec iov[2];
        int cnt = stdio_ring_reserve(r, n, iov);
        memcpy(iov[0].iov_base, p, iov[0].iov_len);
        if (cnt == 2)
            memcpy(iov[1].iov_base, p + iov[0].iov_len, iov[1].iov_len);
        stdio_ring_commit(r, n, author);
        p += n;
        len -= n;
    }
}

int stdio_ring_iov(const stdio_ring_t *r, uint64_t from, size_t len, struct iovec iov[2])
{
    assert(from + len <= r->head);
    assert(r->head - from <= r->size);
    return span_iov(r, from, len, iov);
}

void stdio_ring_copy(const stdio_ring_t *r, uint64_t from, void *dst, size_t len)
{
    struct iovec iov[2];
    int n = stdio_ring_iov(r, from, len, iov);
    memcpy(dst, iov[0].iov_base, iov[0].iov_len);
    if (n == 2)
        memcpy((uint8_t *)dst + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
}

uint64_t stdio_ring_run(const stdio_ring_t *r, uint64_t off, uint64_t *author)
{
    assert(r->runs_n && off >= run_at(r, 0)->start && off < r->head);
    /* The last run starting at or before OFF. Usually the last or only run. */
    size_t lo = 0, hi = r->runs_n; /* invariant: runs[lo].start <= off < runs[hi].start */
    if (run_at(r, hi - 1)->start <= off)
        lo = hi - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (run_at(r, mid)->start <= off)
            lo = mid;
        else
            hi = mid;
    }
    *author = run_at(r, lo)->author;
    return lo + 1 < r->runs_n ? run_at(r, lo + 1)->start : r->head;
}

int stdio_ring_resize(stdio_ring_t *r, size_t keep, size_t slack)
{
    if (keep == 0 || slack == 0 || keep > SIZE_MAX / 2 || slack > SIZE_MAX / 2)
        return -EINVAL;
    if (keep == r->keep && slack == r->slack)
        return 0;
    size_t size = keep + slack;
    uint8_t *buf = malloc(size);
    if (!buf)
        return -ENOMEM;
    /* Carry over as much history as both rings hold. */
    uint64_t have = r->head < r->size ? r->head : r->size;
    if (have > size)
        have = size;
    uint64_t from = r->head - have;
    if (have) {
        struct iovec src[2];
        int n = span_iov(r, from, (size_t)have, src);
        size_t pos = (size_t)(from % size);
        /* Write the bytes back at their offsets in the new geometry. */
        for (int i = 0; i < n; i++) {
            const uint8_t *p = src[i].iov_base;
            size_t left = src[i].iov_len;
            while (left) {
                size_t room = size - pos;
                size_t k = left < room ? left : room;
                memcpy(buf + pos, p, k);
                pos = (pos + k) % size;
                p += k;
                left -= k;
            }
        }
    }
    free(r->buf);
    r->buf = buf;
    r->keep = keep;
    r->slack = slack;
    r->size = size;
    r->base = from;
    trim_runs(r);
    return 0;
}
