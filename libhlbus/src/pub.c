/* Publisher: a PUSH socket connected to the proxy. See pub.h for why PUSH. */
#include "hlbus/pub.h"

#include "hlbus/codec.h"
#include "hlbus/paths.h"
#include "hlbus/topics.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <czmq.h>

struct hlb_pub {
    zsock_t *sock;
    char *source;
    uint64_t epoch;
    zhashx_t *seqs; /* topic → last sequence number (uint64_t *) */
    /* The last topic sent and its counter: streams come in bursts, and a
     * string compare costs less than hashing the topic again. */
    char last_topic[HLB_MAX_TOPIC + 1]; /* topics are bounded by hlb_topic_valid */
    uint64_t *last_seq;
    uint64_t sent;
    uint64_t dropped;
    int linger_ms;
    /* hlb_pub_keep_state: the last envelope sent on each state topic
     * (topic -> kept_t), resent as it was when hl-bus restarts. */
    zhashx_t *kept;
};

typedef struct {
    size_t len;
    uint8_t data[]; /* the packed envelope */
} kept_t;

/* A bound on kept topics, so that a daemon publishing on ever new state
 * topics cannot grow without end: past it, new topics are not kept. */
#define MAX_KEPT 4096

/* Epochs must differ between two incarnations of one daemon even when they
 * start within the same microsecond of wall clock (a crash loop): take the
 * wall clock, and never hand out the same value twice within a process. */
static uint64_t new_epoch(void)
{
    static uint64_t last;
    uint64_t e = hlb_now_us();
    if (e <= last)
        e = last + 1;
    last = e;
    return e;
}

/* libzmq tells a pipe's writer how far the reader got only every HWM/2
 * messages, so a queue of SNDHWM N refuses a burst as soon as the messages
 * sent earlier (long delivered, not yet acknowledged) plus the burst reach N:
 * after 1000 earlier messages, a burst of 10000 into an idle bound of 10000
 * lost 1000. Twice the bound makes the promise true: a burst of BOUND is
 * always taken, and at most twice that is ever held. */
static void set_bound(zsock_t *sock, int messages)
{
    zsock_set_sndhwm(sock, messages <= 0 ? 0 : messages > INT_MAX / 2 ? INT_MAX : messages * 2);
}

static void free_seq(void **p)
{
    free(*p);
    *p = NULL;
}

hlb_pub_t *hlb_pub_new(const char *runtime_dir, const char *source)
{
    if (!source || !*source)
        return NULL;
    hlb_pub_t *p = calloc(1, sizeof *p);
    char *ep = hlb_endpoint(runtime_dir, HLB_BUS_PUB);
    if (!p || !ep)
        goto fail;
    p->source = strdup(source);
    p->sock = zsock_new(ZMQ_PUSH);
    p->seqs = zhashx_new();
    if (p->seqs)
        zhashx_set_destructor(p->seqs, free_seq);
    if (!p->source || !p->sock || !p->seqs)
        goto fail;
    /* Nobody listening yet is fine (the queue waits for the proxy), but a
     * socket we may not connect to would lose everything silently. */
    char *path = hlb_path(runtime_dir, HLB_BUS_PUB);
    int probe = path ? hlb_socket_probe(path) : -ENOMEM;
    free(path);
    if (probe == -EACCES || probe == -EPERM) {
        free(ep);
        hlb_pub_destroy(&p);
        errno = EACCES;
        return NULL;
    }
    p->linger_ms = 2000;
    set_bound(p->sock, 10000);
    zsock_set_linger(p->sock, p->linger_ms);
    if (zsock_connect(p->sock, "%s", ep) < 0)
        goto fail;
    p->epoch = new_epoch();
    free(ep);
    return p;
fail:
    free(ep);
    hlb_pub_destroy(&p);
    return NULL;
}

void hlb_pub_destroy(hlb_pub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlb_pub_t *p = *self_p;
    /* zmq_close keeps the socket alive in the context until its queue has
     * drained or the linger ran out; czmq's atexit shutdown waits for that. */
    zsock_destroy(&p->sock);
    zhashx_destroy(&p->seqs);
    zhashx_destroy(&p->kept);
    free(p->source);
    free(p);
    *self_p = NULL;
}

static void keep(hlb_pub_t *p, const char *topic, const void *env, size_t n)
{
    kept_t *k = malloc(sizeof *k + n);
    if (!k)
        return;
    k->len = n;
    memcpy(k->data, env, n);
    if (zhashx_lookup(p->kept, topic) || zhashx_size(p->kept) < MAX_KEPT)
        zhashx_update(p->kept, topic, k); /* the destructor frees the old one */
    else
        free(k);
}

static void free_kept(void **p)
{
    free(*p);
    *p = NULL;
}

