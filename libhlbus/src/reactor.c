/* The reactor: epoll set + timerfd under a zloop. See reactor.h for why. */
#include "hlbus/reactor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    hlb_reactor_fd_fn *fn;
    void *arg;
    uint32_t gen; /* tags epoll data so a stale event for a reused fd is dropped */
    bool used;
} watcher_t;

struct hlb_reactor {
    zloop_t *loop;
    int epfd;
    int tfd;
    watcher_t *w; /* indexed by fd */
    size_t wcap;
    size_t nwatched;
    uint32_t gen;
    hlb_timer_t **heap;
    size_t nheap, heapcap;
    uint64_t armed_us; /* what the timerfd is set to; 0 disarmed */
};

/* ---- timer heap (min-heap on due_us; slot = index + 1) ---- */

static void heap_set(hlb_reactor_t *io, size_t i, hlb_timer_t *t)
{
    io->heap[i] = t;
    t->slot = i + 1;
}

static void heap_up(hlb_reactor_t *io, size_t i)
{
    hlb_timer_t *t = io->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (io->heap[p]->due_us <= t->due_us)
            break;
        heap_set(io, i, io->heap[p]);
        i = p;
    }
    heap_set(io, i, t);
}

static void heap_down(hlb_reactor_t *io, size_t i)
{
    hlb_timer_t *t = io->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= io->nheap)
            break;
        if (c + 1 < io->nheap && io->heap[c + 1]->due_us < io->heap[c]->due_us)
            c++;
        if (io->heap[c]->due_us >= t->due_us)
            break;
        heap_set(io, i, io->heap[c]);
        i = c;
    }
    heap_set(io, i, t);
}

static void heap_remove(hlb_reactor_t *io, hlb_timer_t *t)
{
    size_t i = t->slot - 1;
    t->slot = 0;
    io->nheap--;
    if (i == io->nheap)
        return;
    hlb_timer_t *last = io->heap[io->nheap];
    heap_set(io, i, last);
    if (i > 0 && io->heap[(i - 1) / 2]->due_us > last->due_us)
        heap_up(io, i);
    else
        heap_down(io, i);
}

