/* libFuzzer target: what a subscriber does with bytes from the bus.
 *
 * Byte 0 of the input picks the mode:
 *   bit 0 = 0: direct. The rest is decoded as an envelope (hlb_envelope_decode)
 *     and printed as hlctl sub prints it; and, as a body of the registered type
 *     picked by bits 1..7, decoded (hlb_body_decode), re-encoded, and printed
 *     (hlb_json_body). Every piece of JSON must be valid.
 *   bit 0 = 1: the whole receive path. Bits 1..2 give 1..4 frames (layout in
 *     fuzz_util.h), sent as one message from a real XPUB bound at bus/sub of a
 *     private runtime dir to a real hlb_sub, which must account for it: an
 *     event (printed and checked as above) or a counted drop, never a hang.
 */
#include <czmq.h>
#include <errno.h>
#include <time.h>
#include <hlbus/hlbus.h>

#include "fuzz_util.h"

extern const ProtobufCMessageDescriptor *const hl_proto_registry[];

static char *g_dir;
static zsock_t *g_xpub;
static hlb_sub_t *g_sub;
static size_t g_ntypes;

static void cleanup(void)
{
    hlb_sub_destroy(&g_sub);
    zsock_destroy(&g_xpub);
    if (g_dir) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", g_dir) >= 0 && system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", g_dir);
        free(cmd);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    zsys_handler_set(NULL); /* libFuzzer owns the signals */
    while (hl_proto_registry[g_ntypes])
        g_ntypes++;
    g_dir = fuzz_tmpdir();
    char *busdir = hlb_path(g_dir, "bus");
    char *ep = hlb_endpoint(g_dir, HLB_BUS_SUB);
    if (hlb_mkdir_p(busdir, 0755) < 0)
        abort();
    g_xpub = zsock_new(ZMQ_XPUB);
    zsock_set_sndhwm(g_xpub, 0);
    if (!g_xpub || zsock_bind(g_xpub, "%s", ep) < 0)
        abort();
    g_sub = hlb_sub_new(g_dir, NULL);
    if (!g_sub)
        abort();
    /* Wait for the subscription to reach the XPUB, or the first messages
     * would be dropped before the subscriber is known. */
    zsock_set_rcvtimeo(g_xpub, 10000);
    zframe_t *f = zframe_recv(g_xpub);
    if (!f)
        abort();
    zframe_destroy(&f);
    free(busdir);
    free(ep);
    atexit(cleanup);
    return 0;
}

/* Prints an event as hlctl sub does and checks the JSON. */
static void print_event(const char *topic, const Hl__Envelope *e, const ProtobufCMessage *msg)
{
    hlb_buf_t b = {0};
    hlb_buf_puts(&b, "{\"topic\":");
    hlb_json_str(&b, topic, strlen(topic));
    hlb_buf_puts(&b, ",\"source\":");
    hlb_json_str(&b, e->source, strlen(e->source));
    hlb_buf_printf(&b, ",\"seq\":%llu,\"type\":", (unsigned long long)e->seq);
    hlb_json_str(&b, e->type, strlen(e->type));
    hlb_buf_puts(&b, ",\"body\":");
    hlb_json_body(&b, e->type, e->body.data, e->body.len);
    if (msg) {
        hlb_buf_puts(&b, ",\"msg\":");
        hlb_json_proto(&b, msg);
    }
    hlb_buf_puts(&b, "}");
    FUZZ_CHECK_JSON(&b);
    hlb_buf_free(&b);
}

/* The fast paths must agree with protobuf-c on every input: the in-place
 * envelope check (proxy, subscribers), the descriptor-free packer
 * (publishers) and the arena body decoder (subscribers). */
static void differential(const uint8_t *data, size_t len, const Hl__Envelope *e)
{
    hlb_envelope_view_t v;
    int rc = hlb_envelope_view(data, len, &v);
    if ((rc == 0) != (e != NULL)) {
        fprintf(stderr, "hlb_envelope_view %s what protobuf-c %s\n", rc ? "refuses" : "accepts",
                e ? "accepts" : "refuses");
        abort();
    }
    if (!e)
        return;
    if (v.source_len != strlen(e->source) || memcmp(v.source, e->source, v.source_len) ||
        v.type_len != strlen(e->type) || memcmp(v.type, e->type, v.type_len) ||
        v.epoch != e->epoch || v.seq != e->seq || v.ts_us != e->ts_us ||
        v.body_len != e->body.len || (v.body_len && memcmp(v.body, e->body.data, v.body_len))) {
        fprintf(stderr, "hlb_envelope_view reads other values than protobuf-c\n");
        abort();
    }
    if (e->base.n_unknown_fields == 0) {
        size_t n = hl__envelope__get_packed_size(e), m = hlb_envelope_size(e);
        uint8_t *a = malloc(n + 1), *b = malloc(m + 1);
        if (n != m || hl__envelope__pack(e, a) != n || hlb_envelope_pack(e, b) != m ||
            memcmp(a, b, n) != 0) {
            fprintf(stderr, "hlb_envelope_pack differs from hl__envelope__pack\n");
            abort();
        }
        free(a);
        free(b);
    }
    const ProtobufCMessageDescriptor *desc = hlb_type_lookup(e->type);
    if (desc) {
        hlb_decoder_t *d = hlb_decoder_new();
        const ProtobufCMessage *fast = hlb_decoder_body(d, desc, e->body.data, e->body.len);
        ProtobufCMessage *slow = hlb_body_decode(e->type, e->body.data, e->body.len);
        if (!fast != !slow)
            abort();
        if (fast) {
            hlb_buf_t x = {0}, y = {0};
            hlb_json_proto(&x, fast);
            hlb_json_proto(&y, slow);
            if (x.len != y.len || memcmp(x.data, y.data, x.len) != 0)
                abort();
            hlb_buf_free(&x);
            hlb_buf_free(&y);
            protobuf_c_message_free_unpacked(slow, NULL);
        }
        hlb_decoder_destroy(&d);
    }
}

