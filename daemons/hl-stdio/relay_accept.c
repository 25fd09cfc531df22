/* The relay core's listening sockets and the connections they accept. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <hlbus/clock.h>

#include "cred.h"
#include "relay_int.h"

/* ---------------------------------------------------------------- sockets */

void relay_listener_close(listener_t **lp)
{
    listener_t *l = *lp;
    if (!l)
        return;
    stdio_sock_close(&l->sock); /* also leaves the epoll set */
    free(l);
    *lp = NULL;
}

int relay_listener_open(stdio_relay_t *r, const char *path, lkind_t kind, gid_t gid,
                         mode_t mode, listener_t **out, char *err, size_t errlen)
{
    listener_t *l = calloc(1, sizeof *l);
    if (!l)
        return relay_fail(err, errlen, -ENOMEM, "out of memory");
    int rc = stdio_sock_listen(path, gid, mode, &l->sock, err, errlen);
    if (rc < 0) {
        free(l);
        return rc;
    }
    l->po.kind = PK_LISTENER;
    l->kind = kind;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->po};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, l->sock->fd, &ev) < 0) {
        rc = relay_fail(err, errlen, -errno, "epoll: %s", strerror(errno));
        relay_listener_close(&l);
        return rc;
    }
    *out = l;
    return 0;
}

static client_t *client_new(stdio_relay_t *r, int fd, bool framed, bool read_only)
{
    client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->po.kind = PK_CLIENT;
    c->fd = fd;
    c->id = ++r->next_id;
    c->framed = framed;
    c->read_only = read_only;
    if (stdio_cred_peer(fd, &c->uid, &c->gid, &c->pid) == 0) {
        c->cred_known = true;
        stdio_cred_comm(c->pid, c->comm, sizeof c->comm);
    }
    if (r->conf.sndbuf > 0) {
        /* FORCE passes net.core.wmem_max when we may (CAP_NET_ADMIN). */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &r->conf.sndbuf, sizeof(int)) < 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &r->conf.sndbuf, sizeof(int));
    }
    return c;
}

/* Puts C (connected, state not yet set) into CH from offset START. */
void relay_client_attach(stdio_relay_t *r, client_t *c, channel_t *ch, uint64_t start,
                          uint64_t missed)
{
    relay_client_set_state(c, C_LIVE);
    c->cursor = c->start = start;
    c->missed = missed;
    relay_chan_add(ch, c);
    ch->attached++;
    c->attached = true;
    if (c->read_only) {
        /* The kernel then refuses its writes (EPIPE) instead of us reading
         * and discarding them. */
        shutdown(c->fd, SHUT_RD);
        c->reading = false;
    } else {
        c->reading = !c->eof_in;
    }
    relay_client_set_events(r, c);
    char w[160];
    relay_log(r, LOG_INFO, "%s: %s attached %s%s from %llu (missed %llu)", ch->name,
         relay_who(c, w, sizeof w), c->read_only ? "read-only" : "read-write",
         c->framed ? " via the attach socket" : "", (unsigned long long)start,
         (unsigned long long)missed);
    if (r->hooks.attach) {
        stdio_client_info_t ci;
        relay_client_info(c, NULL, &ci);
        r->hooks.attach(r->arg, &ci);
    }
}

static void accept_one(stdio_relay_t *r, listener_t *l, int fd)
{
    struct epoll_event ev = {.events = 0};
    bool framed = l->kind == L_ATTACH;
    client_t *c = client_new(r, fd, framed, l->kind == L_RAW_RO);
    if (!c) {
        close(fd);
        return;
    }
    ev.data.ptr = &c->po;
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        free(c);
        return;
    }
    r->n_conns++;
    char w[160];
    if (framed) {
        if (r->n_hello >= r->conf.max_pending) {
            relay_log(r, LOG_WARNING, "attach socket: %s refused: %u connections await their hello",
                 relay_who(c, w, sizeof w), r->n_hello);
            relay_client_kill(r, c, "refused");
            return;
        }
        relay_client_set_state(c, C_HELLO);
        r->n_hello++;
        c->reading = true;
        relay_client_set_events(r, c);
        relay_pending_add(r, c, hlb_mono_us() + (uint64_t)r->conf.hello_timeout_ms * 1000u);
        return;
    }
    channel_t *ch = l->ch;
    if (ch->n_clients >= ch->max_clients) {
        ch->rejected++;
        relay_log(r, LOG_WARNING, "%s: %s refused: %u clients attached already", ch->name,
             relay_who(c, w, sizeof w), ch->n_clients);
        relay_client_kill(r, c, "refused");
        return;
    }
    relay_client_attach(r, c, ch, relay_chan_replay_start(ch), 0);
    relay_client_pump(r, c);
}

/* Mutes or unmutes every listener (while out of descriptors). */
void relay_listeners_set(stdio_relay_t *r, bool on)
{
    listener_t *ls[1 + 64];
    size_t n = 0;
    if (r->attach)
        ls[n++] = r->attach;
    for (channel_t *ch = r->channels; ch; ch = ch->next) {
        if (ch->raw && n < sizeof ls / sizeof *ls)
            ls[n++] = ch->raw;
        if (ch->ro && n < sizeof ls / sizeof *ls)
            ls[n++] = ch->ro;
    }
    for (size_t i = 0; i < n; i++) {
        struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &ls[i]->po};
        epoll_ctl(r->epfd, EPOLL_CTL_MOD, ls[i]->sock->fd, &ev);
    }
    r->accept_off = !on;
}

void relay_listener_ready(stdio_relay_t *r, listener_t *l)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(l->sock->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(r, l, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if ((errno == EMFILE || errno == ENFILE) && r->reserve_fd >= 0) {
            /* Out of descriptors: the pending connection would keep the
             * listener readable forever. Use the reserve to take it and
             * hang up, so that the loop does not spin. */
            close(r->reserve_fd);
            fd = accept4(l->sock->fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                close(fd);
            r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            relay_log(r, LOG_WARNING, "%s: out of file descriptors: a connection was refused",
                 l->sock->path);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE) {
            /* No reserve either (another thread took the descriptor): stop
             * accepting until a client leaves, rather than spin. */
            relay_log(r, LOG_WARNING, "out of file descriptors: not accepting until a client leaves");
            relay_listeners_set(r, false);
            return;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            relay_log(r, LOG_WARNING, "%s: accept: %s", l->sock->path, strerror(errno));
        return;
    }
}
