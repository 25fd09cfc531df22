/* Asynchronous ctl calls: a DEALER per call, in the zloop.
 *
 * Destroying a socket from inside zloop needs care: zloop polls, then runs
 * the due timers, then the handlers of the readers that were ready, from a
 * copy of its reader list. A socket destroyed in a timer handler while its
 * reader is marked ready in this very round would be used after its free.
 * So a socket is destroyed only (a) in its own reader handler (zloop stops
 * the round after a handler that changed the reader set), or (b) when it
 * has no input waiting: a reader is marked ready only when a message is
 * waiting, and only our handler takes it away, so "nothing waiting now"
 * means "not marked ready in this round". When input is waiting, the reply
 * has come: the reader handler will run and finish the call itself. */
#include "hlbus/acall.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "hlbus/codec.h"
#include "hlbus/paths.h"
#include "hlbus/pbfield.h"

struct hlb_acall {
    hlb_acall_t *next; /* every call not yet freed */
    zloop_t *loop;
    char *path;     /* the ctl socket file */
    char *endpoint; /* ipc:// of it */
    zsock_t *sock;
    int timer;      /* zloop timer id; -1 none */
    char *method, *type;
    uint8_t *body;
    size_t len;
    uint64_t id;
    hlb_acall_opts_t o;
    int attempt;
    int64_t connect_deadline; /* monotonic ms */
    int fail_rc;              /* delivered by the timer when not 0 */
    bool cancelled;           /* the reader handler only frees it */
    hlb_acall_fn *fn;
    void *arg;
};

static hlb_acall_t *live;
static int pending;

int hlb_acall_pending(void) { return pending; }

/* Request ids: distinct from libhlbus' own client ids (odd, not even). */
static uint64_t next_id(void)
{
    static uint64_t base, counter;
    if (!base)
        base = ((uint64_t)getpid() << 40) ^ (hlb_now_us() & 0xffffffffffULL);
    return (base + (++counter << 1)) | 1;
}

