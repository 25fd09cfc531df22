/* The bus contract's table: families, owners, types, state prefixes, enum
 * words and typed access to event bodies. */
#include <hlbus/hlbus.h>
#include <string.h>

#include "check.h"
#include "health.pb-c.h"
#include "metrics.pb-c.h"
#include "orchestrator.pb-c.h"
#include "failure.pb-c.h"

static bool has_prefix(const char *p)
{
    for (const char *const *s = hlb_state_prefixes(); *s; s++)
        if (strcmp(*s, p) == 0)
            return true;
    return false;
}

/* hlctl pub's builder: KEY=VALUE words to a typed body, clear errors. */
static void test_kv(void)
{
    hlb_buf_t err = {0};
    char *ok[] = {"service=docker", "state=unhealthy", "reason=port 2375 refused",
                  "changes=3", "snapshot=yes"};
    Hl__ServiceHealth *h = (Hl__ServiceHealth *)hlb_kv_message(&hl__service_health__descriptor,
                                                                5, ok, &err);
    CHECK(h && strcmp(h->service, "docker") == 0 && h->state == HL__HEALTH_STATE__HEALTH_UNHEALTHY);
    CHECK(h && strcmp(h->reason, "port 2375 refused") == 0 && h->changes == 3 && h->snapshot);
    if (h) { /* it packs and decodes as itself */
        size_t len;
        uint8_t *b = hlb_body_encode(&h->base, &len);
        ProtobufCMessage *back = hlb_body_decode("hl.ServiceHealth", b, len);
        CHECK(back != NULL);
        if (back)
            protobuf_c_message_free_unpacked(back, NULL);
        free(b);
        protobuf_c_message_free_unpacked(&h->base, NULL);
    }
    /* a sub-message's field, a repeated string, a negative integer */
    char *nested[] = {"failure.state.active_state=failed", "failure.unit=a.service", "index=2"};
    Hl__PhaseStatus *p = (Hl__PhaseStatus *)hlb_kv_message(&hl__phase_status__descriptor, 3,
                                                            nested, &err);
    CHECK(p && p->failure && p->failure->state &&
          strcmp(p->failure->state->active_state, "failed") == 0);
    CHECK(p && p->failure && strcmp(p->failure->unit, "a.service") == 0 && p->index == 2);
    if (p)
        protobuf_c_message_free_unpacked(&p->base, NULL);
    char *lines[] = {"unit=x.service", "lines=a", "lines=b"};
    Hl__JournalExcerpt *j = (Hl__JournalExcerpt *)hlb_kv_message(&hl__journal_excerpt__descriptor,
                                                                 3, lines, &err);
    CHECK(j && j->n_lines == 2 && strcmp(j->lines[1], "b") == 0);
    if (j)
        protobuf_c_message_free_unpacked(&j->base, NULL);
    char *neg[] = {"exit_code=-3", "exit_code=2"}; /* the last word wins */
    Hl__ServiceState *u = (Hl__ServiceState *)hlb_kv_message(&hl__service_state__descriptor, 2,
                                                              neg, &err);
    CHECK(u && u->exit_code == 2);
    if (u)
        protobuf_c_message_free_unpacked(&u->base, NULL);
    /* errors name the word and what it takes */
    static const struct {
        char *word;
        const char *says;
    } bad[] = {
        {"colour=red", "has no field 'colour' (it has: service, state"},
        {"state=ok", "state: 'ok' is not one of unknown, healthy, degraded, unhealthy"},
        {"changes=-1", "changes: '-1' is not a non-negative integer"},
        {"changes=99999999999999999999", "changes: '99999999999999999999' is not"},
        {"snapshot=maybe", "snapshot: 'maybe' is not a bool"},
        {"checks=x", "is a list of messages"},
        {"service.x=1", "is not a single message"},
        {"noequals", "expected KEY=VALUE"},
        {"=x", "expected KEY=VALUE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hlb_buf_reset(&err);
        ProtobufCMessage *m = hlb_kv_message(&hl__service_health__descriptor, 1, &bad[i].word, &err);
        CHECK_MSG(!m && err.data && strstr(err.data, bad[i].says), "%s -> %s", bad[i].word,
                  err.data ? err.data : "(no error)");
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
    }
    char *nan[] = {"value=nan"};
    hlb_buf_reset(&err);
    CHECK(!hlb_kv_message(&hl__threshold__descriptor, 1, nan, &err) && strstr(err.data, "finite"));
    /* picking the type on a family with two */
    char *outcome[] = {"type=restart", "outcome=ok"};
    char *step[] = {"step=started", "action=restart"};
    CHECK(hlb_kv_fits(&hl__recovery_outcome__descriptor, 2, outcome));
    CHECK(!hlb_kv_fits(&hl__recovery_step__descriptor, 2, outcome));
    CHECK(hlb_kv_fits(&hl__recovery_step__descriptor, 2, step));
    hlb_buf_free(&err);
}

int main(void)
{
    /* families and their types */
    CHECK(hlb_topic_type("health.docker") == &hl__service_health__descriptor);
    CHECK(hlb_topic_type("service.hl-daemon") == &hl__service_state__descriptor);
    CHECK(hlb_topic_type("lifecycle.state") == &hl__lifecycle_state__descriptor);
    CHECK(hlb_topic_type("lifecycle.ack.hl-failure") == &hl__shutdown_ack__descriptor);
    CHECK(hlb_topic_type("metrics.threshold.cpu") == &hl__threshold__descriptor);
    CHECK(hlb_topic_type("test.x") == NULL);            /* free-form */
    CHECK(hlb_topic_type("recovery.claude-code") == NULL); /* two types */
    CHECK(hlb_topic_type_ok("recovery.x", &hl__recovery_step__descriptor));
    CHECK(hlb_topic_type_ok("recovery.x", &hl__recovery_outcome__descriptor));
    CHECK(!hlb_topic_type_ok("recovery.x", &hl__alert__descriptor));
    CHECK(!hlb_topic_type_ok("health.x", NULL)); /* no msgpack on a typed topic */
    CHECK(hlb_topic_type_ok("test.x", NULL));
    CHECK(hlb_topic_family("metrics.report.x") == NULL); /* removed: nobody published it */

    /* owners */
    CHECK(hlb_topic_owner_ok("health.docker", "hl-health"));
    CHECK(!hlb_topic_owner_ok("health.docker", "hl-metrics"));
    CHECK(hlb_topic_owner_ok("recovery.x", "hl-failure"));
    CHECK(hlb_topic_owner_ok("recovery.x", "hl-orchestrator"));
    CHECK(!hlb_topic_owner_ok("recovery.x", "hl-health"));
    CHECK(hlb_topic_owner_ok("daemon.hl-health", "hl-health"));
    CHECK(!hlb_topic_owner_ok("daemon.hl-health", "hl-healthx"));
    CHECK(!hlb_topic_owner_ok("daemon.hl-healthx", "hl-health"));
    CHECK(hlb_topic_owner_ok("log.hl-bus.info", "hl-bus"));
    CHECK(!hlb_topic_owner_ok("log.hl-bus.info", "hlctl"));
    CHECK(hlb_topic_owner_ok("test.anything", "hlctl"));
    CHECK(!hlb_topic_owner_ok("health.x", NULL));
    /* every typed family has an owner */
    for (const hlb_topic_family_t *f = hlb_topic_families(); f->prefix; f++)
        CHECK_MSG(f->owner && *f->owner && f->type, "%s", f->prefix);

    /* suffixes */
    CHECK(strcmp(hlb_topic_suffix("health.docker", "health."), "docker") == 0);
    CHECK(hlb_topic_suffix("health.", "health.") == NULL);
    CHECK(hlb_topic_suffix("service.x", "health.") == NULL);
    CHECK(hlb_topic_suffix(NULL, "health.") == NULL);

    /* the default state topics */
    CHECK(has_prefix("health."));
    CHECK(has_prefix("service."));
    CHECK(has_prefix("daemon."));
    CHECK(has_prefix("lifecycle.state"));
    CHECK(has_prefix("alert."));
    CHECK(has_prefix("metrics.threshold."));
    CHECK(!has_prefix("log."));
    CHECK(!has_prefix("failure."));
    CHECK(hlb_topic_is_state("health.x"));
    CHECK(!hlb_topic_is_state("lifecycle.ack.hl-failure"));
    CHECK(!hlb_topic_is_state("test.x"));

    /* enum words */
    CHECK(strcmp(hlb_pb_enum_word(&hl__health_state__descriptor, HL__HEALTH_STATE__HEALTH_HEALTHY),
                 "healthy") == 0);
    CHECK(strcmp(hlb_pb_enum_word(&hl__lifecycle__descriptor,
                               HL__LIFECYCLE__LIFECYCLE_SHUTTING_DOWN), "shutting-down") == 0);
    CHECK(strcmp(hlb_pb_enum_word(&hl__threshold_state__descriptor,
                               HL__THRESHOLD_STATE__THRESHOLD_FIRING), "firing") == 0);
    CHECK(strcmp(hlb_pb_enum_word(&hl__health_state__descriptor, 99), "unknown") == 0);
    int v = -1;
    CHECK(hlb_pb_enum_parse(&hl__health_state__descriptor, "degraded", &v) == 0 &&
          v == HL__HEALTH_STATE__HEALTH_DEGRADED);
    CHECK(hlb_pb_enum_parse(&hl__health_state__descriptor, "Unhealthy", &v) == 0 &&
          v == HL__HEALTH_STATE__HEALTH_UNHEALTHY);
    CHECK(hlb_pb_enum_parse(&hl__lifecycle__descriptor, "shutting-down", &v) == 0 &&
          v == HL__LIFECYCLE__LIFECYCLE_SHUTTING_DOWN);
    CHECK(hlb_pb_enum_parse(&hl__threshold_state__descriptor, "THRESHOLD_CLEARED", &v) == 0 &&
          v == HL__THRESHOLD_STATE__THRESHOLD_CLEARED);
    CHECK(hlb_pb_enum_parse(&hl__phase_state__descriptor, "6", &v) == 0 &&
          v == HL__PHASE_STATE__PHASE_FAILED);
    CHECK(hlb_pb_enum_parse(&hl__health_state__descriptor, "ok", &v) == -EINVAL);
    CHECK(hlb_pb_enum_parse(&hl__health_state__descriptor, "7", &v) == -EINVAL);
    CHECK(hlb_pb_enum_parse(&hl__health_state__descriptor, "", &v) == -EINVAL);

    /* typed bodies */
    Hl__ServiceHealth sh = HL__SERVICE_HEALTH__INIT;
    Hl__Envelope env = HL__ENVELOPE__INIT;
    env.source = "hl-health";
    env.type = "hl.ServiceHealth";
    hlb_event_t ev = {.topic = "health.docker", .env = &env, .msg = &sh.base};
    CHECK(hlb_event_as(&ev, &hl__service_health__descriptor) == &sh);
    CHECK(hlb_event_as(&ev, &hl__service_state__descriptor) == NULL); /* another type */
    env.type = HLB_TYPE_MSGPACK;
    ev.msg = NULL;
    CHECK(hlb_event_as(&ev, &hl__service_health__descriptor) == NULL); /* a free-form map */
    env.type = "hl.NoSuchType";
    CHECK(hlb_event_as(&ev, &hl__service_health__descriptor) == NULL);
    CHECK(hlb_event_as(NULL, &hl__service_health__descriptor) == NULL);
    test_kv();
    return check_done();
}