/* Points the timerfd at the earliest timer, when that changed. */
static void rearm(hlb_reactor_t *io)
{
    uint64_t want = io->nheap ? io->heap[0]->due_us : 0;
    if (want == 0 && io->nheap)
        want = 1; /* due at 0 means "now"; 0 would disarm */
    if (want == io->armed_us)
        return;
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)(want / 1000000u);
    its.it_value.tv_nsec = (long)(want % 1000000u) * 1000;
    /* An absolute time already past fires immediately, which is what we want. */
    if (timerfd_settime(io->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        io->armed_us = want;
}

void hlb_timer_init(hlb_timer_t *t, hlb_timer_fn *fn, void *arg)
{
    memset(t, 0, sizeof *t);
    t->fn = fn;
    t->arg = arg;
}

void hlb_timer_at(hlb_reactor_t *io, hlb_timer_t *t, uint64_t due_us)
{
    if (t->slot) {
        t->due_us = due_us;
        size_t i = t->slot - 1;
        if (i > 0 && io->heap[(i - 1) / 2]->due_us > due_us)
            heap_up(io, i);
        else
            heap_down(io, i);
    } else {
        if (io->nheap == io->heapcap) {
            size_t cap = io->heapcap ? io->heapcap * 2 : 64;
            hlb_timer_t **h = realloc(io->heap, cap * sizeof *h);
            assert(h); /* out of memory: as czmq, abort */
            io->heap = h;
            io->heapcap = cap;
        }
        t->due_us = due_us;
        io->heap[io->nheap] = t;
        t->slot = ++io->nheap;
        heap_up(io, io->nheap - 1);
    }
    rearm(io);
}

void hlb_timer_after_ms(hlb_reactor_t *io, hlb_timer_t *t, int64_t ms)
{
    hlb_timer_at(io, t, hlb_mono_us() + (uint64_t)(ms > 0 ? ms : 0) * 1000u);
}

void hlb_timer_stop(hlb_reactor_t *io, hlb_timer_t *t)
{
    if (!t->slot)
        return;
    heap_remove(io, t);
    rearm(io);
}

size_t hlb_reactor_timers(const hlb_reactor_t *io) { return io->nheap; }

static int on_timerfd(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    hlb_reactor_t *io = arg;
    uint64_t n;
    if (read(io->tfd, &n, sizeof n) < 0 && errno != EAGAIN)
        return 0;
    io->armed_us = 0; /* the timerfd is disarmed after it fired */
    uint64_t now = hlb_mono_us();
    /* Bounded: timers that reschedule themselves "now" run again next turn. */
    size_t budget = io->nheap;
    while (io->nheap && io->heap[0]->due_us <= now && budget--) {
        hlb_timer_t *t = io->heap[0];
        heap_remove(io, t);
        t->fn(io, t, t->arg);
    }
    rearm(io);
    return 0;
}

/* ---- fd watchers ---- */

static int on_epoll(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    hlb_reactor_t *io = arg;
    struct epoll_event ev[128];
    int n = epoll_wait(io->epfd, ev, 128, 0);
    for (int i = 0; i < n; i++) {
        int fd = (int)(ev[i].data.u64 & 0xffffffffu);
        uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
        /* An earlier handler in this batch may have unwatched (or replaced) it. */
        if (fd < 0 || (size_t)fd >= io->wcap || !io->w[fd].used || io->w[fd].gen != gen)
            continue;
        io->w[fd].fn(io, fd, ev[i].events, io->w[fd].arg);
    }
    return 0;
}

int hlb_reactor_watch(hlb_reactor_t *io, int fd, uint32_t events, hlb_reactor_fd_fn *fn, void *arg)
{
    if (fd < 0)
        return -EBADF;
    if ((size_t)fd >= io->wcap) {
        size_t cap = io->wcap ? io->wcap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        watcher_t *w = realloc(io->w, cap * sizeof *w);
        if (!w)
            return -ENOMEM;
        memset(w + io->wcap, 0, (cap - io->wcap) * sizeof *w);
        io->w = w;
        io->wcap = cap;
    }
    watcher_t *w = &io->w[fd];
    bool was = w->used;
    struct epoll_event ev = {.events = events};
    uint32_t gen = was ? w->gen : ++io->gen;
    ev.data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd;
    int rc = epoll_ctl(io->epfd, was ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    /* The fd may have been closed and reopened behind our back (the kernel
     * drops closed fds from the set): fall back to the other operation. */
    if (rc < 0 && was && errno == ENOENT)
        rc = epoll_ctl(io->epfd, EPOLL_CTL_ADD, fd, &ev);
    else if (rc < 0 && !was && errno == EEXIST)
        rc = epoll_ctl(io->epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0)
        return -errno;
    if (!was)
        io->nwatched++;
    w->used = true;
    w->gen = gen;
    w->fn = fn;
    w->arg = arg;
    return 0;
}

void hlb_reactor_unwatch(hlb_reactor_t *io, int fd)
{
    if (fd < 0 || (size_t)fd >= io->wcap || !io->w[fd].used)
        return;
    epoll_ctl(io->epfd, EPOLL_CTL_DEL, fd, NULL); /* ENOENT if already closed: fine */
    io->w[fd].used = false;
    io->w[fd].gen = 0;
    io->nwatched--;
}

size_t hlb_reactor_watched(const hlb_reactor_t *io) { return io->nwatched; }
zloop_t *hlb_reactor_loop(const hlb_reactor_t *io) { return io->loop; }

hlb_reactor_t *hlb_reactor_new(zloop_t *loop)
{
    hlb_reactor_t *io = calloc(1, sizeof *io);
    if (!io)
        return NULL;
    io->loop = loop;
    io->epfd = epoll_create1(EPOLL_CLOEXEC);
    io->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (io->epfd < 0 || io->tfd < 0)
        goto fail;
    zmq_pollitem_t ep = {.fd = io->epfd, .events = ZMQ_POLLIN};
    zmq_pollitem_t tf = {.fd = io->tfd, .events = ZMQ_POLLIN};
    if (zloop_poller(loop, &ep, on_epoll, io) < 0)
        goto fail;
    if (zloop_poller(loop, &tf, on_timerfd, io) < 0) {
        zloop_poller_end(loop, &ep);
        goto fail;
    }
    /* A transient POLLERR must not make zloop silently drop our pollers. */
    zloop_poller_set_tolerant(loop, &ep);
    zloop_poller_set_tolerant(loop, &tf);
    return io;
fail:
    if (io->epfd >= 0)
        close(io->epfd);
    if (io->tfd >= 0)
        close(io->tfd);
    free(io);
    return NULL;
}

void hlb_reactor_destroy(hlb_reactor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlb_reactor_t *io = *self_p;
    zmq_pollitem_t ep = {.fd = io->epfd};
    zmq_pollitem_t tf = {.fd = io->tfd};
    zloop_poller_end(io->loop, &ep);
    zloop_poller_end(io->loop, &tf);
    for (size_t i = 0; i < io->nheap; i++)
        io->heap[i]->slot = 0;
    close(io->epfd);
    close(io->tfd);
    free(io->w);
    free(io->heap);
    free(io);
    *self_p = NULL;
}
