/* The bus proxy. */
#include "proxy.h"

#include "lvc.h"
#include "subbudget.h"
#include "topicstats.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#define BATCH 1024 /* messages per wake-up, so subscriptions and ctl are served too */
/* A draft option of libzmq 4.3 (zmq_draft.h), in Debian's build: with
 * ZMQ_XPUB_MANUAL, the first message sent after a subscription goes to
 * that subscriber alone. That is how a replay reaches only the new one. */
#ifndef ZMQ_XPUB_MANUAL_LAST_VALUE
#define ZMQ_XPUB_MANUAL_LAST_VALUE 98
#endif
#define STAMP_MAX 18 /* three one-byte tags and three 32-bit varints */
#define DENIED_LOG_US 1000000 /* at most one "denied" line a second */

struct proxy {
    zsock_t *pull;
    zsock_t *xpub;
    lvc_t *lvc;
    topicstats_t *stats;
    hlb_seqtrack_t *seq;
    hlb_buf_t source; /* the current message's source, NUL-terminated */
    uint64_t messages, bytes, malformed, replays;
    int64_t subscriptions;
    acl_t *acl;
    uint64_t denied, denied_unlogged, denied_logged_us;
    proxy_limits_t lim;
    bool manual;           /* we add subscriptions ourselves, replays go to one */
    subbudget_t *budget;   /* subscriptions per connection, and in all */
    uint64_t subs_refused;
    uint64_t subs_stale; /* subscriptions of connections already gone, ignored */
    uint64_t started_us;
    bool activated;
};

