/* libFuzzer target: what a daemon's ctl endpoint does with a request.
 *
 * Byte 0 of the input picks the mode:
 *   bit 0 = 0: direct. The rest is unpacked as an hl.Request; its body is read
 *     as a msgpack map (hlb_mpview_new and every getter) and printed
 *     (hlb_json_msgpack, hlb_json_body); JSON must be valid.
 *   bit 0 = 1: a real server. Bits 1..2 give 1..4 frames (layout in
 *     fuzz_util.h) that a DEALER sends to a real hlb_server ROUTER bound at
 *     ctl/fuzz in a private runtime dir; then a well-formed "sentinel" request
 *     follows on the same connection. Every reply must be a decodable
 *     hl.Reply (an error reply says why), at most one reply may come for the
 *     fuzzed request, and the sentinel must be answered: no hang, no loss.
 */
#include <czmq.h>
#include <errno.h>
#include <hlbus/hlbus.h>

#include "fuzz_util.h"

static char *g_dir;
static hlb_server_t *g_server;
static zsock_t *g_dealer;

static void cleanup(void)
{
    zsock_destroy(&g_dealer);
    hlb_server_destroy(&g_server);
    if (g_dir) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", g_dir) >= 0 && system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", g_dir);
        free(cmd);
    }
}

/* Reads the arguments the way methods do. */
static void read_args(hlb_request_t *req)
{
    static const char *const keys[] = {"name", "unit", "n", "timeout", "force", "", "x"};
    for (size_t i = 0; req->map && i < sizeof keys / sizeof *keys; i++) {
        char *s = hlb_mpview_str(req->map, keys[i]);
        if (s && strlen(s) == 0 && hlb_mpview_has(req->map, keys[i]) == false)
            abort();
        free(s);
        int64_t v;
        double d;
        bool b;
        (void)hlb_mpview_int(req->map, keys[i], &v);
        (void)hlb_mpview_double(req->map, keys[i], &d);
        (void)hlb_mpview_bool(req->map, keys[i], &b);
    }
}

/* echo: answers with what it was given, re-encoded. */
static void m_echo(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    read_args(req);
    if (req->args) {
        hlb_reply_msg(reply, req->args);
    } else {
        hlb_map_t *m = hlb_map_new();
        char *name = req->map ? hlb_mpview_str(req->map, "name") : NULL;
        hlb_map_str(m, "name", name);
        hlb_map_uint(m, "len", req->req->body.len);
        hlb_reply_map(reply, m);
        hlb_map_destroy(&m);
        free(name);
    }
}

static void m_admin(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    read_args(req);
    hlb_reply_error(reply, EINVAL, "refused '%s'", req->method);
}

/* A method that defers and answers at once: exercises the handle path. */
static void m_defer(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hlb_deferred_t *d = hlb_request_defer(req, reply);
    if (!d)
        abort();
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "method", hlb_deferred_method(d));
    hlb_reply_map(hlb_deferred_reply(d), m);
    hlb_map_destroy(&m);
    hlb_deferred_send(&d);
}

static int64_t g_token; /* the sentinel of the current input */

static void m_sentinel(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    int64_t token = -1;
    if (req->map)
        (void)hlb_mpview_int(req->map, "token", &token);
    hlb_map_t *m = hlb_map_new();
    hlb_map_int(m, "sentinel", token);
    hlb_reply_map(reply, m);
    hlb_map_destroy(&m);
}

static const hlb_method_t methods[] = {
    {"echo", m_echo, 0, "echo"},
    {"set", m_admin, HLB_METHOD_ADMIN, "admin"},
    {"defer", m_defer, 0, "deferred"},
    {"sentinel", m_sentinel, 0, "end of an input"},
    {NULL, NULL, 0, NULL},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    zsys_handler_set(NULL);
    g_dir = fuzz_tmpdir();
    g_server = hlb_server_new(g_dir, "fuzz");
    if (!g_server)
        abort();
    hlb_server_add_methods(g_server, methods, NULL);
    char *ep = hlb_endpoint(g_dir, HLB_CTL_DIR "/fuzz");
    g_dealer = zsock_new(ZMQ_DEALER);
    if (!g_dealer || zsock_connect(g_dealer, "%s", ep) < 0)
        abort();
    free(ep);
    atexit(cleanup);
    return 0;
}

