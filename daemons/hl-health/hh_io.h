/* hh_io: the fd watchers and timers of many short-lived probes, hung off one
 * czmq zloop as exactly two pollers (an epoll set and a timerfd).
 *
 * Why not one zloop poller per curl socket and one zloop timer per check:
 * zloop keeps pollers and timers in linked lists, rebuilds its whole poll
 * array on every poller change and stops dispatching the rest of that
 * iteration when it does, and walks every timer twice per iteration. With
 * hundreds of checks whose sockets come and go every run that is O(n) work
 * per socket event. Here a watch change is one epoll_ctl and a timer is a
 * binary-heap entry, while the zloop still owns the thread and the wait. */
#pragma once
#include <hlbus/clock.h> /* hlb_mono_us: every due time here is monotonic */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>

typedef struct hh_io hh_io_t;

/* EVENTS are EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP bits. */
typedef void(hh_io_fd_fn)(hh_io_t *io, int fd, uint32_t events, void *arg);

typedef struct hh_timer hh_timer_t;
typedef void(hh_io_timer_fn)(hh_io_t *io, hh_timer_t *t, void *arg);

/* Embedded in its owner; hh_timer_init before use. */
struct hh_timer {
    uint64_t due_us; /* CLOCK_MONOTONIC, us */
    size_t slot;     /* index in the heap + 1; 0 when not scheduled */
    hh_io_timer_fn *fn;
    void *arg;
};

/* Attaches to LOOP (which must outlive the io). NULL on failure. */
hh_io_t *hh_io_new(zloop_t *loop);
/* Detaches from the loop; watched fds are not closed, pending timers dropped. */
void hh_io_destroy(hh_io_t **self_p);

/* Watches FD for EVENTS, replacing an earlier watch of the same fd. 0 or -errno. */
int hh_io_watch(hh_io_t *io, int fd, uint32_t events, hh_io_fd_fn *fn, void *arg);
/* Stops watching FD (before closing it); pending events for it are dropped. */
void hh_io_unwatch(hh_io_t *io, int fd);
size_t hh_io_watched(const hh_io_t *io);

void hh_timer_init(hh_timer_t *t, hh_io_timer_fn *fn, void *arg);
/* (Re)schedules T at DUE_US (monotonic us); a time in the past fires at once. */
void hh_timer_at(hh_io_t *io, hh_timer_t *t, uint64_t due_us);
void hh_timer_after_ms(hh_io_t *io, hh_timer_t *t, int64_t ms);
void hh_timer_stop(hh_io_t *io, hh_timer_t *t);
static inline bool hh_timer_pending(const hh_timer_t *t) { return t->slot != 0; }
size_t hh_io_timers(const hh_io_t *io);

