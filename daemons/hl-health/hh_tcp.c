/* TCP connect probes: a non-blocking connect watched through the reactor. The
 * address is resolved when the probe is made and again after a failure, so
 * that a name lookup (which blocks) is not on every run's path. */
#include "hh_probe.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    hh_probe_t base;
    struct addrinfo *ai;
    struct addrinfo *cur; /* address being tried */
    int fd;
    hlb_timer_t timer;
    int64_t timeout_ms;
    int last_err;
} tcp_probe_t;

static int resolve(tcp_probe_t *t)
{
    if (t->ai)
        return 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    int rc = getaddrinfo(t->base.spec->u.tcp.host, t->base.spec->u.tcp.port, &hints, &t->ai);
    return rc == 0 ? 0 : -EHOSTUNREACH;
}

static void close_fd(tcp_probe_t *t)
{
    if (t->fd >= 0) {
        hlb_reactor_unwatch(t->base.env.io, t->fd);
        close(t->fd);
        t->fd = -1;
    }
}

static void finish(tcp_probe_t *t, hh_result_t r, const char *detail)
{
    close_fd(t);
    hlb_timer_stop(t->base.env.io, &t->timer);
    if (r != HH_PASS && t->ai) {
        freeaddrinfo(t->ai); /* resolve again next time: the address may have moved */
        t->ai = NULL;
    }
    hh_probe_finish(&t->base, r, detail, NULL, 0);
}

static void try_next(tcp_probe_t *t);

static void on_writable(hlb_reactor_t *io, int fd, uint32_t events, void *arg)
{
    tcp_probe_t *t = arg;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0) {
        finish(t, HH_PASS, "connected");
        return;
    }
    t->last_err = err;
    close_fd(t);
    t->cur = t->cur->ai_next;
    try_next(t);
}

/* Tries the addresses from t->cur on until one is in progress or all failed. */
static void try_next(tcp_probe_t *t)
{
    for (; t->cur; t->cur = t->cur->ai_next) {
        struct addrinfo *a = t->cur;
        t->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (t->fd < 0) {
            t->last_err = errno;
            continue;
        }
        if (connect(t->fd, a->ai_addr, a->ai_addrlen) == 0) {
            finish(t, HH_PASS, "connected");
            return;
        }
        if (errno == EINPROGRESS &&
            hlb_reactor_watch(t->base.env.io, t->fd, EPOLLOUT, on_writable, t) == 0)
            return;
        t->last_err = errno;
        close_fd(t);
    }
    char *d = hlb_strdupf("connect: %s", strerror(t->last_err));
    finish(t, HH_FAIL, d ? d : "connect failed");
    free(d);
}

static void on_timeout(hlb_reactor_t *io, hlb_timer_t *tm, void *arg)
{
    tcp_probe_t *t = arg;
    char *d = hlb_strdupf("connect timed out after %lld ms", (long long)t->timeout_ms);
    finish(t, HH_FAIL, d ? d : "connect timed out");
    free(d);
}

/* The resolution failure is reported from a timer so that DONE never runs
 * inside start (the caller's state is not ready for it there). */
static void on_unresolved(hlb_reactor_t *io, hlb_timer_t *tm, void *arg)
{
    tcp_probe_t *t = arg;
    char *d = hlb_strdupf("cannot resolve %s", t->base.spec->u.tcp.host);
    finish(t, HH_FAIL, d ? d : "cannot resolve");
    free(d);
}

static void on_begin(hlb_reactor_t *io, hlb_timer_t *tm, void *arg)
{
    tcp_probe_t *t = arg;
    hlb_timer_init(&t->timer, on_timeout, t);
    hlb_timer_after_ms(io, &t->timer, t->timeout_ms);
    t->cur = t->ai;
    t->last_err = ECONNREFUSED;
    try_next(t);
}

static int tcp_start(hh_probe_t *p, int64_t timeout_ms)
{
    tcp_probe_t *t = (tcp_probe_t *)p;
    t->timeout_ms = timeout_ms;
    /* Starting from a zero-delay timer keeps the probe's completion out of
     * the caller's stack, however fast the connect is. */
    hlb_timer_init(&t->timer, resolve(t) == 0 ? on_begin : on_unresolved, t);
    hlb_timer_after_ms(p->env.io, &t->timer, 0);
    return 0;
}

static void tcp_cancel(hh_probe_t *p)
{
    tcp_probe_t *t = (tcp_probe_t *)p;
    close_fd(t);
    hlb_timer_stop(p->env.io, &t->timer);
}

static void tcp_destroy(hh_probe_t *p)
{
    tcp_probe_t *t = (tcp_probe_t *)p;
    if (t->ai)
        freeaddrinfo(t->ai);
    free(t);
}

static const hh_probe_ops_t tcp_ops = {tcp_start, tcp_cancel, tcp_destroy};

hh_probe_t *hh_tcp_probe_new(const hh_probe_env_t *env, const hh_check_spec_t *spec, char **err)
{
    if (!spec->u.tcp.host || !spec->u.tcp.port) {
        if (err)
            *err = strdup("tcp check needs host and port");
        return NULL;
    }
    tcp_probe_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->base.ops = &tcp_ops;
    t->base.spec = spec;
    t->fd = -1;
    hlb_timer_init(&t->timer, on_timeout, t);
    (void)resolve(t); /* a failure now is retried at the first run */
    return &t->base;
}
