/* Reading health.<service> events: hl-health's typed hl.ServiceHealth only
 * (a free-form map or another type is refused); older reports ignored. */
#include <string.h>
#include "check.h"
#include "orch.h"

typedef struct {
    Hl__Envelope env;
    Hl__ServiceHealth h;
    hlb_map_t *map;
} body_t;

/* A typed health event with STATE published at TS. */
static hlb_event_t health_ev(const char *topic, Hl__HealthState state, uint64_t ts, body_t *b)
{
    hl__envelope__init(&b->env);
    hl__service_health__init(&b->h);
    b->env.source = "hl-health";
    b->env.ts_us = ts;
    b->env.type = "hl.ServiceHealth";
    b->h.state = state;
    return (hlb_event_t) {.topic = topic, .env = &b->env, .msg = &b->h.base};
}

static void test_state_of(void)
{
    body_t b;
    hlb_event_t ev = health_ev("health.x", HL__HEALTH_STATE__HEALTH_DEGRADED, 1, &b);
    CHECK(!strcmp(health_state_of(&ev), "degraded"));
    ev = health_ev("health.x", HL__HEALTH_STATE__HEALTH_UNKNOWN, 1, &b);
    CHECK(!strcmp(health_state_of(&ev), "unknown"));
    /* A free-form map with the right words is not hl-health's message. */
    b.map = hlb_map_new();
    hlb_map_str(b.map, "state", "healthy");
    size_t len;
    const void *data = hlb_map_data(b.map, &len);
    b.env.type = HLB_TYPE_MSGPACK;
    b.env.body.data = (uint8_t *) data;
    b.env.body.len = len;
    ev = (hlb_event_t) {.topic = "health.x", .env = &b.env};
    CHECK(health_state_of(&ev) == NULL);
    hlb_map_destroy(&b.map);
    /* Another registered type on the topic. */
    Hl__LifecycleState lc = HL__LIFECYCLE_STATE__INIT;
    ev = (hlb_event_t) {.topic = "health.x", .env = &b.env, .msg = &lc.base};
    CHECK(health_state_of(&ev) == NULL);
}

static void test_reports(void)
{
    hlb_diag_t d = {0};
    orch_t o = {0};
    o.cfg = orch_cfg_parse(NULL, &d);
    CHECK(o.cfg != NULL);
    body_t b;
    hlb_event_t ev = health_ev("health.hl-daemon", HL__HEALTH_STATE__HEALTH_HEALTHY, 1000, &b);
    health_event(&o, &ev);
    CHECK(health_ok(&o, "hl-daemon", 500));
    CHECK(!health_ok(&o, "hl-daemon", 2000)); /* reported before the unit (re)started */
    CHECK(!health_ok(&o, "claude-code", 0));  /* never reported */
    /* An older report (a replay) does not overwrite a newer one. */
    ev = health_ev("health.hl-daemon", HL__HEALTH_STATE__HEALTH_UNHEALTHY, 900, &b);
    health_event(&o, &ev);
    CHECK(!strcmp(health_get(&o, "hl-daemon")->state, "healthy"));
    ev = health_ev("health.hl-daemon", HL__HEALTH_STATE__HEALTH_DEGRADED, 3000, &b);
    health_event(&o, &ev);
    CHECK(!health_ok(&o, "hl-daemon", 2000));
    o.cfg->accept_degraded = true;
    CHECK(health_ok(&o, "hl-daemon", 2000));
    /* Bad topics and bodies change nothing. */
    ev = health_ev("health.", HL__HEALTH_STATE__HEALTH_HEALTHY, 4000, &b);
    health_event(&o, &ev);
    ev = health_ev("health.Bad Name", HL__HEALTH_STATE__HEALTH_HEALTHY, 4000, &b);
    health_event(&o, &ev);
    CHECK(zhashx_size(o.health) == 1);
    zhashx_destroy(&o.health);
    orch_cfg_destroy(&o.cfg);
    hlb_diag_free(&d);
}

int main(void)
{
    test_state_of();
    test_reports();
    return check_done();
}
