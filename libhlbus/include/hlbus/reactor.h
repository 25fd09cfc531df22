/* The reactor: fd watches and timers (many, short-lived: probes, sockets,
 * child processes), hung off one czmq zloop as exactly two pollers (an
 * epoll set and a timerfd). The daemon runtime owns one per daemon
 * (hlb_daemon_reactor); hl-health's probes, the process runner and the
 * ctl calls run on it.
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

typedef struct hlb_reactor hlb_reactor_t;

/* EVENTS are EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP bits. */
typedef void(hlb_reactor_fd_fn)(hlb_reactor_t *io, int fd, uint32_t events, void *arg);

typedef struct hlb_timer hlb_timer_t;
typedef void(hlb_timer_fn)(hlb_reactor_t *io, hlb_timer_t *t, void *arg);

/* Embedded in its owner; hlb_timer_init before use. */
struct hlb_timer {
    uint64_t due_us; /* CLOCK_MONOTONIC, us */
    size_t slot;     /* index in the heap + 1; 0 when not scheduled */
    hlb_timer_fn *fn;
    void *arg;
};

/* Attaches to LOOP (which must outlive the io). NULL on failure. */
hlb_reactor_t *hlb_reactor_new(zloop_t *loop);
/* Detaches from the loop; watched fds are not closed, pending timers dropped. */
void hlb_reactor_destroy(hlb_reactor_t **self_p);
zloop_t *hlb_reactor_loop(const hlb_reactor_t *io);

/* Watches FD for EVENTS, replacing an earlier watch of the same fd. 0 or -errno. */
int hlb_reactor_watch(hlb_reactor_t *io, int fd, uint32_t events, hlb_reactor_fd_fn *fn, void *arg);
/* Stops watching FD (before closing it); pending events for it are dropped. */
void hlb_reactor_unwatch(hlb_reactor_t *io, int fd);
size_t hlb_reactor_watched(const hlb_reactor_t *io);

void hlb_timer_init(hlb_timer_t *t, hlb_timer_fn *fn, void *arg);
/* (Re)schedules T at DUE_US (monotonic us); a time in the past fires at once. */
void hlb_timer_at(hlb_reactor_t *io, hlb_timer_t *t, uint64_t due_us);
void hlb_timer_after_ms(hlb_reactor_t *io, hlb_timer_t *t, int64_t ms);
void hlb_timer_stop(hlb_reactor_t *io, hlb_timer_t *t);
static inline bool hlb_timer_pending(const hlb_timer_t *t) { return t->slot != 0; }
size_t hlb_reactor_timers(const hlb_reactor_t *io);

