/* Decoding the typed bus messages hl-failure reads (libhlbus topics.h):
 * each input from its own message, the topic naming what the body does not,
 * unspecified states refused, and free-form maps or other types refused
 * however plausible their keys. */
#include <string.h>
#include <hlbus/hlbus.h>

#include "check.h"
#include "fl_decode.h"
#include "health.pb-c.h"
#include "metrics.pb-c.h"
#include "orchestrator.pb-c.h"
#include "uplink.pb-c.h"

/* An event as hlb_sub_recv would hand it over. */
typedef struct {
    hlb_event_t ev;
    Hl__Envelope env;
    hlb_map_t *map;
} fake_t;

static hlb_event_t *fake_pb(fake_t *f, const char *topic, const ProtobufCMessage *m)
{
    memset(f, 0, sizeof *f);
    hl__envelope__init(&f->env);
    f->env.source = "test";
    f->env.type = (char *)m->descriptor->name;
    f->env.ts_us = 777;
    f->ev.topic = topic;
    f->ev.env = &f->env;
    f->ev.msg = m;
    return &f->ev;
}

/* A msgpack map with KEY=VALUE pairs, as hlctl pub used to send. */
static hlb_event_t *fake_map(fake_t *f, const char *topic, const char *const *kv)
{
    memset(f, 0, sizeof *f);
    hl__envelope__init(&f->env);
    f->map = hlb_map_new();
    for (; kv[0]; kv += 2)
        hlb_map_str(f->map, kv[0], kv[1]);
    size_t len;
    const void *d = hlb_map_data(f->map, &len);
    f->env.source = "test";
    f->env.type = HLB_TYPE_MSGPACK;
    f->env.body.data = (uint8_t *)d;
    f->env.body.len = len;
    f->ev.topic = topic;
    f->ev.env = &f->env;
    return &f->ev;
}

static void fake_free(fake_t *f) { hlb_map_destroy(&f->map); }

static void test_unit(void)
{
    Hl__ServiceState s = HL__SERVICE_STATE__INIT;
    s.unit = "hl-daemon.service";
    s.active_state = "activating";
    s.sub_state = "auto-restart";
    s.result = "signal";
    s.n_restarts = 3;
    s.exit_code = 2;
    s.exit_status = 9;
    fake_t f;
    fl_unit_obs_t u;
    CHECK(fl_decode_unit(fake_pb(&f, "service.hl-daemon", &s.base), "service.", &u) == 0);
    CHECK(strcmp(u.service, "hl-daemon") == 0); /* from the topic: the body has none */
    CHECK(strcmp(u.unit, "hl-daemon.service") == 0 && strcmp(u.sub_state, "auto-restart") == 0);
    CHECK(u.n_restarts == 3 && u.exit_code == 2 && u.exit_status == 9 && u.ts_us == 777);
    s.service = "named";
    CHECK(fl_decode_unit(fake_pb(&f, "service.hl-daemon", &s.base), "service.", &u) == 0 &&
          strcmp(u.service, "named") == 0);
    s.active_state = "";
    CHECK(fl_decode_unit(fake_pb(&f, "service.x", &s.base), "service.", &u) == -EINVAL);
    /* the same words in a map are not hl-orchestrator's message */
    static const char *const kv[] = {"unit", "x.service", "active_state", "failed", NULL};
    CHECK(fl_decode_unit(fake_map(&f, "service.x", kv), "service.", &u) == -EINVAL);
    fake_free(&f);
    /* another type on the topic */
    Hl__ServiceHealth h = HL__SERVICE_HEALTH__INIT;
    CHECK(fl_decode_unit(fake_pb(&f, "service.x", &h.base), "service.", &u) == -EINVAL);
}