static void direct(const uint8_t *data, size_t len)
{
    Hl__Request *r = hl__request__unpack(NULL, len, data);
    const uint8_t *body = r ? r->body.data : data;
    size_t blen = r ? r->body.len : len;
    hlb_mpview_t *v = hlb_mpview_new(body, blen);
    if (v) {
        static const char *const keys[] = {"a", "name", "n", ""};
        for (size_t i = 0; i < 4; i++) {
            int64_t x;
            double d;
            bool b;
            free(hlb_mpview_str(v, keys[i]));
            (void)hlb_mpview_int(v, keys[i], &x);
            (void)hlb_mpview_double(v, keys[i], &d);
            (void)hlb_mpview_bool(v, keys[i], &b);
        }
        hlb_mpview_destroy(&v);
    }
    hlb_buf_t b = {0};
    if (hlb_json_msgpack(&b, body, blen) == 0) {
        if (!b.len)
            abort(); /* success must write a value */
        FUZZ_CHECK_JSON(&b);
    } else if (b.len) {
        abort(); /* failure must leave the buffer as it was */
    }
    hlb_buf_free(&b);
    if (r) {
        hlb_json_body(&b, r->type, r->body.data, r->body.len);
        FUZZ_CHECK_JSON(&b);
        hlb_buf_free(&b);
        hlb_json_proto(&b, &r->base);
        FUZZ_CHECK_JSON(&b);
        hlb_buf_free(&b);
        hl__request__free_unpacked(r, NULL);
    }
}

/* Reads one reply from the DEALER: [empty][hl.Reply]. Returns whether it is
 * the sentinel's. */
static bool read_reply(void)
{
    zmsg_t *m = zmsg_recv(g_dealer);
    if (!m || zmsg_size(m) < 1 || zmsg_size(m) > 2)
        abort();
    /* The reply mirrors the request's envelope: with a delimiter or without. */
    zframe_t *body = zmsg_last(m);
    if (zmsg_size(m) == 2 && zframe_size(zmsg_first(m)) != 0)
        abort();
    Hl__Reply *r = hl__reply__unpack(NULL, zframe_size(body), zframe_data(body));
    if (!r) {
        fprintf(stderr, "the server sent an undecodable reply\n");
        abort();
    }
    if (r->status != 0 && (!r->error || !*r->error))
        abort(); /* an error reply must say why */
    bool sentinel = false;
    if (r->type && strcmp(r->type, HLB_TYPE_MSGPACK) == 0) {
        hlb_mpview_t *v = hlb_mpview_new(r->body.data, r->body.len);
        if (!v)
            abort(); /* the server's own map must decode */
        int64_t token;
        sentinel = hlb_mpview_int(v, "sentinel", &token) == 0 && token == g_token;
        hlb_mpview_destroy(&v);
    }
    hlb_buf_t j = {0};
    hlb_json_body(&j, r->type, r->body.data, r->body.len);
    FUZZ_CHECK_JSON(&j);
    hlb_buf_free(&j);
    hl__reply__free_unpacked(r, NULL);
    zmsg_destroy(&m);
    return sentinel;
}

static void through_server(const uint8_t *data, size_t len, int nframes)
{
    fuzz_frames_t fr;
    fuzz_split(data, len, nframes, &fr);
    void *d = zsock_resolve(g_dealer);
    for (int i = 0; i < fr.n; i++)
        if (zmq_send(d, fr.data[i], fr.len[i], i + 1 < fr.n ? ZMQ_SNDMORE : 0) < 0)
            abort();
    hlb_map_t *args = hlb_map_new();
    hlb_map_int(args, "token", ++g_token);
    Hl__Request req = HL__REQUEST__INIT;
    req.method = "sentinel";
    req.type = HLB_TYPE_MSGPACK;
    req.body.data = (uint8_t *)hlb_map_data(args, &req.body.len);
    uint8_t buf[128];
    if (hl__request__get_packed_size(&req) > sizeof buf)
        abort();
    size_t n = hl__request__pack(&req, buf);
    hlb_map_destroy(&args);
    zmq_send(d, "", 0, ZMQ_SNDMORE);
    zmq_send(d, buf, n, 0);

    int replies = 0;
    zmq_pollitem_t items[2] = {
        {.socket = zsock_resolve(hlb_server_sock(g_server)), .events = ZMQ_POLLIN},
        {.socket = d, .events = ZMQ_POLLIN},
    };
    for (;;) {
        int rc = zmq_poll(items, 2, 10000);
        if (rc == 0) {
            fprintf(stderr, "no answer to the sentinel within 10 s\n");
            abort();
        }
        if (rc < 0 && errno == EINTR)
            continue; /* libFuzzer's timers */
        if (rc < 0)
            abort();
        if (items[0].revents & ZMQ_POLLIN)
            hlb_server_handle(g_server);
        if (items[1].revents & ZMQ_POLLIN) {
            if (read_reply())
                break;
            if (++replies > 1) {
                fprintf(stderr, "two replies to one request\n");
                abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t h = data[0];
    if (h & 1)
        through_server(data + 1, size - 1, 1 + ((h >> 1) & 3));
    else
        direct(data + 1, size - 1);
    return 0;
}
