/* sd-bus in a zloop. sd-bus says what it waits for (POLLIN, and POLLOUT while
 * its write queue is non-empty) and until when (an absolute CLOCK_MONOTONIC
 * deadline for call timeouts, or 0 when messages are already queued for
 * dispatch); both change after every operation, so each dispatch ends with a
 * re-arm. zloop has no way to modify a poller's events, hence end + add. */
#include "sdloop.h"
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <time.h>
#include <hlbus/clock.h>
#include <hlbus/log.h>

/* Bound on messages handled per wake-up, so a flood of signals cannot starve
 * the other sockets of the loop; the rest is picked up at once through a
 * zero timeout (sd-bus reports 0 while its read queue is non-empty). */
#define SDLOOP_BATCH 64

struct sdloop {
    zloop_t *loop;
    sd_bus *bus;
    sdloop_fail_fn *fail;
    void *arg;
    zmq_pollitem_t item;
    bool polling;
    int timer;            /* zloop timer id, -1 when none */
    uint64_t timer_at;    /* the monotonic deadline the timer is armed for */
    bool failed;
    bool in_kick;
    uint64_t dispatched;
};

static void sdloop_unregister(sdloop_t *s)
{
    if (s->polling) {
        zloop_poller_end(s->loop, &s->item);
        s->polling = false;
    }
    if (s->timer >= 0) {
        zloop_timer_end(s->loop, s->timer);
        s->timer = -1;
    }
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

static int on_io(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    sdloop_kick(arg);
    return 0;
}

static int on_timer(zloop_t *loop, int timer_id, void *arg)
{
    sdloop_t *s = arg;
    if (timer_id == s->timer)
        s->timer = -1;
    sdloop_kick(s);
    return 0;
}

static void sdloop_rearm(sdloop_t *s)
{
    int fd = sd_bus_get_fd(s->bus);
    int ev = sd_bus_get_events(s->bus);
    if (fd < 0 || ev < 0) {
        sdloop_failed(s, fd < 0 ? fd : ev);
        return;
    }
    short want = (short) (((ev & POLLIN) ? ZMQ_POLLIN : 0) | ((ev & POLLOUT) ? ZMQ_POLLOUT : 0));
    if (!s->polling || s->item.fd != fd || s->item.events != want) {
        if (s->polling)
            zloop_poller_end(s->loop, &s->item);
        s->item = (zmq_pollitem_t) {.socket = NULL, .fd = fd, .events = want};
        if (zloop_poller(s->loop, &s->item, on_io, s) != 0) {
            s->polling = false;
            sdloop_failed(s, -errno ? -errno : -EIO);
            return;
        }
        zloop_poller_set_tolerant(s->loop, &s->item);
        s->polling = true;
    }
    uint64_t until = UINT64_MAX;
    if (sd_bus_get_timeout(s->bus, &until) < 0)
        until = UINT64_MAX;
    if (until == s->timer_at && (s->timer >= 0 || until == UINT64_MAX))
        return;
    if (s->timer >= 0) {
        zloop_timer_end(s->loop, s->timer);
        s->timer = -1;
    }
    s->timer_at = until;
    if (until == UINT64_MAX)
        return;
    uint64_t now = hlb_mono_us();
    size_t delay_ms = until > now ? (size_t) ((until - now + 999) / 1000) : 0;
    s->timer = zloop_timer(s->loop, delay_ms, 1, on_timer, s);
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

sdloop_t *sdloop_new(zloop_t *loop, sd_bus *bus, sdloop_fail_fn *fail, void *arg)
{
    sdloop_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->bus = sd_bus_ref(bus);
    s->fail = fail;
    s->arg = arg;
    s->timer = -1;
    s->timer_at = UINT64_MAX;
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