static void test_health(void)
{
    Hl__ServiceHealth h = HL__SERVICE_HEALTH__INIT;
    h.state = HL__HEALTH_STATE__HEALTH_UNHEALTHY;
    h.reason = "http: HTTP 500";
    fake_t f;
    fl_health_obs_t o;
    CHECK(fl_decode_health(fake_pb(&f, "health.claude-code", &h.base), "health.", &o) == 0);
    CHECK(strcmp(o.service, "claude-code") == 0 && o.state == FL_H_UNHEALTHY);
    CHECK(strcmp(o.reason, "http: HTTP 500") == 0 && o.ts_us == 777);
    CHECK(strcmp(fl_health_name(o.state), "unhealthy") == 0);
    CHECK(fl_decode_health(fake_pb(&f, "health.", &h.base), "health.", &o) == -EINVAL);
    static const char *const kv[] = {"state", "unhealthy", NULL};
    CHECK(fl_decode_health(fake_map(&f, "health.x", kv), "health.", &o) == -EINVAL);
    fake_free(&f);
}

static void test_threshold(void)
{
    Hl__Threshold t = HL__THRESHOLD__INIT;
    t.state = HL__THRESHOLD_STATE__THRESHOLD_FIRING;
    t.resource = "memory";
    t.value = 97;
    t.limit = 90;
    t.unit = "percent";
    fake_t f;
    fl_threshold_obs_t o;
    CHECK(fl_decode_threshold(fake_pb(&f, "metrics.threshold.memory", &t.base),
                              "metrics.threshold.", &o) == 0);
    CHECK(strcmp(o.name, "memory") == 0 && o.firing && o.value == 97 && o.limit == 90);
    t.state = HL__THRESHOLD_STATE__THRESHOLD_CLEARED;
    CHECK(fl_decode_threshold(fake_pb(&f, "metrics.threshold.memory", &t.base),
                              "metrics.threshold.", &o) == 0 && !o.firing);
    t.state = HL__THRESHOLD_STATE__THRESHOLD_UNSPECIFIED; /* a probe, not a state */
    CHECK(fl_decode_threshold(fake_pb(&f, "metrics.threshold.memory", &t.base),
                              "metrics.threshold.", &o) == -EINVAL);
    static const char *const kv[] = {"state", "FIRING", NULL};
    CHECK(fl_decode_threshold(fake_map(&f, "metrics.threshold.x", kv), "metrics.threshold.",
                              &o) == -EINVAL);
    fake_free(&f);
}

static void test_uplink_and_lifecycle(void)
{
    Hl__UplinkStatus u = HL__UPLINK_STATUS__INIT;
    u.state = HL__UPLINK_STATE__UPLINK_OFFLINE;
    u.last_error = "refused";
    fake_t f;
    fl_uplink_obs_t o;
    CHECK(fl_decode_uplink(fake_pb(&f, "uplink.status", &u.base), &o) == 0);
    CHECK(!o.up && strcmp(o.detail, "refused") == 0 && strcmp(o.topic, "uplink.status") == 0);
    u.state = HL__UPLINK_STATE__UPLINK_ONLINE;
    CHECK(fl_decode_uplink(fake_pb(&f, "uplink.status", &u.base), &o) == 0 && o.up);
    u.state = HL__UPLINK_STATE__UPLINK_UNKNOWN;
    CHECK(fl_decode_uplink(fake_pb(&f, "uplink.status", &u.base), &o) == -EINVAL);
    static const char *const kv[] = {"state", "online", NULL};
    CHECK(fl_decode_uplink(fake_map(&f, "uplink.status", kv), &o) == -EINVAL);
    fake_free(&f);

    Hl__LifecycleState l = HL__LIFECYCLE_STATE__INIT;
    l.state = HL__LIFECYCLE__LIFECYCLE_SHUTTING_DOWN;
    const char *st;
    CHECK(fl_decode_lifecycle(fake_pb(&f, "lifecycle.state", &l.base), &st) == 0 &&
          strcmp(st, "shutting-down") == 0);
    l.state = HL__LIFECYCLE__LIFECYCLE_UNSPECIFIED;
    CHECK(fl_decode_lifecycle(fake_pb(&f, "lifecycle.state", &l.base), &st) == -EINVAL);
    static const char *const kv2[] = {"state", "ready", NULL};
    CHECK(fl_decode_lifecycle(fake_map(&f, "lifecycle.state", kv2), &st) == -EINVAL);
    fake_free(&f);
}

int main(void)
{
    test_unit();
    test_health();
    test_threshold();
    test_uplink_and_lifecycle();
    return check_done();
}
