/* ctl endpoint: a ROUTER that answers every request it can parse. */
#include "hlbus/server.h"

#include "hlbus/buf.h"
#include "hlbus/codec.h"
#include "hlbus/log.h"
#include "hlbus/paths.h"
#include "hlbus/pbfield.h"

#include "codec_private.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_TABLES 8
#define REPLY_CACHE 64
#define BATCH 64 /* requests served per wake-up, so one busy client cannot starve the loop */

struct hlb_reply {
    Hl__Reply r;
    hlb_buf_t err;
    uint8_t *body; /* owned packed body */
};

typedef struct {
    uint64_t id;
    zframe_t *packed;
} cached_reply_t;

struct hlb_server {
    zsock_t *sock;
    char *name;
    char *path;
    struct {
        const hlb_method_t *methods;
        void *arg;
    } tables[MAX_TABLES];
    int ntables;
    gid_t admin_gid;
    uint64_t served, rejected;
    cached_reply_t cache[REPLY_CACHE]; /* ring of replies to mutating requests */
    unsigned cache_next;
};

struct hlb_deferred {
    hlb_server_t *server;
    zframe_t *identity;
    bool delimiter;
    uint64_t id;
    bool cache;
    char *method;
    hlb_reply_t reply;
};

static void reply_reset(hlb_reply_t *r)
{
    hlb_buf_free(&r->err);
    free(r->body);
    r->body = NULL;
    hl__reply__init(&r->r);
}

void hlb_reply_error(hlb_reply_t *r, int status, const char *fmt, ...)
{
    va_list ap;
    hlb_buf_reset(&r->err);
    va_start(ap, fmt);
    hlb_buf_vprintf(&r->err, fmt, ap);
    va_end(ap);
    r->r.status = status ? status : EIO;
    r->r.error = r->err.data;
}

void hlb_reply_msg(hlb_reply_t *r, const ProtobufCMessage *body)
{
    free(r->body);
    size_t len;
    r->body = hlb_body_encode(body, &len);
    r->r.type = (char *)body->descriptor->name;
    r->r.body.data = r->body;
    r->r.body.len = r->body ? len : 0;
}

void hlb_reply_map(hlb_reply_t *r, hlb_map_t *map)
{
    size_t len;
    const void *data = hlb_map_data(map, &len);
    free(r->body);
    r->body = malloc(len ? len : 1);
    if (!r->body)
        return;
    memcpy(r->body, data, len);
    r->r.type = hlb_pb_str(HLB_TYPE_MSGPACK);
    r->r.body.data = r->body;
    r->r.body.len = len;
}

/* Whether a live server answers at PATH (then we must not steal it). */
static bool path_in_use(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return false;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool used = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return used;
}

hlb_server_t *hlb_server_new(const char *runtime_dir, const char *name)
{
    if (!hlb_name_valid(name))
        return NULL;
    hlb_server_t *s = calloc(1, sizeof *s);
    char *dir = hlb_path(runtime_dir, HLB_CTL_DIR);
    char rel[128];
    snprintf(rel, sizeof rel, HLB_CTL_DIR "/%s", name);
    char *named = hlb_path(runtime_dir, rel);
    char *ep = NULL;
    if (!s || !dir || !named)
        goto fail;
    s->name = strdup(name);
    s->admin_gid = (gid_t)-1;
    /* Created only where nothing exists yet (tests, a private runtime
     * directory); under systemd ctl/ is root's and exists. */
    if (!s->name || hlb_mkdir_p(dir, 0755) < 0)
        goto fail;
    /* ctl/<name> may be a root-owned link into our own directory: bind the
     * target, so that only we can (see hlb_socket_target). */
    s->path = hlb_socket_target(named);
    if (!s->path || asprintf(&ep, "ipc://%s", s->path) < 0) {
        ep = NULL;
        goto fail;
    }
    if (path_in_use(s->path)) {
        hlb_debug("%s is in use by another process", s->path);
        errno = EADDRINUSE;
        goto fail;
    }
    s->sock = zsock_new(ZMQ_ROUTER);
    if (!s->sock)
        goto fail;
    zsock_set_maxmsgsize(s->sock, HLB_MAX_MSG);
    zsock_set_linger(s->sock, 500);
    /* A reply to a client that vanished is dropped instead of queued. */
    zsock_set_router_mandatory(s->sock, 0);
    if (zsock_bind(s->sock, "%s", ep) < 0)
        goto fail;
    /* Who may call at all is decided by this mode (and the directory's); who
     * may change things, by credentials per request. */
    chmod(s->path, 0660);
    free(dir);
    free(named);
    free(ep);
    return s;
fail:
    free(dir);
    free(named);
    free(ep);
    hlb_server_destroy(&s);
    return NULL;
}

