/* sd-bus on the daemon's reactor. sd-bus says what it waits for (POLLIN, and
 * POLLOUT while its write queue is non-empty) and until when (an absolute
 * CLOCK_MONOTONIC deadline for call timeouts, or 0 when messages are already
 * queued for dispatch); both change after every operation, so each dispatch
 * ends with a re-arm: one epoll_ctl when the events change, one heap entry
 * for the deadline. */
#include "sdloop.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <stdbool.h>
#include <time.h>
#include <hlbus/clock.h>
#include <hlbus/log.h>

/* Bound on messages handled per wake-up, so a flood of signals cannot starve
 * the other sockets of the loop; the rest is picked up at once through a
 * zero timeout (sd-bus reports 0 while its read queue is non-empty). */
#define SDLOOP_BATCH 64

struct sdloop {
    hlb_reactor_t *io;
    sd_bus *bus;
    sdloop_fail_fn *fail;
    void *arg;
    int fd;               /* the bus fd being watched, -1 when none */
    uint32_t events;      /* what it is watched for */
    hlb_timer_t timer;    /* sd-bus's deadline */
    bool failed;
    bool in_kick;
    uint64_t dispatched;
};

static void sdloop_unregister(sdloop_t *s)
{
    if (s->fd >= 0) {
        hlb_reactor_unwatch(s->io, s->fd);
        s->fd = -1;
    }
    hlb_timer_stop(s->io, &s->timer);
}

static void sdloop_failed(sdloop_t *s, int err)
{
    if (s->failed)
        return;
    s->failed = true;
    sdloop_unregister(s);
    hlb_debug("sd-bus connection failed: %s", strerror(-err));
    if (s->fail)
        s->fail(err, s->arg);
}

static void on_io(hlb_reactor_t *io, int fd, uint32_t events, void *arg)
{
    sdloop_kick(arg);
}

static void on_timer(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    sdloop_kick(arg);
}

static void sdloop_rearm(sdloop_t *s)
{
    int fd = sd_bus_get_fd(s->bus);
    int ev = sd_bus_get_events(s->bus);
    if (fd < 0 || ev < 0) {
        sdloop_failed(s, fd < 0 ? fd : ev);
        return;
    }
    uint32_t want = ((ev & POLLIN) ? EPOLLIN : 0) | ((ev & POLLOUT) ? EPOLLOUT : 0);
    if (s->fd != fd || s->events != want) {
        if (s->fd >= 0 && s->fd != fd)
            hlb_reactor_unwatch(s->io, s->fd);
        int rc = hlb_reactor_watch(s->io, fd, want, on_io, s);
        if (rc < 0) {
            s->fd = -1;
            sdloop_failed(s, rc);
            return;
        }
        s->fd = fd;
        s->events = want;
    }
    uint64_t until = UINT64_MAX;
    if (sd_bus_get_timeout(s->bus, &until) < 0)
        until = UINT64_MAX;
    if (until == UINT64_MAX)
        hlb_timer_stop(s->io, &s->timer);
    else if (!hlb_timer_pending(&s->timer) || s->timer.due_us != until)
        hlb_timer_at(s->io, &s->timer, until); /* both CLOCK_MONOTONIC us */
}

void sdloop_kick(sdloop_t *s)
{
    if (!s || s->failed || s->in_kick)
        return; /* a call made from inside a callback is flushed by the outer kick */
    s->in_kick = true;
    for (int i = 0; i < SDLOOP_BATCH; i++) {
        int r = sd_bus_process(s->bus, NULL);
        if (r < 0) {
            s->in_kick = false;
            sdloop_failed(s, r);
            return;
        }
        if (r == 0)
            break;
        s->dispatched++;
    }
    s->in_kick = false;
    if (!s->failed)
        sdloop_rearm(s);
}

sdloop_t *sdloop_new(hlb_reactor_t *io, sd_bus *bus, sdloop_fail_fn *fail, void *arg)
{
    sdloop_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->io = io;
    s->bus = sd_bus_ref(bus);
    s->fail = fail;
    s->arg = arg;
    s->fd = -1;
    hlb_timer_init(&s->timer, on_timer, s);
    sdloop_kick(s);
    return s;
}

void sdloop_destroy(sdloop_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sdloop_t *s = *self_p;
    sdloop_unregister(s);
    sd_bus_flush_close_unref(s->bus);
    free(s);
    *self_p = NULL;
}

sd_bus *sdloop_bus(sdloop_t *s)
{
    return s->bus;
}

uint64_t sdloop_dispatched(const sdloop_t *s)
{
    return s ? s->dispatched : 0;
}
