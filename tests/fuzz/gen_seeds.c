/* Writes seed inputs for the fuzz targets, built with the real encoders so
 * that they follow proto/ as it changes:
 *   gen_seeds envelope DIR   well-formed envelopes, bodies and frame sets
 *   gen_seeds request DIR    requests, direct and as frames for the server
 *   gen_seeds proxy DIR      publishes, subscriptions and LVC prefixes for hl-bus
 * The layouts are those of fuzz_envelope.c and fuzz_request.c. */
#include <errno.h>
#include <hlbus/hlbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const ProtobufCMessageDescriptor *const hl_proto_registry[];

static const char *g_dir;
static int g_count;

typedef struct {
    uint8_t *data;
    size_t len;
} seed_t;

static void seed_add(seed_t *s, const void *data, size_t len)
{
    s->data = realloc(s->data, s->len + len);
    if (!s->data)
        abort();
    memcpy(s->data + s->len, data, len);
    s->len += len;
}

/* A frame that is not the last: 2-byte little-endian length, then data. */
static void seed_frame(seed_t *s, const void *data, size_t len)
{
    uint8_t hdr[2] = {(uint8_t)(len & 0xff), (uint8_t)(len >> 8)};
    seed_add(s, hdr, 2);
    seed_add(s, data, len);
}