void hlb_pub_keep_state(hlb_pub_t *p)
{
    if (p->kept)
        return;
    p->kept = zhashx_new();
    if (p->kept)
        zhashx_set_destructor(p->kept, free_kept);
}

/* Sends the kept envelopes unchanged: same epoch and sequence number, so a
 * subscriber that has them drops them as duplicates, and one that missed
 * them (or a new proxy's cache) takes them. */
size_t hlb_pub_republish(hlb_pub_t *p)
{
    size_t n = 0;
    void *s = zsock_resolve(p->sock);
    for (kept_t *k = p->kept ? zhashx_first(p->kept) : NULL; k; k = zhashx_next(p->kept)) {
        const char *topic = zhashx_cursor(p->kept);
        zmq_msg_t t, e;
        zmq_msg_init_size(&t, strlen(topic));
        memcpy(zmq_msg_data(&t), topic, strlen(topic));
        zmq_msg_init_size(&e, k->len);
        memcpy(zmq_msg_data(&e), k->data, k->len);
        if (zmq_msg_send(&t, s, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&t);
            zmq_msg_close(&e);
            p->dropped++;
            continue;
        }
        zmq_msg_send(&e, s, ZMQ_DONTWAIT);
        n++;
    }
    return n;
}

size_t hlb_pub_kept(const hlb_pub_t *p)
{
    return p->kept ? zhashx_size(p->kept) : 0;
}

int hlb_pub_send_raw(hlb_pub_t *p, const char *topic, const char *type, const void *body,
                     size_t len)
{
    size_t tlen = topic ? strlen(topic) : 0;
    if (!hlb_topic_valid(topic, tlen) || len > HLB_MAX_MSG - 512)
        return -EINVAL;
    uint64_t *seq = p->last_seq && strcmp(p->last_topic, topic) == 0 ? p->last_seq : NULL;
    if (!seq) {
        seq = zhashx_lookup(p->seqs, topic);
        if (!seq) {
            seq = calloc(1, sizeof *seq);
            if (!seq)
                return -ENOMEM;
            zhashx_insert(p->seqs, topic, seq);
        }
        memcpy(p->last_topic, topic, tlen + 1);
        p->last_seq = seq;
    }
    Hl__Envelope env = HL__ENVELOPE__INIT;
    env.source = p->source;
    env.epoch = p->epoch;
    env.seq = ++*seq; /* used even if the send fails: the drop shows as a gap */
    env.ts_us = hlb_now_us();
    env.type = (char *)(type ? type : "");
    env.body.data = (uint8_t *)body;
    env.body.len = len;

    zmq_msg_t t, e;
    size_t n = hlb_envelope_size(&env);
    if (zmq_msg_init_size(&e, n) < 0)
        return -ENOMEM;
    hlb_envelope_pack(&env, zmq_msg_data(&e));
    if (p->kept && hlb_topic_is_state(topic))
        keep(p, topic, zmq_msg_data(&e), n); /* even when dropped: a republish delivers it */
    zmq_msg_init_size(&t, tlen);
    memcpy(zmq_msg_data(&t), topic, tlen);
    void *s = zsock_resolve(p->sock);
    if (zmq_msg_send(&t, s, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int err = errno;
        zmq_msg_close(&t);
        zmq_msg_close(&e);
        p->dropped++;
        return err == EAGAIN ? -EAGAIN : -err;
    }
    /* A multipart message is queued atomically once its first part is. */
    zmq_msg_send(&e, s, ZMQ_DONTWAIT);
    p->sent++;
    return 0;
}

int hlb_pub_send(hlb_pub_t *p, const char *topic, const ProtobufCMessage *body)
{
    size_t n = protobuf_c_message_get_packed_size(body);
    if (n > HLB_MAX_MSG)
        return -EINVAL;
    uint8_t stackbuf[1024];
    uint8_t *buf = n <= sizeof stackbuf ? stackbuf : malloc(n);
    if (!buf)
        return -ENOMEM;
    protobuf_c_message_pack(body, buf);
    int rc = hlb_pub_send_raw(p, topic, body->descriptor->name, buf, n);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

int hlb_pub_send_map(hlb_pub_t *p, const char *topic, hlb_map_t *map)
{
    size_t len;
    const void *data = hlb_map_data(map, &len);
    return hlb_pub_send_raw(p, topic, HLB_TYPE_MSGPACK, data, len);
}

void hlb_pub_set_linger(hlb_pub_t *p, int ms)
{
    p->linger_ms = ms;
    zsock_set_linger(p->sock, ms);
}

void hlb_pub_set_hwm(hlb_pub_t *p, int messages)
{
    set_bound(p->sock, messages);
}

uint64_t hlb_pub_epoch(const hlb_pub_t *p) { return p->epoch; }
uint64_t hlb_pub_sent(const hlb_pub_t *p) { return p->sent; }
uint64_t hlb_pub_dropped(const hlb_pub_t *p) { return p->dropped; }
