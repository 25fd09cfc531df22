/* Bus-derived metrics: health (typed by reflection and as msgpack),
 * service, failure, recovery, alert, daemon and report events, hl-bus
 * stats, replays, bad input and the series cap; checked on the rendered
 * exposition. */
#include <hlbus/hlbus.h>
#include <string.h>
#include "busmetrics.h"
#include "check.h"
#include "expo.h"
#include "fake_health.pb-c.h"
#include "health.pb-c.h"
#include "orchestrator.pb-c.h"
#include "metrics.pb-c.h"

static char *render(hlm_busm_t *b)
{
    hlm_expo_t *e = hlm_expo_new();
    hlm_busm_render(b, e);
    char *t = hlm_expo_steal(e, NULL);
    hlm_expo_destroy(&e);
    return t;
}

static bool has_line(const char *text, const char *line)
{
    size_t l = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p += l)
        if ((p == text || p[-1] == '\n') && p[l] == '\n')
            return true;
    return false;
}

#define HAS(text, line) CHECK_MSG(has_line(text, line), "missing line: %s\n--- in:\n%s", line, text)
#define HASNT(text, s) CHECK_MSG(!strstr(text, s), "unexpected: %s\n--- in:\n%s", s, text)

static void event_map(hlm_busm_t *b, const char *topic, hlb_map_t *m, bool replay)
{
    size_t len;
    const void *data = hlb_map_data(m, &len);
    hlm_busm_event(b, topic, "test", HLB_TYPE_MSGPACK, NULL, data, len, replay);
}

static void event_msg(hlm_busm_t *b, const char *topic, const char *source,
                      const ProtobufCMessage *m, bool replay)
{
    size_t len;
    uint8_t *data = hlb_body_encode(m, &len);
    hlm_busm_event(b, topic, source, m->descriptor->name, m, data, len, replay);
    free(data);
}

static void test_health(void)
{
    hlm_busm_t *b = hlm_busm_new(0);
    /* typed, through reflection: enum state and a check list */
    Hltest__FakeCheck c1 = HLTEST__FAKE_CHECK__INIT, c2 = HLTEST__FAKE_CHECK__INIT;
    c1.name = "http";
    c1.ok = 1;
    c1.duration_us = 1500;
    c2.name = "tcp";
    c2.ok = 0;
    c2.consecutive_failures = 3;
    c2.detail_case = HLTEST__FAKE_CHECK__DETAIL_STATUS;
    c2.status = "failing";
    Hltest__FakeCheck *checks[] = {&c1, &c2};
    Hltest__FakeHealth h = HLTEST__FAKE_HEALTH__INIT;
    h.service = "claude-code";
    h.state = HLTEST__FAKE_HEALTH__HEALTH_STATE__HEALTH_STATE_DEGRADED;
    h.n_checks = 2;
    h.checks = checks;
    event_msg(b, "health.claude-code", "hl-health", &h.base, false);
    char *t = render(b);
    HAS(t, "hl_service_health{service=\"claude-code\"} 0.5");
    HAS(t, "hl_service_health_state{service=\"claude-code\",state=\"degraded\"} 1");
    HAS(t, "hl_service_health_state{service=\"claude-code\",state=\"healthy\"} 0");
    HAS(t, "hl_check_up{check=\"http\",service=\"claude-code\"} 1");
    HAS(t, "hl_check_up{check=\"tcp\",service=\"claude-code\"} 0");
    HAS(t, "hl_check_duration_seconds{check=\"http\",service=\"claude-code\"} 0.0015");
    HAS(t, "hl_check_consecutive_failures{check=\"tcp\",service=\"claude-code\"} 3");
    HAS(t, "hl_metrics_bus_events_total{prefix=\"health\"} 1");
    free(t);

    /* msgpack, and state words in other spellings */
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "state", "Unhealthy");
    event_map(b, "health.hl-daemon", m, false);
    hlb_map_destroy(&m);
    m = hlb_map_new();
    hlb_map_str(m, "status", "HEALTHY");
    event_map(b, "health.docker", m, true); /* a replay still sets state */
    hlb_map_destroy(&m);
    h.state = HLTEST__FAKE_HEALTH__HEALTH_STATE__HEALTH_STATE_HEALTHY;
    h.n_checks = 0;
    event_msg(b, "health.claude-code", "hl-health", &h.base, false);
    t = render(b);
    HAS(t, "hl_service_health{service=\"hl-daemon\"} 0");
    HAS(t, "hl_service_health{service=\"docker\"} 1");
    HAS(t, "hl_service_health{service=\"claude-code\"} 1");
    HAS(t, "hl_service_health_state{service=\"claude-code\",state=\"degraded\"} 0");
    HAS(t, "hl_metrics_bus_events_total{prefix=\"health\"} 3"); /* the replay is not counted */
    free(t);

    /* unknown: the gauge goes away, the state set says unknown */
    h.state = HLTEST__FAKE_HEALTH__HEALTH_STATE__HEALTH_STATE_UNSPECIFIED;
    event_msg(b, "health.claude-code", "hl-health", &h.base, false);
    t = render(b);
    HASNT(t, "hl_service_health{service=\"claude-code\"}");
    HAS(t, "hl_service_health_state{service=\"claude-code\",state=\"unknown\"} 1");
    free(t);

    /* bad input: no state field, garbage msgpack, a topic without a name */
    uint64_t rej = hlm_busm_rejected(b);
    m = hlb_map_new();
    hlb_map_int(m, "colour", 3);
    event_map(b, "health.x", m, false);
    hlb_map_destroy(&m);
    hlm_busm_event(b, "health.y", "t", HLB_TYPE_MSGPACK, NULL, "\xc1\xc1", 2, false);
    hlm_busm_event(b, "health.", "t", HLB_TYPE_MSGPACK, NULL, "", 0, false);
    hlm_busm_event(b, "health", "t", "hl.Unknown", NULL, "abc", 3, false);
    CHECK(hlm_busm_rejected(b) == rej + 2);
    t = render(b);
    HASNT(t, "service=\"x\"");
    HASNT(t, "service=\"y\"");
    free(t);
    hlm_busm_destroy(&b);
    CHECK(b == NULL);
}