static void seed_write(seed_t *s)
{
    char *path = NULL;
    if (asprintf(&path, "%s/seed-%03d", g_dir, g_count++) < 0)
        abort();
    FILE *f = fopen(path, "wbe");
    if (!f || fwrite(s->data, 1, s->len, f) != s->len || fclose(f) != 0) {
        fprintf(stderr, "gen_seeds: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    free(path);
    free(s->data);
    s->data = NULL;
    s->len = 0;
}

/* The target's numbering: the registry, then "msgpack", "", and unknown. */
static size_t type_index(const char *name)
{
    size_t i = 0;
    for (; hl_proto_registry[i]; i++)
        if (strcmp(hl_proto_registry[i]->name, name) == 0)
            return i;
    return strcmp(name, HLB_TYPE_MSGPACK) == 0 ? i : *name ? i + 2 : i + 1;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *p = hlb_body_encode(m, len);
    if (!p)
        abort();
    return p;
}

static hlb_map_t *sample_map(void)
{
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "name", "hl-health");
    hlb_map_int(m, "n", -42);
    hlb_map_uint(m, "big", UINT64_MAX);
    hlb_map_double(m, "ratio", 0.25);
    hlb_map_bool(m, "force", true);
    hlb_map_nil(m, "none");
    static const char *const v[] = {"a", "b\xc3\xa9", "\"q\""};
    hlb_map_strv(m, "list", v, 3);
    hlb_map_t *child = hlb_map_new();
    hlb_map_str(child, "unit", "docker.service");
    hlb_map_int(child, "timeout", 5000);
    hlb_map_map(m, "child", &child);
    return m;
}

/* Envelope bytes for TYPE/BODY. */
static uint8_t *envelope(const char *type, const void *body, size_t blen, uint64_t seq,
                         size_t *len)
{
    Hl__Envelope e = HL__ENVELOPE__INIT;
    e.source = "hl-health";
    e.epoch = 1700000000000000ULL;
    e.seq = seq;
    e.ts_us = 1700000000123456ULL;
    e.type = (char *)type;
    e.body.data = (uint8_t *)body;
    e.body.len = blen;
    return pack(&e.base, len);
}

static void gen_envelope(void)
{
    hlb_map_t *map = sample_map();
    size_t mlen;
    const void *mp = hlb_map_data(map, &mlen);

    Hl__Log log = HL__LOG__INIT;
    log.level = "warning";
    log.message = "disk \"full\"\n";
    log.fields_msgpack.data = (uint8_t *)mp;
    log.fields_msgpack.len = mlen;
    size_t loglen;
    uint8_t *logp = pack(&log.base, &loglen);

    Hl__DaemonStatus st = HL__DAEMON_STATUS__INIT;
    st.name = "hl-bus";
    st.version = "0.1.0";
    st.pid = 4242;
    st.state = "running";
    size_t stlen;
    uint8_t *stp = pack(&st.base, &stlen);

    Hl__BusStats bs = HL__BUS_STATS__INIT;
    Hl__BusStats__Prefix pr = HL__BUS_STATS__PREFIX__INIT, *prs[1] = {&pr};
    pr.prefix = "health.";
    pr.messages = 3;
    Hl__BusStats__Source so = HL__BUS_STATS__SOURCE__INIT, *sos[1] = {&so};
    so.source = "hl-health";
    so.gaps = 1;
    bs.n_prefixes = 1;
    bs.prefixes = prs;
    bs.n_sources = 1;
    bs.sources = sos;
    bs.messages = 10;
    size_t bslen;
    uint8_t *bsp = pack(&bs.base, &bslen);

    struct {
        const char *type;
        const void *body;
        size_t len;
    } bodies[] = {
        {"hl.Log", logp, loglen},       {HLB_TYPE_MSGPACK, mp, mlen}, {"hl.DaemonStatus", stp, stlen},
        {"hl.BusStats", bsp, bslen},    {"", "raw", 3},               {"text/plain", "hello", 5},
    };
    const char *topics[] = {"log.hl-health.warning", "health.claude-code", "daemon.hl-bus",
                            "bus.stats", "x", "y"};
    seed_t s = {0};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        size_t elen;
        uint8_t *env = envelope(bodies[i].type, bodies[i].body, bodies[i].len, i + 1, &elen);
        /* direct: the envelope, with a type pick */
        uint8_t h = (uint8_t)(type_index(bodies[i].type) << 1);
        seed_add(&s, &h, 1);
        seed_add(&s, env, elen);
        seed_write(&s);
        /* direct: the body alone, picked by its type */
        seed_add(&s, &h, 1);
        seed_add(&s, bodies[i].body, bodies[i].len);
        seed_write(&s);
        /* through the subscriber: [topic][envelope] */
        h = 1 | (1 << 1);
        seed_add(&s, &h, 1);
        seed_frame(&s, topics[i], strlen(topics[i]));
        seed_add(&s, env, elen);
        seed_write(&s);
        /* a replay: [topic][envelope]["lvc"] */
        h = 1 | (2 << 1);
        seed_add(&s, &h, 1);
        seed_frame(&s, topics[i], strlen(topics[i]));
        seed_frame(&s, env, elen);
        seed_add(&s, HLB_REPLAY_MARK, strlen(HLB_REPLAY_MARK));
        seed_write(&s);
        free(env);
    }
    /* malformed shapes: one frame, four frames, a bad topic */
    uint8_t h = 1;
    seed_add(&s, &h, 1);
    seed_add(&s, "health.x", 8);
    seed_write(&s);
    h = 1 | (3 << 1);
    seed_add(&s, &h, 1);
    seed_frame(&s, "a", 1);
    seed_frame(&s, "b", 1);
    seed_frame(&s, "c", 1);
    seed_add(&s, "d", 1);
    seed_write(&s);
    h = 1 | (1 << 1);
    seed_add(&s, &h, 1);
    seed_frame(&s, "bad topic", 9);
    seed_add(&s, logp, loglen);
    seed_write(&s);
    free(logp);
    free(stp);
    free(bsp);
    hlb_map_destroy(&map);
}

static uint8_t *request(const char *method, const char *type, const void *body, size_t blen,
                        uint64_t id, size_t *len)
{
    Hl__Request r = HL__REQUEST__INIT;
    r.method = (char *)method;
    r.type = (char *)type;
    r.body.data = (uint8_t *)body;
    r.body.len = blen;
    r.id = id;
    r.deadline_us = 0; /* no deadline: a seed must not go stale */
    return pack(&r.base, len);
}