void hlb_server_destroy(hlb_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlb_server_t *s = *self_p;
    if (s->sock) {
        zsock_destroy(&s->sock);
        unlink(s->path); /* ours: we bound it */
    }
    for (unsigned i = 0; i < REPLY_CACHE; i++)
        zframe_destroy(&s->cache[i].packed);
    free(s->name);
    free(s->path);
    free(s);
    *self_p = NULL;
}

void hlb_server_add_methods(hlb_server_t *s, const hlb_method_t *methods, void *arg)
{
    assert(s->ntables < MAX_TABLES);
    s->tables[s->ntables].methods = methods;
    s->tables[s->ntables].arg = arg;
    s->ntables++;
}

void hlb_server_set_admin_gid(hlb_server_t *s, gid_t gid)
{
    s->admin_gid = gid;
}

zsock_t *hlb_server_sock(hlb_server_t *s) { return s->sock; }
uint64_t hlb_server_served(const hlb_server_t *s) { return s->served; }
uint64_t hlb_server_rejected(const hlb_server_t *s) { return s->rejected; }

bool hlb_cred_is_admin(uid_t uid, gid_t gid, gid_t admin_gid)
{
    if (uid == 0)
        return true;
    if (admin_gid == (gid_t)-1)
        return false;
    if (gid == admin_gid)
        return true;
    /* Supplementary groups of the user, from the group database: the kernel
     * does not pass them over SO_PEERCRED. */
    struct passwd pw, *pwp = NULL;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &pwp) != 0 || !pwp)
        return false;
    int n = 64;
    gid_t groups[64];
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
        return false;
    for (int i = 0; i < n; i++)
        if (groups[i] == admin_gid)
            return true;
    return false;
}

/* "Peer-Address" of an ipc connection is ":uid:gid:pid" (libzmq reads
 * SO_PEERCRED when the connection is accepted). */
/* One ":<decimal>" field of the peer address; NULL if malformed. */
static const char *cred_field(const char *p, unsigned long *out)
{
    if (*p != ':' || p[1] < '0' || p[1] > '9')
        return NULL;
    char *end;
    errno = 0;
    *out = strtoul(p + 1, &end, 10);
    return errno ? NULL : end;
}

bool hlb_peer_cred(zmq_msg_t *f, uid_t *uid, gid_t *gid, pid_t *pid)
{
    const char *pa = zmq_msg_gets(f, "Peer-Address");
    if (!pa)
        return false;
    /* parsed by hand: sscanf was a tenth of the cost of a request */
    unsigned long u, g, pi;
    const char *p = strchr(pa, ':');
    if (!p || !(p = cred_field(p, &u)) || !(p = cred_field(p, &g)) || !(p = cred_field(p, &pi)))
        return false;
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    *pid = (pid_t)pi;
    return true;
}

static const hlb_method_t *find_method(hlb_server_t *s, const char *name, void **arg)
{
    for (int t = 0; t < s->ntables; t++)
        for (const hlb_method_t *m = s->tables[t].methods; m->name; m++)
            if (strcmp(m->name, name) == 0) {
                *arg = s->tables[t].arg;
                return m;
            }
    return NULL;
}

static void help_method(hlb_server_t *s, hlb_reply_t *reply)
{
    hlb_map_t *m = hlb_map_new();
    for (int t = 0; t < s->ntables; t++)
        for (const hlb_method_t *me = s->tables[t].methods; me->name; me++) {
            char *line = NULL;
            if (asprintf(&line, "%s%s", me->flags & HLB_METHOD_ADMIN ? "[admin] " : "",
                         me->help ? me->help : "") >= 0)
                hlb_map_str(m, me->name, line);
            free(line);
        }
    hlb_map_str(m, "help", "list the methods");
    hlb_reply_map(reply, m);
    hlb_map_destroy(&m);
}