static void test_counters(void)
{
    hlm_busm_t *b = hlm_busm_new(0);
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "unit", "claude-code.service");
    event_map(b, "failure.service_crash", m, false);
    event_map(b, "failure.service_crash", m, false);
    event_map(b, "failure.service_crash", m, true); /* replays never count */
    hlb_map_destroy(&m);
    hlm_busm_event(b, "failure.network_failure", "hl-failure", "hl.Opaque", NULL, "x", 1, false);

    Hltest__FakeRecovery r = HLTEST__FAKE_RECOVERY__INIT;
    r.unit = "claude-code.service";
    r.type = "restart";
    r.outcome = "ok";
    r.started_us = 1000000;
    r.finished_us = 3500000;
    event_msg(b, "recovery.claude-code", "hl-orchestrator", &r.base, false);
    event_msg(b, "recovery.claude-code", "hl-orchestrator", &r.base, false);
    m = hlb_map_new();
    hlb_map_str(m, "summary", "flapping");
    event_map(b, "alert.flap.claude-code", m, false);
    hlb_map_destroy(&m);
    m = hlb_map_new();
    hlb_map_str(m, "active_state", "failed");
    hlb_map_int(m, "n_restarts", 4);
    event_map(b, "service.hl-daemon", m, false);
    hlb_map_destroy(&m);

    Hl__DaemonStatus ds = HL__DAEMON_STATUS__INIT;
    ds.name = "hl-health";
    ds.version = "0.1.0";
    ds.state = "starting";
    ds.started_us = 1700000000000000ull;
    ds.published = 42;
    ds.notify_dropped = 7;
    event_msg(b, "daemon.hl-health", "hl-health", &ds.base, false);
    ds.state = "running";
    event_msg(b, "daemon.hl-health", "hl-health", &ds.base, false);

    char *t = render(b);
    HAS(t, "hl_failures_total{service=\"claude-code\",type=\"service_crash\"} 2");
    HAS(t, "hl_failures_total{service=\"\",type=\"network_failure\"} 1");
    HAS(t, "hl_recoveries_total{action=\"restart\",outcome=\"ok\",service=\"claude-code\"} 2");
    HAS(t, "hl_recovery_last_duration_seconds{service=\"claude-code\"} 2.5");
    HAS(t, "hl_alerts_total{alert=\"flap.claude-code\",severity=\"\"} 1");
    HAS(t, "hl_service_active{service=\"hl-daemon\"} 0");
    HAS(t, "hl_service_restarts{service=\"hl-daemon\"} 4");
    HAS(t, "hl_daemon_info{daemon=\"hl-health\",state=\"running\",version=\"0.1.0\"} 1");
    HASNT(t, "state=\"starting\""); /* the info series is replaced, not added */
    HAS(t, "hl_daemon_published_total{daemon=\"hl-health\"} 42");
    HAS(t, "hl_daemon_notify_dropped_total{daemon=\"hl-health\"} 7");
    HAS(t, "hl_daemon_start_time_seconds{daemon=\"hl-health\"} 1.7e+09");
    HAS(t, "# TYPE hl_failures_total counter");
    /* families come out sorted, each once */
    CHECK(strstr(t, "# TYPE hl_alerts_total") < strstr(t, "# TYPE hl_failures_total"));
    free(t);
    hlm_busm_destroy(&b);
}

