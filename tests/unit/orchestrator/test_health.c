/* Reading health.<service> events: the state by field name from any
 * registered message or a msgpack map; stale and older reports ignored. */
#include <string.h>
#include "check.h"
#include "orch.h"

static void test_normalize(void)
{
    CHECK(!strcmp(health_normalize("healthy"), "healthy"));
    CHECK(!strcmp(health_normalize("Degraded"), "degraded"));
    CHECK(!strcmp(health_normalize("HEALTH_STATE_UNHEALTHY"), "unhealthy"));
    CHECK(!strcmp(health_normalize("HEALTH_UNKNOWN"), "unknown"));
    CHECK(health_normalize("XHEALTHY") == NULL);
    CHECK(health_normalize("running") == NULL);
    CHECK(health_normalize("") == NULL && health_normalize(NULL) == NULL);
}

static hlb_event_t map_event(const char *topic, const char *key, const char *state, uint64_t ts,
                             hlb_map_t **keep, Hl__Envelope *env)
{
    *keep = hlb_map_new();
    hlb_map_str(*keep, key, state);
    size_t len;
    const void *data = hlb_map_data(*keep, &len);
    hl__envelope__init(env);
    env->source = "hl-health";
    env->ts_us = ts;
    env->type = HLB_TYPE_MSGPACK;
    env->body.data = (uint8_t *) data;
    env->body.len = len;
    return (hlb_event_t) {.topic = topic, .env = env};
}

static void test_state_of(void)
{
    hlb_map_t *m;
    Hl__Envelope env;
    hlb_event_t ev = map_event("health.x", "state", "degraded", 1, &m, &env);
    CHECK(!strcmp(health_state_of(&ev), "degraded"));
    hlb_map_destroy(&m);
    ev = map_event("health.x", "status", "HEALTHY", 1, &m, &env);
    CHECK(!strcmp(health_state_of(&ev), "healthy"));
    hlb_map_destroy(&m);
    ev = map_event("health.x", "other", "healthy", 1, &m, &env);
    CHECK(health_state_of(&ev) == NULL);
    hlb_map_destroy(&m);
    /* A registered message with a string "state". */
    Hl__InstanceState is = HL__INSTANCE_STATE__INIT;
    is.state = "unhealthy";
    ev = (hlb_event_t) {.topic = "health.x", .msg = &is.base};
    CHECK(!strcmp(health_state_of(&ev), "unhealthy"));
    /* One without a health word in it. */
    Hl__LifecycleState lc = HL__LIFECYCLE_STATE__INIT;
    lc.state = "ready";
    ev = (hlb_event_t) {.topic = "health.x", .msg = &lc.base};
    CHECK(health_state_of(&ev) == NULL);
}

static void test_reports(void)
{
    hlb_diag_t d = {0};
    orch_t o = {0};
    o.cfg = orch_cfg_parse(NULL, &d);
    CHECK(o.cfg != NULL);
    hlb_map_t *m;
    Hl__Envelope env;
    hlb_event_t ev = map_event("health.hl-daemon", "state", "healthy", 1000, &m, &env);
    health_event(&o, &ev);
    hlb_map_destroy(&m);
    CHECK(health_ok(&o, "hl-daemon", 500));
    CHECK(!health_ok(&o, "hl-daemon", 2000)); /* reported before the unit (re)started */
    CHECK(!health_ok(&o, "claude-code", 0));  /* never reported */
    /* An older report (a replay) does not overwrite a newer one. */
    ev = map_event("health.hl-daemon", "state", "unhealthy", 900, &m, &env);
    health_event(&o, &ev);
    hlb_map_destroy(&m);
    CHECK(!strcmp(health_get(&o, "hl-daemon")->state, "healthy"));
    ev = map_event("health.hl-daemon", "state", "degraded", 3000, &m, &env);
    health_event(&o, &ev);
    hlb_map_destroy(&m);
    CHECK(!health_ok(&o, "hl-daemon", 2000));
    o.cfg->accept_degraded = true;
    CHECK(health_ok(&o, "hl-daemon", 2000));
    /* Bad topics and bodies change nothing. */
    ev = map_event("health.", "state", "healthy", 4000, &m, &env);
    health_event(&o, &ev);
    hlb_map_destroy(&m);
    ev = map_event("health.Bad Name", "state", "healthy", 4000, &m, &env);
    health_event(&o, &ev);
    hlb_map_destroy(&m);
    CHECK(zhashx_size(o.health) == 1);
    zhashx_destroy(&o.health);
    orch_cfg_destroy(&o.cfg);
    hlb_diag_free(&d);
}

int main(void)
{
    test_normalize();
    test_state_of();
    test_reports();
    return check_done();
}