static void gen_request(void)
{
    hlb_map_t *map = sample_map();
    size_t mlen;
    const void *mp = hlb_map_data(map, &mlen);
    Hl__Log log = HL__LOG__INIT;
    log.level = "info";
    log.message = "m";
    size_t loglen;
    uint8_t *logp = pack(&log.base, &loglen);

    struct {
        const char *method, *type;
        const void *body;
        size_t len;
        uint64_t id;
    } reqs[] = {
        {"echo", HLB_TYPE_MSGPACK, mp, mlen, 1},
        {"echo", "hl.Log", logp, loglen, 2},
        {"echo", "", NULL, 0, 0},
        {"set", HLB_TYPE_MSGPACK, mp, mlen, 77},
        {"defer", "", NULL, 0, 3},
        {"help", "", NULL, 0, 4},
        {"nosuch", "", NULL, 0, 5},
        {"echo", "hl.NoSuchType", "x", 1, 6},
        {"echo", HLB_TYPE_MSGPACK, "\x91\x01", 2, 7}, /* an array, not a map */
    };
    seed_t s = {0};
    for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
        size_t rlen;
        uint8_t *r = request(reqs[i].method, reqs[i].type, reqs[i].body, reqs[i].len, reqs[i].id,
                             &rlen);
        uint8_t h = 0;
        seed_add(&s, &h, 1); /* direct */
        seed_add(&s, r, rlen);
        seed_write(&s);
        h = 1 | (1 << 1); /* server: [""][request] */
        seed_add(&s, &h, 1);
        seed_frame(&s, NULL, 0);
        seed_add(&s, r, rlen);
        seed_write(&s);
        free(r);
    }
    size_t rlen;
    uint8_t *r = request("echo", HLB_TYPE_MSGPACK, mp, mlen, 9, &rlen);
    uint8_t h = 1; /* server: [request] without a delimiter */
    seed_add(&s, &h, 1);
    seed_add(&s, r, rlen);
    seed_write(&s);
    h = 1 | (2 << 1); /* server: [""][request][extra] */
    seed_add(&s, &h, 1);
    seed_frame(&s, NULL, 0);
    seed_frame(&s, r, rlen);
    seed_add(&s, "x", 1);
    seed_write(&s);
    h = 0; /* direct: a bare msgpack map */
    seed_add(&s, &h, 1);
    seed_add(&s, mp, mlen);
    seed_write(&s);
    free(r);
    free(logp);
    hlb_map_destroy(&map);
}

/* fuzz_proxy: byte 0 = mode (bits 0..1) | (frames - 1) << 2 */
static void gen_proxy(void)
{
    seed_t s = {0};
    static const char *const topics[] = {"health.claude-code", "log.hl-bus.info", "daemon.x"};
    for (size_t i = 0; i < 3; i++) {
        Hl__DaemonStatus st = HL__DAEMON_STATUS__INIT;
        st.name = "x";
        size_t blen, elen;
        uint8_t *body = pack(&st.base, &blen);
        uint8_t *env = envelope("hl.DaemonStatus", body, blen, i + 1, &elen);
        uint8_t h = 0 | 1 << 2; /* push [topic][envelope] */
        seed_add(&s, &h, 1);
        seed_frame(&s, topics[i], strlen(topics[i]));
        seed_add(&s, env, elen);
        seed_write(&s);
        h = 0 | 2 << 2; /* three frames: refused */
        seed_add(&s, &h, 1);
        seed_frame(&s, topics[i], strlen(topics[i]));
        seed_frame(&s, env, elen);
        seed_add(&s, "x", 1);
        seed_write(&s);
        free(body);
        free(env);
    }
    static const char *const subs[] = {"\x01health.", "\x01", "\x00health.", "\x02x", "\001daemon.x"};
    for (size_t i = 0; i < 5; i++) {
        uint8_t h = 1; /* one frame up the XSUB */
        seed_add(&s, &h, 1);
        seed_add(&s, subs[i], i == 1 ? 1 : strlen(subs[i] + 1) + 1);
        seed_write(&s);
    }
    uint8_t h = 3; /* new LVC prefixes */
    seed_add(&s, &h, 1);
    seed_add(&s, "health.\nlog.\nbad prefix\n", 25);
    seed_write(&s);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_seeds envelope|request|proxy DIR\n");
        return 64;
    }
    g_dir = argv[2];
    if (hlb_mkdir_p(g_dir, 0755) < 0) {
        fprintf(stderr, "gen_seeds: cannot create %s\n", g_dir);
        return 1;
    }
    if (strcmp(argv[1], "envelope") == 0)
        gen_envelope();
    else if (strcmp(argv[1], "request") == 0)
        gen_request();
    else if (strcmp(argv[1], "proxy") == 0)
        gen_proxy();
    else
        return 64;
    return 0;
}