/* The message shapes hl-health and hl-failure publish. */
static void test_peer_shapes(void)
{
    hlm_busm_t *b = hlm_busm_new(0);
    Hltest__CheckHealthShape c1 = HLTEST__CHECK_HEALTH_SHAPE__INIT, c2 = HLTEST__CHECK_HEALTH_SHAPE__INIT,
                             c3 = HLTEST__CHECK_HEALTH_SHAPE__INIT;
    c1.name = "http";
    c1.state = "healthy";
    c1.last_result = "pass";
    c2.name = "tcp";
    c2.state = "unhealthy";
    c2.last_result = "fail";
    c2.bad_streak = 4;
    c3.name = "exec"; /* no debounced state yet: the raw result */
    c3.state = "";
    c3.last_result = "warn";
    Hltest__CheckHealthShape *cs[] = {&c1, &c2, &c3};
    Hltest__ServiceHealthShape h = HLTEST__SERVICE_HEALTH_SHAPE__INIT;
    h.service = "hl-daemon";
    h.state = "degraded";
    h.n_checks = 3;
    h.checks = cs;
    event_msg(b, "health.hl-daemon", "hl-health", &h.base, false);

    Hltest__FailureShape f = HLTEST__FAILURE_SHAPE__INIT;
    f.type = "service_crash";
    f.service = "hl-daemon";
    event_msg(b, "failure.service_crash", "hl-failure", &f.base, false);
    f.reasserted = 1; /* the same failure reported again: not counted */
    event_msg(b, "failure.service_crash", "hl-failure", &f.base, false);

    Hltest__RecoveryStepShape st = HLTEST__RECOVERY_STEP_SHAPE__INIT;
    st.target = "hl-daemon";
    st.step = "started";
    st.action = "restart";
    event_msg(b, "recovery.hl-daemon", "hl-failure", &st.base, false);
    st.step = "recovered";
    st.duration_ms = 4200;
    event_msg(b, "recovery.hl-daemon", "hl-failure", &st.base, false);

    Hltest__AlertShape al = HLTEST__ALERT_SHAPE__INIT;
    al.target = "hl-daemon";
    al.severity = "critical";
    al.reason = "flapping";
    al.active = 1;
    event_msg(b, "alert.hl-daemon", "hl-failure", &al.base, false);
    event_msg(b, "alert.hl-daemon", "hl-failure", &al.base, true); /* replay: no count */
    char *t = render(b);
    HAS(t, "hl_service_health{service=\"hl-daemon\"} 0.5");
    HAS(t, "hl_check_up{check=\"http\",service=\"hl-daemon\"} 1");
    HAS(t, "hl_check_up{check=\"tcp\",service=\"hl-daemon\"} 0");
    HAS(t, "hl_check_up{check=\"exec\",service=\"hl-daemon\"} 0.5");
    HAS(t, "hl_check_consecutive_failures{check=\"tcp\",service=\"hl-daemon\"} 4");
    HAS(t, "hl_failures_total{service=\"hl-daemon\",type=\"service_crash\"} 1");
    HAS(t, "hl_recovery_steps_total{action=\"restart\",service=\"hl-daemon\",step=\"started\"} 1");
    HAS(t, "hl_recovery_steps_total{action=\"restart\",service=\"hl-daemon\",step=\"recovered\"} 1");
    HAS(t, "hl_recovery_time_seconds{service=\"hl-daemon\"} 4.2");
    HASNT(t, "hl_recoveries_total"); /* steps are not actions */
    HAS(t, "hl_alerts_total{alert=\"hl-daemon\",severity=\"critical\"} 1");
    HAS(t, "hl_alert_active{alert=\"hl-daemon\",reason=\"flapping\",severity=\"critical\"} 1");
    free(t);
    al.active = 0;
    al.reason = "rearmed";
    event_msg(b, "alert.hl-daemon", "hl-failure", &al.base, false);
    t = render(b);
    HAS(t, "hl_alert_active{alert=\"hl-daemon\",reason=\"rearmed\",severity=\"critical\"} 0");
    HASNT(t, "reason=\"flapping\""); /* the raised series went with it */
    HAS(t, "hl_alerts_total{alert=\"hl-daemon\",severity=\"critical\"} 1");
    free(t);
    hlm_busm_destroy(&b);
}

