/* Request/reply client: Lazy Pirate over a DEALER speaking the REQ envelope
 * ([empty delimiter][request]), so plain REQ sockets can call servers too. */
#include "hlbus/client.h"

#include "hlbus/codec.h"
#include "hlbus/paths.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <czmq.h>

struct hlb_client {
    char *path;     /* socket file */
    char *endpoint; /* ipc://path */
    zsock_t *sock;
};

static const hlb_call_opts_t default_opts = {.timeout_ms = 2000, .retries = 2};

/* A request id unique across processes and calls: pid and a counter in the
 * high bits, a per-process random part in the low bits. */
static uint64_t next_id(void)
{
    static uint64_t base, counter;
    if (!base)
        base = ((uint64_t)getpid() << 40) ^ (hlb_now_us() & 0xffffffffffULL);
    return base + (++counter << 1);
}

hlb_client_t *hlb_client_new(const char *runtime_dir, const char *daemon)
{
    if (!hlb_name_valid(daemon))
        return NULL;
    hlb_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    char rel[128];
    snprintf(rel, sizeof rel, HLB_CTL_DIR "/%s", daemon);
    c->path = hlb_path(runtime_dir, rel);
    c->endpoint = hlb_endpoint(runtime_dir, rel);
    if (!c->path || !c->endpoint)
        hlb_client_destroy(&c);
    return c;
}

void hlb_client_destroy(hlb_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlb_client_t *c = *self_p;
    zsock_destroy(&c->sock);
    free(c->path);
    free(c->endpoint);
    free(c);
    *self_p = NULL;
}

static int open_sock(hlb_client_t *c)
{
    /* Says at once when nobody listens, instead of letting ZeroMQ retry
     * the connect silently until the deadline. */
    int rc = hlb_socket_probe(c->path);
    if (rc < 0)
        return rc;
    c->sock = zsock_new(ZMQ_DEALER);
    if (!c->sock)
        return -ENOMEM;
    zsock_set_linger(c->sock, 0);
    zsock_set_maxmsgsize(c->sock, HLB_MAX_MSG);
    if (zsock_connect(c->sock, "%s", c->endpoint) < 0) {
        zsock_destroy(&c->sock);
        return -ECONNREFUSED;
    }
    return 0;
}

/* Waits for the reply to the one request in flight; 0, -ETIMEDOUT, -EPROTO. */
static int await_reply(hlb_client_t *c, int timeout_ms, Hl__Reply **reply)
{
    void *s = zsock_resolve(c->sock);
    int64_t deadline = zclock_mono() + timeout_ms;
    for (;;) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            return -ETIMEDOUT;
        zmq_pollitem_t pi = {.socket = s, .events = ZMQ_POLLIN};
        int n = zmq_poll(&pi, 1, (long)left);
        if (n < 0) {
            if (errno == EINTR)
                return -EINTR;
            return -errno;
        }
        if (n == 0)
            return -ETIMEDOUT;
        zmsg_t *m = zmsg_recv(c->sock);
        if (!m)
            return -EPROTO;
        zframe_t *delim = zmsg_pop(m);
        zframe_t *body = zmsg_pop(m);
        int ok = delim && zframe_size(delim) == 0 && body && zmsg_size(m) == 0;
        Hl__Reply *r = ok ? hl__reply__unpack(NULL, zframe_size(body), zframe_data(body)) : NULL;
        zframe_destroy(&delim);
        zframe_destroy(&body);
        zmsg_destroy(&m);
        if (!r)
            return -EPROTO;
        *reply = r;
        return 0;
    }
}

int hlb_client_call(hlb_client_t *c, const char *method, const char *type, const void *body,
                    size_t len, const hlb_call_opts_t *opts, Hl__Reply **reply)
{
    if (!opts)
        opts = &default_opts;
    int timeout = opts->timeout_ms > 0 ? opts->timeout_ms : default_opts.timeout_ms;
    int attempts = 1 + (opts->retries > 0 ? opts->retries : 0);
    *reply = NULL;

    Hl__Request req = HL__REQUEST__INIT;
    req.method = (char *)method;
    req.type = (char *)(type ? type : "");
    req.body.data = (uint8_t *)body;
    req.body.len = len;
    req.id = next_id();

    int rc = -ETIMEDOUT;
    for (int attempt = 0; attempt < attempts; attempt++) {
        if (!c->sock && (rc = open_sock(c)) < 0) {
            if (rc != -ECONNREFUSED || attempt + 1 == attempts)
                return rc;
            zclock_sleep(timeout < 100 ? timeout : 100); /* back off before retrying */
            continue;
        }
        req.deadline_us = hlb_now_us() + (uint64_t)timeout * 1000u;
        size_t n = hl__request__get_packed_size(&req);
        zframe_t *f = zframe_new(NULL, n);
        hl__request__pack(&req, zframe_data(f));
        zmsg_t *m = zmsg_new();
        zmsg_addmem(m, NULL, 0);
        zmsg_append(m, &f);
        if (zmsg_send(&m, c->sock) < 0) {
            zmsg_destroy(&m);
            zsock_destroy(&c->sock);
            rc = -EIO;
            continue;
        }
        rc = await_reply(c, timeout, reply);
        if (rc == 0 || rc == -EINTR)
            return rc;
        /* Lazy Pirate: a lost request or reply leaves the socket in an
         * unknown state; drop it and retry on a fresh one. */
        zsock_destroy(&c->sock);
    }
    return rc;
}

int hlb_call_raw(const char *runtime_dir, const char *daemon, const char *method,
                 const char *type, const void *body, size_t len, const hlb_call_opts_t *opts,
                 Hl__Reply **reply)
{
    hlb_client_t *c = hlb_client_new(runtime_dir, daemon);
    if (!c)
        return -EINVAL;
    int rc = hlb_client_call(c, method, type, body, len, opts, reply);
    hlb_client_destroy(&c);
    return rc;
}

int hlb_call(const char *runtime_dir, const char *daemon, const char *method,
             const ProtobufCMessage *args, const hlb_call_opts_t *opts, Hl__Reply **reply)
{
    if (!args)
        return hlb_call_raw(runtime_dir, daemon, method, NULL, NULL, 0, opts, reply);
    size_t len;
    uint8_t *data = hlb_body_encode(args, &len);
    if (!data)
        return -ENOMEM;
    int rc = hlb_call_raw(runtime_dir, daemon, method, args->descriptor->name, data, len, opts,
                          reply);
    free(data);
    return rc;
}

int hlb_call_map(const char *runtime_dir, const char *daemon, const char *method,
                 hlb_map_t *args, const hlb_call_opts_t *opts, Hl__Reply **reply)
{
    if (!args)
        return hlb_call_raw(runtime_dir, daemon, method, NULL, NULL, 0, opts, reply);
    size_t len;
    const void *data = hlb_map_data(args, &len);
    return hlb_call_raw(runtime_dir, daemon, method, HLB_TYPE_MSGPACK, data, len, opts, reply);
}

ProtobufCMessage *hlb_reply_decode(const Hl__Reply *r, const ProtobufCMessageDescriptor *want)
{
    if (!r || !r->type || strcmp(r->type, want->name) != 0)
        return NULL;
    return protobuf_c_message_unpack(want, NULL, r->body.len, r->body.data);
}
