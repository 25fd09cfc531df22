/* Subscriber: SUB connected to the proxy's XPUB, with strict decoding and
 * sequence tracking. */
#include "hlbus/sub.h"

#include "hlbus/buf.h"
#include "hlbus/codec.h"
#include "hlbus/paths.h"
#include "hlbus/escape.h"
#include "hlbus/log.h"
#include "hlbus/seqtrack.h"
#include "hlbus/topics.h"

#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

struct hlb_sub {
    zsock_t *sock;
    hlb_seqtrack_t *seq;
    hlb_sub_stats_t stats;
    /* The last event handed out, valid until the next call, at no malloc or
     * free per message: the envelope is checked in place (hlb_envelope_view)
     * and its body stays in the received frame, held here; source and type
     * are copied out NUL-terminated into strs; a registered body is decoded
     * into dec; the topic is bounded by hlb_topic_valid. */
    Hl__Envelope env;
    zmq_msg_t frame;
    bool frame_held;
    hlb_buf_t strs;
    hlb_decoder_t *dec;
    char topic[HLB_MAX_TOPIC + 1];
    /* The last body type looked up, and what the registry said (it never
     * changes): a stream carries one type, and a compare beats a scan. */
    char type_name[64];
    size_t type_len;
    const ProtobufCMessageDescriptor *type_desc;
    /* A replay bundle being handed out, one [topic][envelope] pair a call. */
    zmq_msg_t *bundle;
    size_t bundle_n, bundle_next;
};

static const ProtobufCMessageDescriptor *lookup_type(hlb_sub_t *s, const char *type, size_t len)
{
    if (len == 0)
        return NULL;
    if (len == s->type_len && memcmp(type, s->type_name, len) == 0)
        return s->type_desc;
    const ProtobufCMessageDescriptor *d = hlb_type_lookup(type);
    if (len < sizeof s->type_name) {
        memcpy(s->type_name, type, len);
        s->type_len = len;
        s->type_desc = d;
    }
    return d;
}

static void bundle_free(hlb_sub_t *s)
{
    for (size_t i = s->bundle_next; i < s->bundle_n; i++)
        zmq_msg_close(&s->bundle[i]);
    free(s->bundle);
    s->bundle = NULL;
    s->bundle_n = s->bundle_next = 0;
}

static void release_event(hlb_sub_t *s)
{
    if (s->frame_held)
        zmq_msg_close(&s->frame);
    s->frame_held = false;
    if (s->dec)
        hlb_decoder_reset(s->dec);
}

