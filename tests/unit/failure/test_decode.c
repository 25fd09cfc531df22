/* Decoding bus events by field name: registered protos through their
 * descriptors and msgpack maps alike; missing or mistyped fields. */
#include <string.h>
#include <hlbus/hlbus.h>

#include "check.h"
#include "failure.pb-c.h"
#include "fl_decode.h"

/* An event as hlb_sub_recv would hand it over. */
typedef struct {
    hlb_event_t ev;
    Hl__Envelope env;
    uint8_t *body;
} fake_t;

static void fake_map(fake_t *f, const char *topic, hlb_map_t *m)
{
    memset(f, 0, sizeof *f);
    hl__envelope__init(&f->env);
    size_t len;
    const void *d = hlb_map_data(m, &len);
    f->body = malloc(len);
    memcpy(f->body, d, len);
    f->env.source = "test";
    f->env.type = HLB_TYPE_MSGPACK;
    f->env.body.data = f->body;
    f->env.body.len = len;
    f->env.ts_us = 4242;
    f->ev.topic = topic;
    f->ev.env = &f->env;
}

static void fake_pb(fake_t *f, const char *topic, const ProtobufCMessage *m)
{
    memset(f, 0, sizeof *f);
    hl__envelope__init(&f->env);
    f->env.source = "test";
    f->env.type = (char *)m->descriptor->name;
    f->env.ts_us = 777;
    f->ev.topic = topic;
    f->ev.env = &f->env;
    f->ev.msg = m;
}

static void fake_free(fake_t *f) { free(f->body); }

static void test_map_unit(void)
{
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "unit", "hl-daemon.service");
    hlb_map_str(m, "active_state", "activating");
    hlb_map_str(m, "sub_state", "auto-restart");
    hlb_map_str(m, "result", "signal");
    hlb_map_int(m, "n_restarts", 3);
    hlb_map_str(m, "exit_kind", "killed");
    hlb_map_int(m, "exit_status", 9);
    fake_t f;
    fake_map(&f, "service.hl-daemon", m);
    fl_msg_t msg;
    CHECK(fl_msg_open(&msg, &f.ev) == 0);
    fl_unit_obs_t u;
    CHECK(fl_decode_unit(&msg, &f.ev, "service.", &u) == 0);
    CHECK(u.service && strcmp(u.service, "hl-daemon") == 0); /* from the topic */
    CHECK(strcmp(u.unit, "hl-daemon.service") == 0 && strcmp(u.sub_state, "auto-restart") == 0);
    CHECK(u.n_restarts == 3 && u.exit_code == 2 && u.exit_status == 9 && u.ts_us == 4242);
    CHECK(u.load_state == NULL);
    fl_msg_close(&msg);
    fake_free(&f);
    hlb_map_destroy(&m);

    /* nothing usable: no active state */
    m = hlb_map_new();
    hlb_map_int(m, "active_state", 3);
    fake_map(&f, "service.x", m);
    CHECK(fl_msg_open(&msg, &f.ev) == 0);
    CHECK(fl_decode_unit(&msg, &f.ev, "service.", &u) == -EINVAL);
    fl_msg_close(&msg);
    fake_free(&f);
    hlb_map_destroy(&m);
}