/* The real messages of hl-health and hl-orchestrator (now in proto/): a
 * field renamed there breaks this test, not production silently. */
static void test_real_messages(void)
{
    hlm_busm_t *b = hlm_busm_new(0);
    Hl__CheckHealth c1 = HL__CHECK_HEALTH__INIT, c2 = HL__CHECK_HEALTH__INIT;
    c1.name = "http-health";
    c1.state = "healthy";
    c1.last_result = "pass";
    c2.name = "port";
    c2.state = "unhealthy";
    c2.last_result = "fail";
    c2.bad_streak = 5;
    Hl__CheckHealth *cs[] = {&c1, &c2};
    Hl__ServiceHealth h = HL__SERVICE_HEALTH__INIT;
    h.service = "claude-code";
    h.state = "degraded";
    h.n_checks = 2;
    h.checks = cs;
    event_msg(b, "health.claude-code", "hl-health", &h.base, false);
    Hl__ServiceState ss = HL__SERVICE_STATE__INIT;
    ss.unit = "claude-code.service";
    ss.active_state = "active";
    ss.n_restarts = 2;
    event_msg(b, "service.claude-code", "hl-orchestrator", &ss.base, false);
    Hl__RecoveryOutcome ro = HL__RECOVERY_OUTCOME__INIT;
    ro.unit = "claude-code.service";
    ro.type = "restart";
    ro.outcome = "ok";
    ro.started_us = 10000000;
    ro.finished_us = 11500000;
    event_msg(b, "recovery.claude-code", "hl-orchestrator", &ro.base, false);
    char *t = render(b);
    HAS(t, "hl_service_health{service=\"claude-code\"} 0.5");
    HAS(t, "hl_check_up{check=\"http-health\",service=\"claude-code\"} 1");
    HAS(t, "hl_check_up{check=\"port\",service=\"claude-code\"} 0");
    HAS(t, "hl_check_consecutive_failures{check=\"port\",service=\"claude-code\"} 5");
    HAS(t, "hl_service_active{service=\"claude-code\"} 1");
    HAS(t, "hl_service_restarts{service=\"claude-code\"} 2");
    HAS(t, "hl_recoveries_total{action=\"restart\",outcome=\"ok\",service=\"claude-code\"} 1");
    HAS(t, "hl_recovery_last_duration_seconds{service=\"claude-code\"} 1.5");
    CHECK(hlm_busm_rejected(b) == 0);
    free(t);
    hlm_busm_destroy(&b);
}

static void test_bus_stats(void)
{
    hlm_busm_t *b = hlm_busm_new(0);
    Hl__BusStats st = HL__BUS_STATS__INIT;
    Hl__BusStats__Prefix p1 = HL__BUS_STATS__PREFIX__INIT, p2 = HL__BUS_STATS__PREFIX__INIT;
    p1.prefix = "health.";
    p1.messages = 10;
    p1.bytes = 1000;
    p2.prefix = "log.";
    p2.messages = 7;
    p2.bytes = 300;
    Hl__BusStats__Prefix *ps[] = {&p1, &p2};
    Hl__BusStats__Source s1 = HL__BUS_STATS__SOURCE__INIT;
    s1.source = "hl-health";
    s1.messages = 17;
    s1.gaps = 2;
    Hl__BusStats__Source *ss[] = {&s1};
    st.n_prefixes = 2;
    st.prefixes = ps;
    st.n_sources = 1;
    st.sources = ss;
    st.malformed = 1;
    st.subscriptions = 5;
    hlm_busm_bus_stats(b, &st);
    char *t = render(b);
    HAS(t, "hl_bus_up 1");
    HAS(t, "hl_bus_messages_total{prefix=\"health.\"} 10");
    HAS(t, "hl_bus_bytes_total{prefix=\"log.\"} 300");
    HAS(t, "hl_bus_source_gaps_total{source=\"hl-health\"} 2");
    HAS(t, "hl_bus_malformed_total 1");
    HAS(t, "hl_bus_subscriptions 5");
    free(t);
    /* hl-bus stopped answering: no stale figures, up 0 */
    hlm_busm_bus_stats(b, NULL);
    t = render(b);
    HAS(t, "hl_bus_up 0");
    HASNT(t, "hl_bus_messages_total");
    HASNT(t, "hl_bus_malformed_total");
    free(t);
    hlm_busm_destroy(&b);
}