hlb_sub_t *hlb_sub_new(const char *runtime_dir, const char *const *prefixes)
{
    hlb_sub_t *s = calloc(1, sizeof *s);
    char *ep = hlb_endpoint(runtime_dir, HLB_BUS_SUB);
    if (!s || !ep)
        goto fail;
    s->sock = zsock_new(ZMQ_SUB);
    s->seq = hlb_seqtrack_new();
    s->dec = hlb_decoder_new();
    if (!s->sock || !s->seq || !s->dec)
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
    bundle_free(s);
    zsock_destroy(&s->sock);
    hlb_seqtrack_destroy(&s->seq);
    hlb_decoder_destroy(&s->dec);
    hlb_buf_free(&s->strs);
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

/* Checks and hands out one [topic][envelope] pair; takes ENV_FRAME.
 * 1: EV is filled; 0: dropped (counted). */
static int take(hlb_sub_t *s, zmq_msg_t *topic_frame, zmq_msg_t *env_frame, bool replay,
                hlb_event_t *ev)
{
    const char *topic = zmq_msg_data(topic_frame);
    size_t tlen = zmq_msg_size(topic_frame);
    /* The body will point into the envelope frame: move it to where it
     * stays until the next call first (a small frame keeps its bytes inside
     * the zmq_msg_t, so pointers taken before a move would dangle). */
    zmq_msg_init(&s->frame);
    zmq_msg_move(&s->frame, env_frame);
    s->frame_held = true;
    hlb_envelope_view_t v;
    if (!hlb_topic_valid(topic, tlen) ||
        hlb_envelope_view(zmq_msg_data(&s->frame), zmq_msg_size(&s->frame), &v) < 0) {
        s->stats.malformed++;
        return 0;
    }
    hlb_buf_reset(&s->strs);
    hlb_buf_add(&s->strs, v.source, v.source_len);
    hlb_buf_add(&s->strs, "", 1); /* the NUL between the two */
    hlb_buf_add(&s->strs, v.type, v.type_len);
    Hl__Envelope *env = &s->env;
    hl__envelope__init(env);
    env->source = s->strs.data;
    env->type = s->strs.data + v.source_len + 1;
    env->epoch = v.epoch;
    env->seq = v.seq;
    env->ts_us = v.ts_us;
    env->sender_uid = v.sender_uid;
    env->sender_gid = v.sender_gid;
    env->sender_pid = v.sender_pid;
    env->body.data = (uint8_t *)v.body;
    env->body.len = v.body_len;
    const ProtobufCMessage *msg = NULL;
    const ProtobufCMessageDescriptor *desc = lookup_type(s, env->type, v.type_len);
    if (desc) {
        msg = hlb_decoder_body(s->dec, desc, v.body, v.body_len);
        if (!msg) { /* a registered type that does not decode: malformed */
            s->stats.malformed++;
            return 0;
        }
    }
    /* Replays go through the same tracking: per-topic streams make a replay
     * of the latest value either a duplicate or exactly the state to keep. */
    uint64_t missed = 0;
    memcpy(s->topic, topic, tlen);
    s->topic[tlen] = '\0';
    hlb_seq_verdict_t verdict_seq =
        hlb_seqtrack_see(s->seq, env->source, s->topic, env->epoch, env->seq, &missed);
    if (verdict_seq == HLB_SEQ_DUP || verdict_seq == HLB_SEQ_STALE) {
        s->stats.duplicates++;
        return 0;
    }
    s->stats.gaps += missed;
    s->stats.received++;
    ev->topic = s->topic;
    ev->env = env;
    ev->msg = msg;
    ev->replay = replay;
    return 1;
}

/* The next pair of a bundle being handed out; -EAGAIN when none is left. */
static int take_bundled(hlb_sub_t *s, hlb_event_t *ev)
{
    if (s->bundle_next + 1 >= s->bundle_n) {
        bundle_free(s);
        return -EAGAIN;
    }
    zmq_msg_t *t = &s->bundle[s->bundle_next++], *e = &s->bundle[s->bundle_next++];
    int rc = take(s, t, e, true, ev);
    zmq_msg_close(t);
    zmq_msg_close(e);
    return rc;
}

static bool frame_is(zmq_msg_t *m, const char *what)
{
    return zmq_msg_size(m) == strlen(what) && memcmp(zmq_msg_data(m), what, strlen(what)) == 0;
}

/* Reads all parts of one message: topic and envelope, a replay of one
 * (with the "lvc" mark), or a replay bundle; or drops it. 1: EV is filled;
 * 0: dropped (or an empty bundle); -EAGAIN: nothing there. */
static int read_message(hlb_sub_t *s, hlb_event_t *ev)
{
    void *sock = zsock_resolve(s->sock);
    /* what the last message left (an event handed out, or a drop) goes */
    release_event(s);
    if (s->bundle) {
        int rc = take_bundled(s, ev);
        return rc == -EAGAIN ? 0 : rc;
    }
    zmq_msg_t *parts = NULL;
    size_t nparts = 0, cap = 0;
    int more = 1, rc = 0;
    while (more) {
        if (nparts == cap) {
            size_t ncap = cap ? 2 * cap : 4;
            zmq_msg_t *np = realloc(parts, ncap * sizeof *np);
            if (!np) { /* out of memory: the rest of this message goes */
                while (more) {
                    zmq_msg_t m;
                    zmq_msg_init(&m);
                    if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0)
                        more = 0;
                    else
                        more = zmq_msg_more(&m);
                    zmq_msg_close(&m);
                }
                rc = -ENOMEM;
                break;
            }
            parts = np;
            cap = ncap;
        }
        zmq_msg_init(&parts[nparts]);
        if (zmq_msg_recv(&parts[nparts], sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&parts[nparts]);
            rc = errno == EAGAIN ? -EAGAIN : -errno;
            break;
        }
        more = zmq_msg_more(&parts[nparts]);
        nparts++;
    }
    if (rc < 0 && nparts == 0) {
        free(parts);
        return rc == -ENOMEM ? 0 : rc;
    }
    int verdict = 0;
    if (rc == 0 && nparts >= 2 && frame_is(&parts[1], HLB_REPLAY_BUNDLE_MARK) &&
        nparts % 2 == 0) {
        /* a bundle: pairs from the third frame on, handed out one a call */
        zmq_msg_close(&parts[0]);
        zmq_msg_close(&parts[1]);
        s->bundle = parts;
        s->bundle_n = nparts;
        s->bundle_next = 2;
        int r = take_bundled(s, ev);
        return r == -EAGAIN ? 0 : r;
    }
    bool replay = nparts == 3 && frame_is(&parts[2], HLB_REPLAY_MARK);
    if (rc < 0 || (nparts != 2 && !replay))
        s->stats.malformed++;
    else
        verdict = take(s, &parts[0], &parts[1], replay, ev);
    for (size_t i = 0; i < nparts; i++)
        zmq_msg_close(&parts[i]);
    free(parts);
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

bool hlb_sub_pending(const hlb_sub_t *s)
{
    return s->bundle && s->bundle_next + 1 < s->bundle_n;
}

hlb_sub_stats_t hlb_sub_stats(const hlb_sub_t *s)
{
    hlb_sub_stats_t st = s->stats;
    return st;
}

/* The uid USER stands for, looked up once per name (a daemon checks the
 * same one or two names on every event). */
static bool user_uid(const char *user, uid_t *uid)
{
    static __thread char name[64];
    static __thread uid_t cached;
    static __thread bool have;
    if (have && strcmp(name, user) == 0) {
        *uid = cached;
        return true;
    }
    struct passwd pw, *pwp = NULL;
    char buf[4096];
    if ((getpwnam_r(user, &pw, buf, sizeof buf, &pwp) != 0 || !pwp) &&
        (getpwnam_r("hl", &pw, buf, sizeof buf, &pwp) != 0 || !pwp))
        return false;
    if (strlen(user) < sizeof name) {
        strcpy(name, user);
        cached = pw.pw_uid;
        have = true;
    }
    *uid = pw.pw_uid;
    return true;
}

bool hlb_event_sender_is(const hlb_event_t *ev, const char *user)
{
    if (!ev || !ev->env || ev->env->sender_pid == 0)
        return false; /* not stamped: not from hl-bus */
    uid_t want;
    uid_t got = ev->env->sender_uid;
    /* root may be anyone; so may our own uid (a dev setup runs every daemon
     * as one user, and the bus lets it publish everything) */
    if (got == 0 || got == geteuid())
        return true;
    return user_uid(user, &want) && want == got;
}

/* The first part of a "<self>" family's suffix, the daemon it names. */
static bool self_named(const hlb_event_t *ev, const char *prefix)
{
    char name[64];
    const char *rest = ev->topic + strlen(prefix);
    size_t n = strcspn(rest, ".");
    if (n == 0 || n >= sizeof name)
        return false;
    memcpy(name, rest, n);
    name[n] = '\0';
    return hlb_event_sender_is(ev, name);
}

bool hlb_event_from_owner(const hlb_event_t *ev)
{
    const hlb_topic_family_t *fam = hlb_topic_family(ev->topic);
    if (!fam)
        return true; /* free-form: nobody owns it */
    bool ok = false;
    for (const hlb_topic_family_t *f = hlb_topic_families(); f->prefix && !ok; f++) {
        if (strcmp(f->prefix, fam->prefix) != 0)
            continue; /* a family two daemons publish on has a row each */
        ok = strcmp(f->owner, HLB_OWNER_SELF) == 0 ? self_named(ev, f->prefix)
                                                    : hlb_event_sender_is(ev, f->owner);
    }
    if (!ok) {
        static __thread uint64_t last_us;
        uint64_t now = hlb_mono_us();
        if (!last_us || now - last_us >= 1000000) {
            last_us = now;
            char shown[2 * HLB_MAX_TOPIC + 1];
            hlb_escape(ev->topic, strlen(ev->topic), shown, sizeof shown);
            hlb_warn("ignored %s: from uid %u (pid %u), not its owner%s", shown,
                     ev->env ? ev->env->sender_uid : 0, ev->env ? ev->env->sender_pid : 0,
                     ev->env && ev->env->sender_pid ? "" : " (not stamped by hl-bus)");
        }
    }
    return ok;
}
