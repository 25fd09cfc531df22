/* Subscriber: SUB connected to the proxy's XPUB, with strict decoding and
 * sequence tracking. */
#include "hlbus/sub.h"

#include "hlbus/codec.h"
#include "hlbus/paths.h"
#include "hlbus/seqtrack.h"

#include <errno.h>
#include <string.h>

struct hlb_sub {
    zsock_t *sock;
    hlb_seqtrack_t *seq;
    hlb_sub_stats_t stats;
    Hl__Envelope *env;     /* of the last event handed out */
    ProtobufCMessage *msg; /* its decoded body */
    char *topic;
};

static void release_event(hlb_sub_t *s)
{
    if (s->env)
        hl__envelope__free_unpacked(s->env, NULL);
    if (s->msg)
        protobuf_c_message_free_unpacked(s->msg, NULL);
    free(s->topic);
    s->env = NULL;
    s->msg = NULL;
    s->topic = NULL;
}

hlb_sub_t *hlb_sub_new(const char *runtime_dir, const char *const *prefixes)
{
    hlb_sub_t *s = calloc(1, sizeof *s);
    char *ep = hlb_endpoint(runtime_dir, HLB_BUS_SUB);
    if (!s || !ep)
        goto fail;
    s->sock = zsock_new(ZMQ_SUB);
    s->seq = hlb_seqtrack_new();
    if (!s->sock || !s->seq)
        goto fail;
    zsock_set_maxmsgsize(s->sock, HLB_MAX_MSG);
    zsock_set_rcvhwm(s->sock, 100000);
    if (zsock_connect(s->sock, "%s", ep) < 0)
        goto fail;
    if (!prefixes || !prefixes[0])
        zsock_set_subscribe(s->sock, "");
    else
        for (size_t i = 0; prefixes[i]; i++)
            zsock_set_subscribe(s->sock, prefixes[i]);
    free(ep);
    return s;
fail:
    free(ep);
    hlb_sub_destroy(&s);
    return NULL;
}

void hlb_sub_destroy(hlb_sub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlb_sub_t *s = *self_p;
    release_event(s);
    zsock_destroy(&s->sock);
    hlb_seqtrack_destroy(&s->seq);
    free(s);
    *self_p = NULL;
}

int hlb_sub_subscribe(hlb_sub_t *s, const char *prefix)
{
    zsock_set_subscribe(s->sock, prefix);
    return 0;
}

zsock_t *hlb_sub_sock(hlb_sub_t *s)
{
    return s->sock;
}

/* Reads all parts of one message: topic and envelope, or drops it. */
static int read_message(hlb_sub_t *s, hlb_event_t *ev)
{
    void *sock = zsock_resolve(s->sock);
    zmq_msg_t parts[3];
    int nparts = 0, more = 1, rc = 0;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            rc = errno == EAGAIN ? -EAGAIN : -errno;
            break;
        }
        more = zmq_msg_more(&m);
        if (nparts < 3)
            parts[nparts] = m;
        else
            zmq_msg_close(&m);
        nparts++;
    }
    if (rc < 0 && nparts == 0)
        return rc;
    int verdict = 0;
    bool replay = nparts == 3 && zmq_msg_size(&parts[2]) == strlen(HLB_REPLAY_MARK) &&
                  memcmp(zmq_msg_data(&parts[2]), HLB_REPLAY_MARK, strlen(HLB_REPLAY_MARK)) == 0;
    if (nparts != 2 && !replay) {
        s->stats.malformed++;
        goto out;
    }
    const char *topic = zmq_msg_data(&parts[0]);
    size_t tlen = zmq_msg_size(&parts[0]);
    Hl__Envelope *env = hlb_topic_valid(topic, tlen)
                            ? hlb_envelope_decode(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]))
                            : NULL;
    if (!env) {
        s->stats.malformed++;
        goto out;
    }
    ProtobufCMessage *msg = NULL;
    if (env->type && *env->type && hlb_type_lookup(env->type)) {
        msg = hlb_body_decode(env->type, env->body.data, env->body.len);
        if (!msg) { /* a registered type that does not decode: malformed */
            hl__envelope__free_unpacked(env, NULL);
            s->stats.malformed++;
            goto out;
        }
    }
    /* Replays go through the same tracking: per-topic streams make a replay
     * of the latest value either a duplicate or exactly the state to keep. */
    uint64_t missed = 0;
    char *tcopy = strndup(topic, tlen);
    hlb_seq_verdict_t v =
        hlb_seqtrack_see(s->seq, env->source, tcopy, env->epoch, env->seq, &missed);
    if (v == HLB_SEQ_DUP || v == HLB_SEQ_STALE) {
        free(tcopy);
        s->stats.duplicates++;
        hl__envelope__free_unpacked(env, NULL);
        if (msg)
            protobuf_c_message_free_unpacked(msg, NULL);
        goto out;
    }
    s->stats.gaps += missed;
    s->stats.received++;
    s->env = env;
    s->msg = msg;
    s->topic = tcopy;
    ev->topic = s->topic;
    ev->env = env;
    ev->msg = msg;
    ev->replay = replay;
    verdict = 1;
out:
    for (int i = 0; i < nparts && i < 3; i++)
        zmq_msg_close(&parts[i]);
    return verdict;
}

int hlb_sub_recv(hlb_sub_t *s, hlb_event_t *ev, int timeout_ms)
{
    release_event(s);
    int64_t deadline = timeout_ms > 0 ? zclock_mono() + timeout_ms : 0;
    for (;;) {
        int rc = read_message(s, ev);
        if (rc != -EAGAIN && rc != 0)
            return rc;
        if (rc == 0) /* dropped: try the next one */
            continue;
        int64_t left = timeout_ms < 0 ? -1 : timeout_ms == 0 ? 0 : deadline - zclock_mono();
        if (timeout_ms >= 0 && left <= 0)
            return -EAGAIN;
        zmq_pollitem_t pi = {.socket = zsock_resolve(s->sock), .events = ZMQ_POLLIN};
        int n = zmq_poll(&pi, 1, (long)left);
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EAGAIN;
    }
}

hlb_sub_stats_t hlb_sub_stats(const hlb_sub_t *s)
{
    hlb_sub_stats_t st = s->stats;
    return st;
}