/* The reply packed into a frame ready to send. */
static int pack_reply(const hlb_reply_t *r, zmq_msg_t *out)
{
    size_t n = hl__reply__get_packed_size(&r->r);
    if (zmq_msg_init_size(out, n) < 0)
        return -ENOMEM;
    hl__reply__pack(&r->r, zmq_msg_data(out));
    return 0;
}

/* Sends [identity][empty, if the request had one][BODY]; takes the identity
 * and the body. Plain frames: czmq's message objects cost more allocations
 * than the rest of a request. */
static void send_frames(hlb_server_t *s, zframe_t *identity, bool delimiter, zmq_msg_t *body)
{
    void *h = zsock_resolve(s->sock);
    if (zframe_send(&identity, s->sock, ZFRAME_MORE) < 0 ||
        (delimiter && zmq_send(h, "", 0, ZMQ_SNDMORE) < 0) || zmq_msg_send(body, h, 0) < 0) {
        zframe_destroy(&identity);
        zmq_msg_close(body);
    }
}

static void cache_put(hlb_server_t *s, uint64_t id, zmq_msg_t *packed)
{
    cached_reply_t *c = &s->cache[s->cache_next++ % REPLY_CACHE];
    zframe_destroy(&c->packed);
    c->id = id;
    c->packed = zframe_new(zmq_msg_data(packed), zmq_msg_size(packed));
}

/* A copy of the cached reply to request ID, ready to send; false if none. */
static bool cache_get(hlb_server_t *s, uint64_t id, zmq_msg_t *out)
{
    for (unsigned i = 0; i < REPLY_CACHE; i++)
        if (s->cache[i].packed && s->cache[i].id == id) {
            size_t n = zframe_size(s->cache[i].packed);
            if (zmq_msg_init_size(out, n) < 0)
                return false;
            memcpy(zmq_msg_data(out), zframe_data(s->cache[i].packed), n);
            return true;
        }
    return false;
}

/* Serves one message read from the ROUTER: its identity, whether an empty
 * delimiter came next, the request frame (NULL if none came) and whether
 * more frames followed it. */
static void serve(hlb_server_t *s, zframe_t *identity, bool delimiter, zmq_msg_t *body,
                  bool extra)
{
    hlb_reply_t reply = {0};
    hl__reply__init(&reply.r);
    Hl__Request *req = NULL;
    ProtobufCMessage *args = NULL;
    hlb_request_t call = {0};
    bool cache = false;

    if (!identity || !body || extra) {
        /* Without an identity there is nobody to answer. */
        s->rejected++;
        if (!identity || !body)
            goto done;
        hlb_reply_error(&reply, EPROTO, "malformed request: expected [delimiter] request frames");
        goto send;
    }
    req = hl__request__unpack(NULL, zmq_msg_size(body), zmq_msg_data(body));
    if (!req || !req->method || !*req->method || !hlb__proto_strict(&req->base)) {
        s->rejected++;
        hlb_reply_error(&reply, EPROTO, "malformed request: not an hl.Request");
        goto send;
    }
    if (req->deadline_us && req->deadline_us < hlb_now_us()) {
        s->rejected++; /* the caller has given up: do nothing it will not see */
        goto done;
    }
    if (strcmp(req->method, "help") == 0) {
        help_method(s, &reply);
        goto send;
    }
    void *arg = NULL;
    const hlb_method_t *m = find_method(s, req->method, &arg);
    if (!m) {
        s->rejected++;
        hlb_reply_error(&reply, ENOENT, "%s has no method '%.64s' (try 'help')", s->name,
                        req->method);
        goto send;
    }
    call.method = m->name;
    call.req = req;
    call.cred_known = hlb_peer_cred(body, &call.uid, &call.gid, &call.pid);
    if (m->flags & HLB_METHOD_ADMIN) {
        if (!call.cred_known || !hlb_cred_is_admin(call.uid, call.gid, s->admin_gid)) {
            s->rejected++;
            hlb_reply_error(&reply, EPERM,
                            "permission denied: '%s' changes state and needs root or the "
                            "admin group (caller uid %ld)",
                            m->name, call.cred_known ? (long)call.uid : -1L);
            goto send;
        }
        zmq_msg_t again;
        if (req->id && cache_get(s, req->id, &again)) { /* a retry of one carried out */
            send_frames(s, identity, delimiter, &again);
            identity = NULL;
            goto done;
        }
        cache = req->id != 0;
    }
    if (req->type && strcmp(req->type, HLB_TYPE_MSGPACK) == 0) {
        call.map = hlb_mpview_new(req->body.data, req->body.len);
        if (!call.map) {
            hlb_reply_error(&reply, EINVAL, "arguments are not a msgpack map");
            goto send;
        }
    } else if (req->type && *req->type) {
        args = hlb_body_decode(req->type, req->body.data, req->body.len);
        if (!args) {
            hlb_reply_error(&reply, EINVAL, "arguments of type '%.64s' do not decode",
                            req->type);
            goto send;
        }
        call.args = args;
    }
    call.identity_ = identity;
    call.delimiter_ = delimiter;
    call.server_ = s;
    call.cache_ = cache;
    m->fn(&call, &reply, arg);
    if (!call.identity_) { /* deferred: the method owns the identity now */
        identity = NULL;
        reply_reset(&reply);
        goto done;
    }
send:
    s->served++;
    {
        zmq_msg_t packed;
        if (pack_reply(&reply, &packed) == 0) {
            if (cache && req)
                cache_put(s, req->id, &packed);
            send_frames(s, identity, delimiter, &packed);
            identity = NULL;
        }
    }
done:
    reply_reset(&reply);
    hlb_mpview_destroy(&call.map);
    if (args)
        protobuf_c_message_free_unpacked(args, NULL);
    if (req)
        hl__request__free_unpacked(req, NULL);
    zframe_destroy(&identity);
}