static void test_map_others(void)
{
    fl_msg_t msg;
    fake_t f;
    /* health.<service>, hl-health's ServiceHealth keys */
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "state", "unhealthy");
    hlb_map_str(m, "reason", "check http failed: HTTP 500");
    hlb_map_bool(m, "snapshot", true);
    fake_map(&f, "health.claude-code", m);
    fl_health_obs_t h;
    CHECK(fl_msg_open(&msg, &f.ev) == 0 && fl_decode_health(&msg, &f.ev, "health.", &h) == 0);
    CHECK(strcmp(h.service, "claude-code") == 0 && h.state == FL_H_UNHEALTHY);
    CHECK(strstr(h.reason, "HTTP 500") != NULL);
    fl_msg_close(&msg);
    fake_free(&f);
    hlb_map_destroy(&m);

    /* metrics.threshold.<name> */
    m = hlb_map_new();
    hlb_map_str(m, "state", "FIRING");
    hlb_map_double(m, "value", 91.5);
    hlb_map_int(m, "limit", 85); /* an integer where a double goes is fine */
    hlb_map_str(m, "resource", "memory");
    fake_map(&f, "metrics.threshold.memory", m);
    fl_threshold_obs_t t;
    CHECK(fl_msg_open(&msg, &f.ev) == 0 &&
          fl_decode_threshold(&msg, &f.ev, "metrics.threshold.", &t) == 0);
    CHECK(t.firing && strcmp(t.name, "memory") == 0 && t.value == 91.5 && t.limit == 85);
    fl_msg_close(&msg);
    fake_free(&f);
    hlb_map_destroy(&m);
    m = hlb_map_new();
    hlb_map_str(m, "state", "STATE_UNSPECIFIED");
    fake_map(&f, "metrics.threshold.memory", m);
    CHECK(fl_msg_open(&msg, &f.ev) == 0 &&
          fl_decode_threshold(&msg, &f.ev, "metrics.threshold.", &t) == -EINVAL);
    fl_msg_close(&msg);
    fake_free(&f);
    hlb_map_destroy(&m);

    /* uplink: a bool, or a state word; anything else is not about connectivity */
    static const struct {
        const char *key;
        const char *val;
        int want; /* 1 up, 0 down, -1 not decodable */
    } up[] = {{"state", "online", 1},     {"state", "STATE_OFFLINE", 0},
              {"connectivity", "down", 0}, {"status", "registered", 1},
              {"state", "pondering", -1},   {"weather", "sunny", -1}};
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
        m = hlb_map_new();
        hlb_map_str(m, up[i].key, up[i].val);
        hlb_map_str(m, "last_error", "refused");
        fake_map(&f, "uplink.status", m);
        fl_uplink_obs_t u;
        CHECK(fl_msg_open(&msg, &f.ev) == 0);
        int rc = fl_decode_uplink(&msg, &f.ev, &u);
        CHECK_MSG(up[i].want < 0 ? rc == -EINVAL : rc == 0 && u.up == (up[i].want == 1),
                  "uplink case %zu", i);
        if (rc == 0)
            CHECK(strcmp(u.detail, "refused") == 0 && strcmp(u.topic, "uplink.status") == 0);
        fl_msg_close(&msg);
        fake_free(&f);
        hlb_map_destroy(&m);
    }
    m = hlb_map_new();
    hlb_map_bool(m, "connected", false);
    fake_map(&f, "uplink.status", m);
    fl_uplink_obs_t u;
    CHECK(fl_msg_open(&msg, &f.ev) == 0 && fl_decode_uplink(&msg, &f.ev, &u) == 0 && !u.up);
    fl_msg_close(&msg);
    fake_free(&f);
    hlb_map_destroy(&m);

    /* lifecycle.state */
    m = hlb_map_new();
    hlb_map_str(m, "state", "shutting-down");
    fake_map(&f, "lifecycle.state", m);
    const char *st;
    CHECK(fl_msg_open(&msg, &f.ev) == 0 && fl_decode_lifecycle(&msg, &f.ev, &st) == 0 &&
          strcmp(st, "shutting-down") == 0);
    fl_msg_close(&msg);
    fake_free(&f);
    hlb_map_destroy(&m);
}

/* Reflection over a registered proto: strings, integers of every width,
 * doubles and bools by name; absent names and wrong kinds. */