static void test_reports(void)
{
    hlm_busm_t *b = hlm_busm_new(0);
    Hl__MetricsReport__Sample s1 = HL__METRICS_REPORT__SAMPLE__INIT,
                              s2 = HL__METRICS_REPORT__SAMPLE__INIT,
                              bad1 = HL__METRICS_REPORT__SAMPLE__INIT,
                              bad2 = HL__METRICS_REPORT__SAMPLE__INIT,
                              bad3 = HL__METRICS_REPORT__SAMPLE__INIT;
    Hl__MetricsReport__Sample__LabelsEntry l1 = HL__METRICS_REPORT__SAMPLE__LABELS_ENTRY__INIT,
                                           lbad = HL__METRICS_REPORT__SAMPLE__LABELS_ENTRY__INIT;
    l1.key = "channel";
    l1.value = "stdout";
    Hl__MetricsReport__Sample__LabelsEntry *ls1[] = {&l1};
    s1.name = "hl_stdio_clients";
    s1.help = "Connected clients.";
    s1.n_labels = 1;
    s1.labels = ls1;
    s1.value = 3;
    s2.name = "hl_stdio_bytes_total";
    s2.type = "counter";
    s2.value = 1234;
    bad1.name = "node_load1"; /* not hl_ */
    bad2.name = "hl_service_health"; /* hl-metrics' own */
    lbad.key = "source";
    lbad.value = "spoofed";
    Hl__MetricsReport__Sample__LabelsEntry *lsb[] = {&lbad};
    bad3.name = "hl_x";
    bad3.n_labels = 1;
    bad3.labels = lsb;
    Hl__MetricsReport__Sample *all[] = {&s1, &s2, &bad1, &bad2, &bad3};
    Hl__MetricsReport rep = HL__METRICS_REPORT__INIT;
    rep.n_samples = 5;
    rep.samples = all;
    event_msg(b, "metrics.report.hl-stdio", "hl-stdio", &rep.base, false);
    CHECK(hlm_busm_rejected(b) == 3);
    char *t = render(b);
    HAS(t, "# HELP hl_stdio_clients Connected clients.");
    HAS(t, "# TYPE hl_stdio_clients gauge");
    HAS(t, "hl_stdio_clients{channel=\"stdout\",source=\"hl-stdio\"} 3");
    HAS(t, "# TYPE hl_stdio_bytes_total counter");
    HAS(t, "hl_stdio_bytes_total{source=\"hl-stdio\"} 1234");
    HASNT(t, "node_load1");
    HASNT(t, "spoofed");
    free(t);
    /* the next report replaces the previous one */
    Hl__MetricsReport__Sample *one[] = {&s2};
    rep.n_samples = 1;
    rep.samples = one;
    s2.value = 2000;
    event_msg(b, "metrics.report.hl-stdio", "hl-stdio", &rep.base, false);
    t = render(b);
    HASNT(t, "hl_stdio_clients");
    HAS(t, "hl_stdio_bytes_total{source=\"hl-stdio\"} 2000");
    free(t);
    /* a family already written by someone else is skipped, not duplicated */
    hlm_expo_t *e = hlm_expo_new();
    hlm_family(e, "hl_stdio_bytes_total", HLM_COUNTER, "taken");
    hlm_busm_render(b, e);
    const char *txt = hlm_expo_text(e, NULL);
    const char *first = strstr(txt, "# TYPE hl_stdio_bytes_total");
    CHECK(first && !strstr(first + 1, "# TYPE hl_stdio_bytes_total"));
    HASNT(txt, "hl_stdio_bytes_total{source");
    hlm_expo_destroy(&e);
    hlm_busm_destroy(&b);
}

static void test_cap(void)
{
    hlm_busm_t *b = hlm_busm_new(10);
    char topic[64];
    for (int i = 0; i < 50; i++) {
        hlb_map_t *m = hlb_map_new();
        hlb_map_str(m, "state", "healthy");
        snprintf(topic, sizeof topic, "health.svc%02d", i);
        event_map(b, topic, m, false);
        hlb_map_destroy(&m);
    }
    CHECK(hlm_busm_series(b) == 10);
    CHECK(hlm_busm_dropped(b) > 0);
    char *t = render(b);
    CHECK(strlen(t) < 4096);
    free(t);
    hlm_busm_destroy(&b);
}

int main(void)
{
    test_health();
    test_counters();
    test_peer_shapes();
    test_real_messages();
    test_bus_stats();
    test_reports();
    test_cap();
    return check_done();
}
