/* Request/reply client: Lazy Pirate over a DEALER speaking the REQ envelope
 * ([empty delimiter][request]), so plain REQ sockets can call servers too. */
#include "hlbus/client.h"

#include "hlbus/codec.h"
#include "hlbus/paths.h"

#include "codec_private.h"

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
        /* [empty delimiter][hl.Reply], read as plain frames: czmq's message
         * objects cost more allocations than the rest of a call */
        zmq_msg_t f[2], extra;
        zmq_msg_init(&f[0]);
        zmq_msg_init(&f[1]);
        int nf = 0;
        bool more = true, too_many = false;
        while (more) {
            zmq_msg_t *m = nf < 2 ? &f[nf] : &extra;
            if (m == &extra)
                zmq_msg_init(&extra);
            if (zmq_msg_recv(m, s, ZMQ_DONTWAIT) < 0) {
                if (m == &extra)
                    zmq_msg_close(&extra);
                break;
            }
            more = zmq_msg_more(m);
            if (m == &extra) {
                too_many = true;
                zmq_msg_close(&extra);
            } else {
                nf++;
            }
        }
        bool ok = nf == 2 && !too_many && zmq_msg_size(&f[0]) == 0;
        Hl__Reply *r = ok ? hl__reply__unpack(NULL, zmq_msg_size(&f[1]), zmq_msg_data(&f[1])) : NULL;
        if (r && !hlb__proto_strict(&r->base)) {
            hl__reply__free_unpacked(r, NULL);
            r = NULL;
        }
        zmq_msg_close(&f[0]);
        zmq_msg_close(&f[1]);
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
        zmq_msg_t f;
        if (zmq_msg_init_size(&f, n) < 0)
            return -ENOMEM;
        hl__request__pack(&req, zmq_msg_data(&f));
        void *s = zsock_resolve(c->sock);
        if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0 || zmq_msg_send(&f, s, 0) < 0) {
            zmq_msg_close(&f);
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
    ProtobufCMessage *m = protobuf_c_message_unpack(want, NULL, r->body.len, r->body.data);
    if (m && !hlb__proto_strict(m)) {
        protobuf_c_message_free_unpacked(m, NULL);
        return NULL;
    }
    return m;
}