static void test_proto(void)
{
    Hl__Failure m = HL__FAILURE__INIT;
    m.type = "service_crash";
    m.exit_code = 2;
    m.n_restarts = -1;
    m.value = 1.5;
    m.reasserted = true;
    m.detected_us = 123456789012345ULL;
    fake_t f;
    fake_pb(&f, "failure.service_crash", &m.base);
    fl_msg_t msg;
    CHECK(fl_msg_open(&msg, &f.ev) == 0);
    int64_t i;
    double d;
    bool b;
    CHECK(strcmp(fl_msg_str(&msg, "type"), "service_crash") == 0);
    CHECK(fl_msg_int(&msg, "exit_code", &i) && i == 2);
    CHECK(fl_msg_int(&msg, "n_restarts", &i) && i == -1);
    CHECK(fl_msg_int(&msg, "detected_us", &i) && i == 123456789012345LL);
    CHECK(fl_msg_double(&msg, "value", &d) && d == 1.5);
    CHECK(fl_msg_double(&msg, "exit_code", &d) && d == 2.0);
    CHECK(fl_msg_int(&msg, "value", &i) && i == 1);
    CHECK(fl_msg_bool(&msg, "reasserted", &b) && b);
    CHECK(!fl_msg_bool(&msg, "value", &b));     /* not a bool */
    CHECK(fl_msg_str(&msg, "exit_code") == NULL); /* not a string */
    CHECK(fl_msg_str(&msg, "nonesuch") == NULL && !fl_msg_int(&msg, "nonesuch", &i));
    CHECK(fl_msg_str(&msg, "type.x") == NULL);  /* not a message to descend into */
    CHECK(fl_msg_str(&msg, "") == NULL && fl_msg_str(&msg, ".") == NULL);
    static const char *const keys[] = {"nonesuch", "signal", "type", NULL};
    CHECK(strcmp(fl_msg_str_any(&msg, keys), "service_crash") == 0); /* "" is skipped */
    fl_msg_close(&msg);

    /* a proto that carries nothing a decoder wants */
    fl_unit_obs_t u;
    CHECK(fl_msg_open(&msg, &f.ev) == 0 && fl_decode_unit(&msg, &f.ev, "service.", &u) == -EINVAL);
    fl_msg_close(&msg);

    /* an event with neither a registered body nor a map */
    hlb_event_t ev = {.topic = "service.x"};
    Hl__Envelope env = HL__ENVELOPE__INIT;
    env.type = "text/plain";
    ev.env = &env;
    CHECK(fl_msg_open(&msg, &ev) == -EINVAL);
    fl_msg_close(&msg);
    env.type = HLB_TYPE_MSGPACK;
    env.body.data = (uint8_t *)"\x93\x01\x02\x03"; /* an array, not a map */
    env.body.len = 4;
    CHECK(fl_msg_open(&msg, &ev) == -EINVAL);
    fl_msg_close(&msg);
}

/* Containers that claim more than the bytes left are refused before
 * msgpack-c would allocate for them; real maps pass. */
static void test_plausible(void)
{
    CHECK(hlb_msgpack_check("\xdf\xdf\xdf\xdf\xdf\xdf", 6) < 0);  /* map32 of 3.7e9 pairs */
    CHECK(hlb_msgpack_check("\xdd\x02\xdd\x0a\xdd\x0a\xdd", 7) < 0); /* array32 claims */
    CHECK(hlb_msgpack_check("\x9f\x01", 2) < 0);   /* fixarray of 15, 1 byte left */
    CHECK(hlb_msgpack_check("\xc1", 1) < 0);        /* never used */
    CHECK(hlb_msgpack_check("\xdb\xff\xff\xff\xff", 5) < 0); /* str32 longer than the data */
    CHECK(hlb_msgpack_check("", 0) < 0);
    CHECK(hlb_msgpack_check("\x80\x80", 2) < 0);   /* two objects */
    CHECK(hlb_msgpack_check("\x80", 1) == 0);         /* {} */
    CHECK(hlb_msgpack_check("\x91\xc0", 2) == 0);    /* [nil] */
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "active_state", "failed");
    hlb_map_int(m, "n_restarts", 1234567);
    hlb_map_double(m, "value", 1.5);
    hlb_map_bool(m, "x", true);
    hlb_map_nil(m, "n");
    const char *v[] = {"a", "b"};
    hlb_map_strv(m, "list", v, 2);
    hlb_map_t *kid = hlb_map_new();
    hlb_map_int(kid, "neg", -70000);
    hlb_map_map(m, "kid", &kid);
    size_t len;
    const uint8_t *d = hlb_map_data(m, &len);
    CHECK(hlb_msgpack_check(d, len) == 0);
    for (size_t cut = 0; cut < len; cut++) /* any truncation is refused */
        CHECK_MSG(hlb_msgpack_check(d, cut) < 0, "cut at %zu", cut);
    hlb_map_destroy(&m);
}

static void test_suffix(void)
{
    CHECK(strcmp(fl_topic_suffix("service.hl-daemon", "service."), "hl-daemon") == 0);
    CHECK(fl_topic_suffix("service.", "service.") == NULL);
    CHECK(fl_topic_suffix("health.x", "service.") == NULL);
    CHECK(fl_topic_suffix(NULL, "service.") == NULL);
}

int main(void)
{
    test_map_unit();
    test_map_others();
    test_proto();
    test_suffix();
    test_plausible();
    return check_done();
}