/* Takes the listening fds systemd passed, by name or order. */
static int adopt_fds(int *pub_fd, int *sub_fd)
{
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names);
    *pub_fd = *sub_fd = -1;
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        const char *name = names ? names[i] : NULL;
        if (name && strcmp(name, "pub") == 0)
            *pub_fd = fd;
        else if (name && strcmp(name, "sub") == 0)
            *sub_fd = fd;
        else if (i == 0 && *pub_fd < 0)
            *pub_fd = fd;
        else if (i == 1 && *sub_fd < 0)
            *sub_fd = fd;
    }
    if (names) {
        for (int i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    return n;
}

static int bind_endpoint(zsock_t *s, const char *runtime_dir, const char *rel, int fd,
                         mode_t mode)
{
    char *ep = hlb_endpoint(runtime_dir, rel);
    char *path = hlb_path(runtime_dir, rel);
    int rc = -ENOMEM;
    if (ep && path) {
        if (fd >= 0)
            zsock_set_use_fd(s, fd); /* bind adopts the socket instead of creating one */
        rc = zsock_bind(s, "%s", ep) < 0 ? -errno : 0;
        if (rc == 0 && fd < 0)
            chmod(path, mode);
    }
    free(ep);
    free(path);
    return rc;
}

proxy_t *proxy_new(const char *runtime_dir, const proxy_opts_t *opts)
{
    proxy_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pull = zsock_new(ZMQ_PULL);
    p->xpub = zsock_new(ZMQ_XPUB);
    p->lvc = lvc_new(opts->lvc_prefixes);
    p->stats = topicstats_new(opts->stats_depth);
    p->seq = hlb_seqtrack_new();
    p->started_us = hlb_now_us();
    p->budget = subbudget_new();
    proxy_set_policy(p, opts->acl, &opts->limits);
    if (!p->pull || !p->xpub || !p->lvc || !p->stats || !p->seq || !p->budget)
        goto fail;
    /* No frame larger than the bus allows gets as far as our memory. */
    zsock_set_maxmsgsize(p->pull, HLB_MAX_MSG);
    zsock_set_maxmsgsize(p->xpub, HLB_MAX_MSG);
    zsock_set_rcvhwm(p->pull, 100000);
    zsock_set_sndhwm(p->xpub, opts->hwm > 0 ? opts->hwm : 100000);
    /* Every subscription, even a repeated one, reaches us: each new
     * subscriber gets its replay. Unsubscriptions too, for the count. */
    zsock_set_xpub_verbose(p->xpub, 1);
    zsock_set_xpub_verboser(p->xpub, 1);
    /* Manual: a subscription counts only once we add it, within bounds. */
    int one = 1;
    void *xs = zsock_resolve(p->xpub);
    p->manual = zmq_setsockopt(xs, ZMQ_XPUB_MANUAL_LAST_VALUE, &one, sizeof one) == 0 &&
                zmq_setsockopt(xs, ZMQ_XPUB_MANUAL, &one, sizeof one) == 0;
    if (p->manual) {
        /* Nothing but subscriptions comes in on bus/sub: a longer message
         * is no subscription, and libzmq drops a connection that sends one
         * before its trie holds it. A short inbound queue bounds what one
         * connection has in flight before we have judged it. */
        zsock_set_maxmsgsize(p->xpub, 1 + HLB_MAX_TOPIC);
        zsock_set_rcvhwm(p->xpub, 100);
    } else {
        hlb_warn("this libzmq lacks ZMQ_XPUB_MANUAL_LAST_VALUE: cache replays go to every "
                 "subscriber and subscriptions are not bounded");
    }
    zsock_set_linger(p->xpub, 0);
    zsock_set_linger(p->pull, 0);

    char *busdir = hlb_path(runtime_dir, "bus");
    if (busdir)
        hlb_mkdir_p(busdir, 0755);
    free(busdir);
    int pub_fd, sub_fd;
    p->activated = adopt_fds(&pub_fd, &sub_fd) > 0;
    /* Both 0660: only the group may publish or watch (under systemd the
     * socket units set the groups: hl publishes, hl-watch watches). A bus
     * open to every local user could be exhausted by any of them. */
    if (bind_endpoint(p->pull, runtime_dir, HLB_BUS_PUB, pub_fd, 0660) < 0 ||
        bind_endpoint(p->xpub, runtime_dir, HLB_BUS_SUB, sub_fd, 0660) < 0)
        goto fail;
    return p;
fail:
    proxy_destroy(&p);
    return NULL;
}

void proxy_destroy(proxy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    proxy_t *p = *self_p;
    zsock_destroy(&p->pull);
    zsock_destroy(&p->xpub);
    lvc_destroy(&p->lvc);
    topicstats_destroy(&p->stats);
    hlb_seqtrack_destroy(&p->seq);
    hlb_buf_free(&p->source);
    subbudget_destroy(&p->budget);
    free(p);
    *self_p = NULL;
}

bool proxy_socket_activated(const proxy_t *p)
{
    return p->activated;
}

int proxy_set_lvc_prefixes(proxy_t *p, const char *const *prefixes)
{
    lvc_t *fresh = lvc_new(prefixes);
    if (!fresh)
        return -ENOMEM;
    lvc_destroy(&p->lvc); /* topics no longer cached lose their entries */
    p->lvc = fresh;
    return 0;
}

void proxy_set_policy(proxy_t *p, acl_t *acl, const proxy_limits_t *limits)
{
    p->acl = acl;
    p->lim = *limits;
    if (p->lim.sub_len <= 0 || p->lim.sub_len > HLB_MAX_TOPIC)
        p->lim.sub_len = HLB_MAX_TOPIC;
    if (p->lim.subs_per_conn <= 0)
        p->lim.subs_per_conn = 256;
    if (p->lim.subs_bytes <= 0)
        p->lim.subs_bytes = 1 << 20;
}

void proxy_set_stats_depth(proxy_t *p, int depth)
{
    topicstats_set_depth(p->stats, depth);
}

/* Reads the rest of a multipart message and throws it away. */
static int drain_parts(void *sock)
{
    int parts = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_more(&m) || parts == 0) {
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0)
            break;
        parts++;
        if (!zmq_msg_more(&m))
            break;
    }
    zmq_msg_close(&m);
    return parts;
}

/* Counts a message the ACL refused, and says so in the log, at most once a
 * second (a flood of forgeries must not flood the journal too). */
static void deny(proxy_t *p, const char *topic, bool cred, uid_t uid, pid_t pid)
{
    p->denied++;
    p->denied_unlogged++;
    uint64_t now = hlb_mono_us();
    if (now - p->denied_logged_us < DENIED_LOG_US && p->denied_logged_us)
        return;
    char shown[2 * HLB_MAX_TOPIC + 1];
    hlb_escape(topic, strlen(topic), shown, sizeof shown);
    if (cred)
        hlb_warn("denied: uid %ld (pid %ld) may not publish %s (%" PRIu64 " denied since the "
                 "last line)", (long)uid, (long)pid, shown, p->denied_unlogged);
    else
        hlb_warn("denied: a publisher without credentials may not publish %s", shown);
    p->denied_unlogged = 0;
    p->denied_logged_us = now;
}