/* Reads one message without waiting: its first three frames into PART and
 * their count, negated when more frames followed (read and dropped); 0 when
 * nothing was waiting. */
static int read_request(void *sock, zmq_msg_t part[3])
{
    int n = 0;
    bool more = true, extra = false;
    while (more) {
        zmq_msg_t scratch, *m = n < 3 ? &part[n] : &scratch;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (m == &scratch) {
            extra = true;
            zmq_msg_close(&scratch);
        } else {
            n++;
        }
    }
    return extra ? -n : n;
}

void hlb_server_handle(hlb_server_t *s)
{
    for (int i = 0; i < BATCH; i++) {
        /* A non-blocking read that says when nothing is left, rather than
         * asking ZMQ_EVENTS first: that query processes the socket's
         * command queue each time, twice per request. */
        zmq_msg_t part[3];
        int n = read_request(zsock_resolve(s->sock), part);
        if (n == 0)
            break;
        /* [identity][empty delimiter][request] or [identity][request] */
        int nparts = n < 0 ? -n : n;
        zframe_t *identity = zframe_new(zmq_msg_data(&part[0]), zmq_msg_size(&part[0]));
        bool delimiter = nparts > 1 && zmq_msg_size(&part[1]) == 0;
        int at = delimiter ? 2 : 1;
        zmq_msg_t *body = at < nparts ? &part[at] : NULL;
        bool extra = n < 0 || at + 1 < nparts;
        serve(s, identity, delimiter, body, extra);
        for (int k = 0; k < nparts; k++)
            zmq_msg_close(&part[k]);
    }
}

hlb_deferred_t *hlb_request_defer(hlb_request_t *req, hlb_reply_t *reply)
{
    hlb_deferred_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->server = req->server_;
    d->identity = req->identity_;
    d->delimiter = req->delimiter_;
    d->id = req->req->id;
    d->cache = req->cache_;
    d->method = strdup(req->method);
    hl__reply__init(&d->reply.r);
    req->identity_ = NULL;
    (void)reply;
    return d;
}

hlb_reply_t *hlb_deferred_reply(hlb_deferred_t *d) { return &d->reply; }
const char *hlb_deferred_method(const hlb_deferred_t *d) { return d->method; }

void hlb_deferred_send(hlb_deferred_t **d_p)
{
    if (!d_p || !*d_p)
        return;
    hlb_deferred_t *d = *d_p;
    zmq_msg_t packed;
    d->server->served++;
    if (pack_reply(&d->reply, &packed) == 0) {
        if (d->cache)
            cache_put(d->server, d->id, &packed);
        send_frames(d->server, d->identity, d->delimiter, &packed);
    } else {
        zframe_destroy(&d->identity);
    }
    reply_reset(&d->reply);
    free(d->method);
    free(d);
    *d_p = NULL;
}