static void call_free(hlb_acall_t *c)
{
    for (hlb_acall_t **p = &live; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    if (c->timer >= 0)
        zloop_timer_end(c->loop, c->timer);
    if (c->sock) {
        zloop_reader_end(c->loop, c->sock);
        zsock_destroy(&c->sock);
    }
    free(c->path);
    free(c->endpoint);
    free(c->method);
    free(c->type);
    free(c->body);
    free(c);
    pending--;
}

static bool input_waiting(hlb_acall_t *c)
{
    return c->sock && (zsock_events(c->sock) & ZMQ_POLLIN);
}

/* Whether someone listens on the socket file: a refused connect says so at
 * once, where ZeroMQ would silently retry until the deadline. */
static int probe(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0;
    close(fd);
    if (rc == -EAGAIN || rc == -EINPROGRESS)
        rc = 0; /* a full backlog still means someone is there */
    return rc == -ENOENT ? -ECONNREFUSED : rc;
}

static int on_timer(zloop_t *loop, int timer_id, void *arg);
static int on_reply(zloop_t *loop, zsock_t *sock, void *arg);

static void finish(hlb_acall_t *c, int rc, const Hl__Reply *reply)
{
    if (!c->cancelled && c->fn)
        c->fn(rc, reply, c->arg);
    call_free(c);
}

/* Arms the one timer of the call: reply deadline, connect retry, or the
 * delivery of an early failure. */
static void arm(hlb_acall_t *c, int ms)
{
    if (c->timer >= 0)
        zloop_timer_end(c->loop, c->timer);
    c->timer = zloop_timer(c->loop, (size_t)(ms > 0 ? ms : 0), 1, on_timer, c);
}

static int send_request(hlb_acall_t *c)
{
    Hl__Request req = HL__REQUEST__INIT;
    req.method = c->method;
    req.type = hlb_pb_str(c->type);
    req.body.data = c->body;
    req.body.len = c->len;
    req.id = c->id;
    req.deadline_us = hlb_now_us() + (uint64_t)c->o.timeout_ms * 1000u;
    size_t n = hl__request__get_packed_size(&req);
    zframe_t *f = zframe_new(NULL, n);
    if (!f)
        return -ENOMEM;
    hl__request__pack(&req, zframe_data(f));
    zmsg_t *m = zmsg_new();
    zmsg_addmem(m, NULL, 0);
    zmsg_append(m, &f);
    if (zmsg_send(&m, c->sock) < 0) {
        zmsg_destroy(&m);
        return -EIO;
    }
    return 0;
}

/* One attempt: connect if someone listens, send, wait for the reply. */
static void attempt(hlb_acall_t *c)
{
    int rc = probe(c->path);
    if (rc == -ECONNREFUSED && zclock_mono() < c->connect_deadline) {
        arm(c, 200); /* the daemon may be restarting: look again soon */
        return;
    }
    if (rc < 0) {
        c->fail_rc = rc;
        arm(c, 0);
        return;
    }
    c->sock = zsock_new(ZMQ_DEALER);
    if (!c->sock || (zsock_set_linger(c->sock, 0), zsock_set_maxmsgsize(c->sock, HLB_MAX_MSG),
                     zsock_connect(c->sock, "%s", c->endpoint) < 0) ||
        zloop_reader(c->loop, c->sock, on_reply, c) < 0) {
        zsock_destroy(&c->sock);
        c->fail_rc = -ECONNREFUSED;
        arm(c, 0);
        return;
    }
    c->attempt++;
    if (send_request(c) < 0) {
        c->fail_rc = -EIO;
        arm(c, 0);
        return;
    }
    arm(c, c->o.timeout_ms);
}

static int on_timer(zloop_t *loop, int timer_id, void *arg)
{
    hlb_acall_t *c = arg;
    c->timer = -1; /* a one-shot timer is gone after its handler */
    if (c->fail_rc) {
        if (input_waiting(c))
            return 0;
        finish(c, c->fail_rc, NULL);
        return 0;
    }
    if (!c->sock) { /* waiting for the endpoint to appear */
        attempt(c);
        return 0;
    }
    if (input_waiting(c))
        return 0; /* the reply is here: its reader handler finishes the call */
    /* Nothing waiting, so not marked ready this round: safe to drop. */
    zloop_reader_end(c->loop, c->sock);
    zsock_destroy(&c->sock);
    if (c->attempt < c->o.attempts) {
        attempt(c); /* same request id: a server that ran it answers from its cache */
        return 0;
    }
    finish(c, -ETIMEDOUT, NULL);
    return 0;
}

static int on_reply(zloop_t *loop, zsock_t *sock, void *arg)
{
    hlb_acall_t *c = arg;
    zmsg_t *m = zmsg_recv_nowait(sock);
    if (!m)
        return 0;
    zframe_t *delim = zmsg_pop(m);
    zframe_t *body = zmsg_pop(m);
    bool ok = delim && zframe_size(delim) == 0 && body && zmsg_size(m) == 0;
    Hl__Reply *r = ok ? hl__reply__unpack(NULL, zframe_size(body), zframe_data(body)) : NULL;
    zframe_destroy(&delim);
    zframe_destroy(&body);
    zmsg_destroy(&m);
    /* in our own reader handler: zloop ends the round after us */
    finish(c, r ? 0 : -EPROTO, r);
    if (r)
        hl__reply__free_unpacked(r, NULL);
    return 0;
}

hlb_acall_t *hlb_acall_start(zloop_t *loop, const char *runtime_dir, const char *daemon,
                         const char *method, const char *type, const void *body, size_t len,
                         const hlb_acall_opts_t *opts, hlb_acall_fn *fn, void *arg)
{
    if (!hlb_name_valid(daemon) || !method)
        return NULL;
    hlb_acall_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pending++;
    c->next = live;
    live = c;
    c->loop = loop;
    c->timer = -1;
    c->fn = fn;
    c->arg = arg;
    c->o = opts ? *opts : (hlb_acall_opts_t){0};
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = 2000;
    if (c->o.attempts <= 0)
        c->o.attempts = 1;
    c->connect_deadline = zclock_mono() + (c->o.connect_wait_ms > 0 ? c->o.connect_wait_ms : 0);
    char rel[128];
    snprintf(rel, sizeof rel, HLB_CTL_DIR "/%s", daemon);
    c->path = hlb_path(runtime_dir, rel);
    c->endpoint = hlb_endpoint(runtime_dir, rel);
    c->method = strdup(method);
    c->type = type ? strdup(type) : NULL;
    c->body = len ? malloc(len) : NULL;
    if (!c->path || !c->endpoint || !c->method || (type && !c->type) || (len && !c->body)) {
        call_free(c);
        return NULL;
    }
    if (len)
        memcpy(c->body, body, len);
    c->len = len;
    c->id = next_id();
    attempt(c);
    return c;
}

void hlb_acall_cancel(hlb_acall_t **c_p)
{
    if (!c_p || !*c_p)
        return;
    hlb_acall_t *c = *c_p;
    *c_p = NULL;
    if (input_waiting(c)) {
        c->cancelled = true; /* its reader handler frees it, without calling back */
        return;
    }
    call_free(c);
}

void hlb_acall_shutdown(void)
{
    while (live) {
        live->cancelled = true;
        call_free(live);
    }
}