static void direct(const uint8_t *data, size_t len, unsigned pick)
{
    Hl__Envelope *e = hlb_envelope_decode(data, len);
    differential(data, len, e);
    if (e) {
        if (!e->source || !*e->source || e->seq == 0)
            abort(); /* decode promised these */
        ProtobufCMessage *m = hlb_body_decode(e->type, e->body.data, e->body.len);
        print_event("fuzz.topic", e, m);
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
        hl__envelope__free_unpacked(e, NULL);
    }

    /* The rest as a body of one type: registered, msgpack, empty or unknown. */
    const char *type;
    size_t k = pick % (g_ntypes + 3);
    type = k < g_ntypes ? hl_proto_registry[k]->name
           : k == g_ntypes     ? HLB_TYPE_MSGPACK
           : k == g_ntypes + 1 ? ""
                               : "hl.NoSuchType";
    hlb_buf_t b = {0};
    hlb_json_body(&b, type, data, len);
    FUZZ_CHECK_JSON(&b);
    hlb_buf_free(&b);
    ProtobufCMessage *m = hlb_body_decode(type, data, len);
    if (m) {
        if (k >= g_ntypes)
            abort(); /* only registered types decode */
        size_t n;
        uint8_t *packed = hlb_body_encode(m, &n);
        ProtobufCMessage *again = packed ? hlb_body_decode(type, packed, n) : NULL;
        if (!again)
            abort(); /* what we decoded must re-encode to something decodable */
        hlb_json_proto(&b, again);
        FUZZ_CHECK_JSON(&b);
        hlb_buf_free(&b);
        protobuf_c_message_free_unpacked(again, NULL);
        protobuf_c_message_free_unpacked(m, NULL);
        free(packed);
    }
}

/* A well-formed message sent after each input's: one stream whose sequence
 * grows, so that it costs the subscriber no new state per input (new state
 * per input would make libFuzzer run its leak scan after every input). */
static uint64_t g_sentinel;

static void send_sentinel(void *x)
{
    Hl__Envelope e = HL__ENVELOPE__INIT;
    e.source = "fuzz-sentinel";
    e.epoch = 1;
    e.seq = ++g_sentinel;
    uint8_t buf[128];
    size_t n = hl__envelope__pack(&e, buf);
    if (zmq_send(x, "fuzz.sentinel", 13, ZMQ_SNDMORE) < 0 || zmq_send(x, buf, n, 0) < 0)
        abort();
}

static bool is_sentinel(const hlb_event_t *ev)
{
    return strcmp(ev->topic, "fuzz.sentinel") == 0 &&
           strcmp(ev->env->source, "fuzz-sentinel") == 0 && ev->env->seq == g_sentinel;
}

static uint64_t counted(const hlb_sub_stats_t *st)
{
    return st->received + st->malformed + st->duplicates;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The input's message, then the sentinel: every message the subscriber
 * reads is counted exactly once (received, malformed or duplicate), so both
 * are through when the counts grew by two. The sentinel usually comes out as
 * an event; if the input forged its stream ahead, it is a counted duplicate. */
static void through_subscriber(const uint8_t *data, size_t len, int nframes)
{
    fuzz_frames_t fr;
    fuzz_split(data, len, nframes, &fr);
    void *x = zsock_resolve(g_xpub);
    for (int i = 0; i < fr.n; i++)
        if (zmq_send(x, fr.data[i], fr.len[i], i + 1 < fr.n ? ZMQ_SNDMORE : 0) < 0)
            abort();
    send_sentinel(x);
    hlb_sub_stats_t before = hlb_sub_stats(g_sub), now = before;
    int events = 0;
    bool sentinel = false;
    uint64_t deadline = mono_ms() + 10000;
    while (counted(&now) < counted(&before) + 2) {
        if (mono_ms() > deadline) {
            fprintf(stderr, "the subscriber lost a message\n");
            abort();
        }
        hlb_event_t ev;
        int rc = hlb_sub_recv(g_sub, &ev, sentinel ? 20 : 1000);
        now = hlb_sub_stats(g_sub);
        if (rc == -EINTR || rc == -EAGAIN)
            continue; /* libFuzzer's timers; or a drop we see in the counts */
        if (rc != 1)
            abort();
        if (!hlb_topic_valid(ev.topic, strlen(ev.topic)) || !ev.env->source[0])
            abort();
        if (is_sentinel(&ev)) {
            sentinel = true;
            continue;
        }
        if (++events > 1)
            abort(); /* one message in, at most one event out */
        print_event(ev.topic, ev.env, ev.msg);
    }
    if (counted(&now) != counted(&before) + 2 ||
        now.received != before.received + (uint64_t)events + (sentinel ? 1 : 0))
        abort(); /* something was not counted, or counted twice */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t h = data[0];
    if (h & 1)
        through_subscriber(data + 1, size - 1, 1 + ((h >> 1) & 3));
    else
        direct(data + 1, size - 1, h >> 1);
    return 0;
}