static uint8_t *put_varint(uint8_t *q, uint32_t v)
{
    while (v >= 0x80) {
        *q++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *q++ = (uint8_t)v;
    return q;
}

static size_t varint_len(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Appends sender_uid (7), sender_gid (8), sender_pid (9) to ENV, replacing
 * it. Protobuf keeps the last of a repeated scalar: a publisher's own
 * values for them lose. -1 when the result would be over HLB_MAX_MSG. */
static int stamp(zmq_msg_t *env, uint32_t uid, uint32_t gid, uint32_t pid)
{
    size_t n = zmq_msg_size(env);
    size_t add = 3 + varint_len(uid) + varint_len(gid) + varint_len(pid);
    if (n + add > HLB_MAX_MSG)
        return -1;
    zmq_msg_t out;
    if (zmq_msg_init_size(&out, n + add) < 0)
        return -1;
    uint8_t *q = zmq_msg_data(&out);
    memcpy(q, zmq_msg_data(env), n);
    q += n;
    *q++ = 7 << 3;
    q = put_varint(q, uid);
    *q++ = 8 << 3;
    q = put_varint(q, gid);
    *q++ = 9 << 3;
    put_varint(q, pid);
    zmq_msg_close(env);
    zmq_msg_init(env);
    zmq_msg_move(env, &out);
    return 0;
}

/* Forwards one message from publishers: [topic][envelope], checked. */
static int forward_one(proxy_t *p, void *pull, void *xpub)
{
    zmq_msg_t topic, env;
    zmq_msg_init(&topic);
    if (zmq_msg_recv(&topic, pull, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&topic);
        return -1;
    }
    bool ok = zmq_msg_more(&topic);
    zmq_msg_init(&env);
    if (ok) {
        zmq_msg_recv(&env, pull, ZMQ_DONTWAIT);
        if (zmq_msg_more(&env)) { /* more than two parts */
            drain_parts(pull);
            ok = false;
        }
    }
    const char *t = zmq_msg_data(&topic);
    size_t tlen = zmq_msg_size(&topic);
    /* Checked in place: as strict as hlb_envelope_decode, without building
     * (and freeing) a decoded copy of every message. */
    hlb_envelope_view_t e;
    if (!ok || !hlb_topic_valid(t, tlen) ||
        hlb_envelope_view(zmq_msg_data(&env), zmq_msg_size(&env), &e) < 0) {
        p->malformed++;
        zmq_msg_close(&topic);
        zmq_msg_close(&env);
        return 0;
    }
    char tbuf[HLB_MAX_TOPIC + 1];
    memcpy(tbuf, t, tlen);
    tbuf[tlen] = '\0';
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    pid_t pid = 0;
    bool cred = hlb_peer_cred(&topic, &uid, &gid, &pid);
    if (p->acl && !acl_may_publish(p->acl, t, tlen, uid, gid)) {
        deny(p, tbuf, cred, uid, pid);
        zmq_msg_close(&topic);
        zmq_msg_close(&env);
        return 0;
    }
    /* The view E points into ENV, which stamp() replaces (and frees): copy
     * what is needed of it first. */
    hlb_buf_reset(&p->source);
    hlb_buf_add(&p->source, e.source, e.source_len);
    /* Who sent it, after whatever it says itself: the last field wins. */
    if (stamp(&env, cred ? uid : 0, cred ? gid : 0, cred ? pid : 0) < 0) {
        p->malformed++; /* no room left for the stamp under HLB_MAX_MSG */
        zmq_msg_close(&topic);
        zmq_msg_close(&env);
        return 0;
    }
    uint64_t missed;
    hlb_seqtrack_see(p->seq, p->source.data, tbuf, e.epoch, e.seq, &missed);

    size_t bytes = zmq_msg_size(&env);
    p->messages++;
    p->bytes += bytes;
    topicstats_count(p->stats, t, tlen, bytes);
    if (lvc_is_state_topic(p->lvc, t, tlen))
        lvc_store(p->lvc, t, tlen, &env);
    /* XPUB never blocks: past a subscriber's HWM it drops for that
     * subscriber alone, who then counts the gap. */
    if (zmq_msg_send(&topic, xpub, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&topic);
        zmq_msg_close(&env);
        return 0;
    }
    if (zmq_msg_send(&env, xpub, ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&env);
    return 0;
}

static int on_pull(zloop_t *loop, zsock_t *sock, void *arg)
{
    proxy_t *p = arg;
    void *pull = zsock_resolve(p->pull), *xpub = zsock_resolve(p->xpub);
    for (int i = 0; i < BATCH; i++)
        if (forward_one(p, pull, xpub) < 0)
            break;
    return 0;
}

typedef struct {
    proxy_t *p;
    void *xpub;
    zmq_msg_t pending; /* the previous frame: sent with SNDMORE once the next exists */
    bool have_pending;
    bool failed;
} replay_ctx_t;

static void bundle_frame(replay_ctx_t *c, const void *data, size_t n, zmq_msg_t *share)
{
    if (c->have_pending && !c->failed &&
        zmq_msg_send(&c->pending, c->xpub, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        c->failed = true; /* past the subscriber's HWM: it counts a gap */
        zmq_msg_close(&c->pending);
    }
    if (c->failed) {
        c->have_pending = false;
        return;
    }
    zmq_msg_init(&c->pending);
    if (share) {
        zmq_msg_copy(&c->pending, share); /* a reference, not a byte copy */
    } else {
        zmq_msg_close(&c->pending);
        zmq_msg_init_size(&c->pending, n);
        if (n)
            memcpy(zmq_msg_data(&c->pending), data, n);
    }
    c->have_pending = true;
}

static void bundle_entry(const char *topic, zmq_msg_t *env, void *arg)
{
    replay_ctx_t *c = arg;
    bundle_frame(c, topic, strlen(topic), NULL);
    bundle_frame(c, NULL, 0, env);
    if (!c->failed)
        c->p->replays++;
}

/* Sends the cached topics under PREFIX as one message, [PREFIX]["lvc-bundle"]
 * then topic and envelope pairs: ZMQ_XPUB_MANUAL_LAST_VALUE hands the first
 * message after a subscription to its subscriber alone, and a bundle makes
 * the whole replay that one message. Also sent empty: it is what ends the
 * "to the last subscriber only" state, which would otherwise catch the next
 * live message. */
static void send_bundle(proxy_t *p, void *xpub, const char *prefix, size_t len, bool with_cache)
{
    replay_ctx_t c = {.p = p, .xpub = xpub};
    bundle_frame(&c, prefix, len, NULL);
    bundle_frame(&c, HLB_REPLAY_BUNDLE_MARK, strlen(HLB_REPLAY_BUNDLE_MARK), NULL);
    if (with_cache)
        lvc_replay(p->lvc, prefix, len, bundle_entry, &c);
    if (c.have_pending && zmq_msg_send(&c.pending, xpub, ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&c.pending);
}

/* Without the manual mode: the old way, each cached topic on its own
 * (every subscriber of the prefix gets it too, and drops it as a duplicate). */
static void send_replay(const char *topic, zmq_msg_t *env, void *arg)
{
    replay_ctx_t *c = arg;
    zmq_msg_t t, e, mark;
    size_t tlen = strlen(topic);
    zmq_msg_init_size(&t, tlen);
    memcpy(zmq_msg_data(&t), topic, tlen);
    zmq_msg_init(&e);
    zmq_msg_copy(&e, env);
    zmq_msg_init_size(&mark, strlen(HLB_REPLAY_MARK));
    memcpy(zmq_msg_data(&mark), HLB_REPLAY_MARK, strlen(HLB_REPLAY_MARK));
    if (zmq_msg_send(&t, c->xpub, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&t);
        zmq_msg_close(&e);
        zmq_msg_close(&mark);
        return;
    }
    zmq_msg_send(&e, c->xpub, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (zmq_msg_send(&mark, c->xpub, ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&mark);
    c->p->replays++;
}

/* Ends the connection a subscription came on (FD, from ZMQ_SRCFD): libzmq
 * holds what it asked for until it goes. shutdown(), not close(): the fd
 * stays libzmq's, which sees the end and cleans up. */
static void drop_connection(int fd)
{
    struct stat sb;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode))
        shutdown(fd, SHUT_RDWR);
}

/* Says why a subscription was refused, at most once a second. */
static void refuse_log(proxy_t *p, zmq_msg_t *m, const char *why)
{
    static uint64_t last_us;
    uint64_t now = hlb_mono_us();
    if (last_us && now - last_us < DENIED_LOG_US)
        return;
    last_us = now;
    uid_t uid = 0;
    gid_t gid;
    pid_t pid = 0;
    hlb_peer_cred(m, &uid, &gid, &pid);
    hlb_warn("subscriber uid %ld (pid %ld) dropped: %s (%" PRIu64 " refused so far)", (long)uid,
             (long)pid, why, p->subs_refused);
}

/* Whether a subscription still comes from the connection that holds FD.
 * libzmq closes a dropped connection's fd in its I/O thread while what that
 * peer sent is still queued for us (a burst larger than one wake-up reads),
 * and the next connection accepted gets the same number: its subscriptions,
 * read with that number, would be counted on the newcomer and get it
 * dropped, an innocent subscriber losing its connection and what was
 * published until it was back (security_sub_drop_stale). The credentials
 * libzmq took when the message's own connection was accepted (Peer-Address)
 * must be those of the socket FD is now. A process that reconnects gets its
 * own pid back: the same peer, counted as before. */
static bool same_connection(zmq_msg_t *m, int fd)
{
    uid_t uid;
    gid_t gid;
    pid_t pid;
    if (!hlb_peer_cred(m, &uid, &gid, &pid))
        return true; /* no credentials to compare (not ipc): as before */
    struct ucred uc;
    socklen_t len = sizeof uc;
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
        return false;
    return uc.pid == pid && uc.uid == uid;
}

/* A subscription in manual mode: added only within the bounds. */
static void on_subscribe(proxy_t *p, void *xpub, zmq_msg_t *m, const char *prefix, size_t len)
{
    int fd = zmq_msg_get(m, ZMQ_SRCFD);
    if (!same_connection(m, fd)) {
        /* Its connection is gone: nothing to add, nobody to drop. Not added
         * on libzmq's side either, where the "last subscriber" may be a pipe
         * already freed (libzmq 4.3.4; fixed upstream in 4.3.5, 2df7ab6a). */
        p->subs_stale++;
        send_bundle(p, xpub, prefix, len, false); /* ends the last-subscriber state */
        return;
    }
    sb_verdict_t v = (int)len > p->lim.sub_len
                         ? SB_TOO_MANY
                         : subbudget_add(p->budget, fd, len, p->lim.subs_per_conn,
                                         p->lim.subs_bytes);
    if (v == SB_UNKNOWN) /* no connection to count it on (gone already): nothing to add */
        v = SB_NO_ROOM;
    if (v != SB_OK) {
        p->subs_refused++;
        refuse_log(p, m,
                   (int)len > p->lim.sub_len ? "a subscription over max_subscription_length"
                   : v == SB_TOO_MANY        ? "more than max_subscriptions_per_connection"
                                             : "max_subscription_bytes reached");
        drop_connection(fd);
        send_bundle(p, xpub, prefix, len, false); /* ends the last-subscriber state */
        return;
    }
    zmq_setsockopt(xpub, ZMQ_SUBSCRIBE, prefix, len);
    send_bundle(p, xpub, prefix, len, true);
}

static void on_unsubscribe(proxy_t *p, void *xpub, zmq_msg_t *m, const char *prefix, size_t len)
{
    int fd = zmq_msg_get(m, ZMQ_SRCFD);
    if (fd < 0) /* a connection that went: libzmq has dropped its subscriptions */
        return;
    /* a gone connection's: the fd's budget is someone else's now */
    if (same_connection(m, fd))
        subbudget_remove(p->budget, fd, len);
    zmq_setsockopt(xpub, ZMQ_UNSUBSCRIBE, prefix, len);
    send_bundle(p, xpub, prefix, len, false);
}

/* Subscriptions from subscribers: "\x01prefix" or "\x00prefix". */
static int on_xpub(zloop_t *loop, zsock_t *sock, void *arg)
{
    proxy_t *p = arg;
    void *xpub = zsock_resolve(p->xpub);
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, xpub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        const uint8_t *d = zmq_msg_data(&m);
        size_t n = zmq_msg_size(&m);
        bool more = zmq_msg_more(&m);
        if (more || n == 0 || d[0] > 1) {
            p->malformed++; /* not a subscription: nothing else may come this way */
            if (more)
                drain_parts(xpub);
            /* libzmq took a first frame that starts like a subscription
             * ("\x01...", "\x00...") for one and made its sender the
             * "last subscriber", who would get the next live message alone
             * (found by fuzz_proxy): end that state with an empty bundle. */
            if (p->manual)
                send_bundle(p, xpub, "", 0, false);
        } else if (p->manual && d[0] == 1) {
            on_subscribe(p, xpub, &m, (const char *)d + 1, n - 1);
        } else if (p->manual) {
            on_unsubscribe(p, xpub, &m, (const char *)d + 1, n - 1);
        } else if (d[0] == 1) {
            p->subscriptions++;
            replay_ctx_t c = {.p = p, .xpub = xpub};
            lvc_replay(p->lvc, (const char *)d + 1, n - 1, send_replay, &c);
        } else if (p->subscriptions > 0) {
            p->subscriptions--;
        }
        zmq_msg_close(&m);
    }
    return 0;
}

int proxy_attach(proxy_t *p, zloop_t *loop)
{
    if (zloop_reader(loop, p->pull, on_pull, p) < 0 || zloop_reader(loop, p->xpub, on_xpub, p) < 0)
        return -EIO;
    return 0;
}

typedef struct {
    Hl__BusStats__Prefix *prefixes;
    Hl__BusStats__Prefix **pp;
    size_t np, capp;
    Hl__BusStats__Source *sources;
    Hl__BusStats__Source **sp;
    size_t ns, caps;
} stats_arrays_t;

static void add_prefix(const char *prefix, uint64_t messages, uint64_t bytes, void *arg)
{
    stats_arrays_t *a = arg;
    if (a->np == a->capp)
        return;
    Hl__BusStats__Prefix *x = &a->prefixes[a->np];
    hl__bus_stats__prefix__init(x);
    x->prefix = (char *)prefix;
    x->messages = messages;
    x->bytes = bytes;
    a->pp[a->np++] = x;
}

/* Streams are per (source, topic); stats are per source. */
static void add_stream(const char *source, const char *topic, uint64_t epoch, uint64_t last,
                       uint64_t messages, uint64_t gaps, void *arg)
{
    stats_arrays_t *a = arg;
    for (size_t i = 0; i < a->ns; i++)
        if (strcmp(a->sources[i].source, source) == 0) {
            Hl__BusStats__Source *x = &a->sources[i];
            x->messages += messages;
            x->gaps += gaps;
            if (epoch > x->epoch)
                x->epoch = epoch;
            x->last_seq += last;
            return;
        }
    if (a->ns == a->caps)
        return;
    Hl__BusStats__Source *x = &a->sources[a->ns];
    hl__bus_stats__source__init(x);
    x->source = (char *)source;
    x->epoch = epoch;
    x->last_seq = last;
    x->messages = messages;
    x->gaps = gaps;
    a->sp[a->ns++] = x;
}

static void count_streams(const char *s, const char *t, uint64_t e, uint64_t l, uint64_t m,
                          uint64_t g, void *arg)
{
    ++*(size_t *)arg;
}

static void count_prefixes(const char *prefix, uint64_t m, uint64_t b, void *arg)
{
    ++*(size_t *)arg;
}

void proxy_stats_reply(proxy_t *p, hlb_reply_t *reply)
{
    stats_arrays_t a = {0};
    topicstats_each(p->stats, count_prefixes, &a.capp);
    hlb_seqtrack_each(p->seq, count_streams, &a.caps);
    a.prefixes = calloc(a.capp + 1, sizeof *a.prefixes);
    a.pp = calloc(a.capp + 1, sizeof *a.pp);
    a.sources = calloc(a.caps + 1, sizeof *a.sources);
    a.sp = calloc(a.caps + 1, sizeof *a.sp);
    if (!a.prefixes || !a.pp || !a.sources || !a.sp) {
        hlb_reply_error(reply, ENOMEM, "out of memory");
        goto out;
    }
    topicstats_each(p->stats, add_prefix, &a);
    hlb_seqtrack_each(p->seq, add_stream, &a);
    Hl__BusStats st = HL__BUS_STATS__INIT;
    st.messages = p->messages;
    st.bytes = p->bytes;
    st.malformed = p->malformed;
    st.lvc_topics = lvc_size(p->lvc);
    st.lvc_replays = p->replays;
    st.subscriptions = p->subscriptions > 0 ? (uint64_t)p->subscriptions : 0;
    if (p->manual) {
        uint64_t bytes;
        subbudget_totals(p->budget, &st.subscriptions, &bytes);
    }
    st.started_us = p->started_us;
    st.denied = p->denied;
    st.subscriptions_refused = p->subs_refused;
    st.subscriptions_stale = p->subs_stale;
    hlb_fdguard_stats_t fg = hlb_fdguard_stats();
    st.connections_refused_per_uid = fg.refused_per_uid;
    st.connections_refused_reserve = fg.refused_reserve;
    st.connections_refused_emfile = fg.refused_emfile;
    st.n_prefixes = a.np;
    st.prefixes = a.pp;
    st.n_sources = a.ns;
    st.sources = a.sp;
    hlb_reply_msg(reply, &st.base);
out:
    free(a.prefixes);
    free(a.pp);
    free(a.sources);
    free(a.sp);
}
