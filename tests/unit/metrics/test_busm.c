/* Bus-derived metrics from the typed messages of the bus contract
 * (health, service, failure, recovery, alert, daemon, uplink, backup), hl-bus
 * stats,
 * replays, refused bodies (free-form maps, other types) and the series cap;
 * checked on the rendered exposition. */
#include <hlbus/hlbus.h>
#include <string.h>
#include "busmetrics.h"
#include "check.h"
#include "expo.h"
#include "health.pb-c.h"
#include "orchestrator.pb-c.h"
#include "backup.pb-c.h"
#include "failure.pb-c.h"
#include "uplink.pb-c.h"
#include "gitsync.pb-c.h"

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
    Hl__CheckHealth c1 = HL__CHECK_HEALTH__INIT, c2 = HL__CHECK_HEALTH__INIT,
                    c3 = HL__CHECK_HEALTH__INIT;
    c1.name = "http";
    c1.state = HL__HEALTH_STATE__HEALTH_HEALTHY;
    c1.last_result = "pass";
    c1.last_run_us = 1;
    c1.last_duration_us = 1500;
    c2.name = "tcp";
    c2.state = HL__HEALTH_STATE__HEALTH_UNHEALTHY;
    c2.last_result = "fail";
    c2.bad_streak = 3;
    c3.name = "exec"; /* not run yet: no up series, no duration */
    Hl__CheckHealth *checks[] = {&c1, &c2, &c3};
    Hl__ServiceHealth h = HL__SERVICE_HEALTH__INIT;
    h.service = "claude-code";
    h.state = HL__HEALTH_STATE__HEALTH_DEGRADED;
    h.n_checks = 3;
    h.checks = checks;
    event_msg(b, "health.claude-code", "hl-health", &h.base, false);
    char *t = render(b);
    HAS(t, "hl_service_health{service=\"claude-code\"} 0.5");
    HAS(t, "hl_service_health_state{service=\"claude-code\",state=\"degraded\"} 1");
    HAS(t, "hl_service_health_state{service=\"claude-code\",state=\"healthy\"} 0");
    HAS(t, "hl_check_up{check=\"http\",service=\"claude-code\"} 1");
    HAS(t, "hl_check_up{check=\"tcp\",service=\"claude-code\"} 0");
    HASNT(t, "hl_check_up{check=\"exec\"");
    HAS(t, "hl_check_duration_seconds{check=\"http\",service=\"claude-code\"} 0.0015");
    HAS(t, "hl_check_consecutive_failures{check=\"tcp\",service=\"claude-code\"} 3");
    HAS(t, "hl_metrics_bus_events_total{prefix=\"health\"} 1");
    free(t);

    Hl__ServiceHealth h2 = HL__SERVICE_HEALTH__INIT;
    h2.state = HL__HEALTH_STATE__HEALTH_UNHEALTHY;
    event_msg(b, "health.hl-daemon", "hl-health", &h2.base, false);
    h2.state = HL__HEALTH_STATE__HEALTH_HEALTHY;
    event_msg(b, "health.docker", "hl-health", &h2.base, true); /* a replay still sets state */
    h.state = HL__HEALTH_STATE__HEALTH_HEALTHY;
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
    h.state = HL__HEALTH_STATE__HEALTH_UNKNOWN;
    event_msg(b, "health.claude-code", "hl-health", &h.base, false);
    t = render(b);
    HASNT(t, "hl_service_health{service=\"claude-code\"}");
    HAS(t, "hl_service_health_state{service=\"claude-code\",state=\"unknown\"} 1");
    free(t);

    /* refused: a free-form map (even with the right words), another type,
     * garbage, an unregistered type; a topic without a name is not ours */
    uint64_t rej = hlm_busm_rejected(b);
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "state", "healthy");
    event_map(b, "health.x", m, false);
    hlb_map_destroy(&m);
    Hl__ServiceState ss = HL__SERVICE_STATE__INIT;
    event_msg(b, "health.y", "hl-health", &ss.base, false);
    hlm_busm_event(b, "health.z", "t", HLB_TYPE_MSGPACK, NULL, "\xc1\xc1", 2, false);
    hlm_busm_event(b, "health.w", "t", "hl.Unknown", NULL, "abc", 3, false);
    hlm_busm_event(b, "health.", "t", HLB_TYPE_MSGPACK, NULL, "", 0, false);
    CHECK_MSG(hlm_busm_rejected(b) == rej + 4, "rejected %llu",
              (unsigned long long)(hlm_busm_rejected(b) - rej));
    t = render(b);
    HASNT(t, "service=\"x\"");
    HASNT(t, "service=\"y\"");
    HASNT(t, "service=\"z\"");
    free(t);
    hlm_busm_destroy(&b);
    CHECK(b == NULL);
}

static void test_counters(void)
{
    hlm_busm_t *b = hlm_busm_new(0);
    Hl__Failure f = HL__FAILURE__INIT;
    f.type = "service_crash";
    f.unit = "claude-code.service";
    event_msg(b, "failure.service_crash", "hl-failure", &f.base, false);
    event_msg(b, "failure.service_crash", "hl-failure", &f.base, false);
    event_msg(b, "failure.service_crash", "hl-failure", &f.base, true); /* replays never count */
    f.reasserted = 1; /* the same failure reported again: not counted */
    event_msg(b, "failure.service_crash", "hl-failure", &f.base, false);
    Hl__Failure nf = HL__FAILURE__INIT;
    event_msg(b, "failure.network_failure", "hl-failure", &nf.base, false);

    Hl__RecoveryOutcome ro = HL__RECOVERY_OUTCOME__INIT;
    ro.unit = "claude-code.service";
    ro.type = "restart";
    ro.outcome = "ok";
    ro.started_us = 1000000;
    ro.finished_us = 3500000;
    event_msg(b, "recovery.claude-code", "hl-orchestrator", &ro.base, false);
    event_msg(b, "recovery.claude-code", "hl-orchestrator", &ro.base, false);
    Hl__RecoveryStep st = HL__RECOVERY_STEP__INIT;
    st.target = "hl-daemon";
    st.step = "started";
    st.action = "restart";
    event_msg(b, "recovery.hl-daemon", "hl-failure", &st.base, false);
    st.step = "recovered";
    st.duration_ms = 4200;
    event_msg(b, "recovery.hl-daemon", "hl-failure", &st.base, false);

    Hl__Alert al = HL__ALERT__INIT;
    al.target = "hl-daemon";
    al.severity = "critical";
    al.reason = "flapping";
    al.active = 1;
    event_msg(b, "alert.hl-daemon", "hl-failure", &al.base, false);
    event_msg(b, "alert.hl-daemon", "hl-failure", &al.base, true); /* replay: no count */

    Hl__ServiceState ss = HL__SERVICE_STATE__INIT;
    ss.unit = "hl-daemon.service";
    ss.active_state = "failed";
    ss.n_restarts = 4;
    event_msg(b, "service.hl-daemon", "hl-orchestrator", &ss.base, false);

    Hl__DaemonStatus ds = HL__DAEMON_STATUS__INIT;
    ds.name = "hl-health";
    ds.version = "0.1.0";
    ds.state = "starting";
    ds.started_us = 1700000000000000ull;
    ds.published = 42;
    ds.notify_dropped = 7;
    ds.contract = HL__CONTRACT_VERSION__CONTRACT_V1;
    event_msg(b, "daemon.hl-health", "hl-health", &ds.base, false);
    ds.state = "running";
    event_msg(b, "daemon.hl-health", "hl-health", &ds.base, false);

    char *t = render(b);
    HAS(t, "hl_failures_total{service=\"claude-code\",type=\"service_crash\"} 2");
    HAS(t, "hl_failures_total{service=\"\",type=\"network_failure\"} 1");
    HAS(t, "hl_recoveries_total{action=\"restart\",outcome=\"ok\",service=\"claude-code\"} 2");
    HAS(t, "hl_recovery_last_duration_seconds{service=\"claude-code\"} 2.5");
    HAS(t, "hl_recovery_steps_total{action=\"restart\",service=\"hl-daemon\",step=\"started\"} 1");
    HAS(t, "hl_recovery_steps_total{action=\"restart\",service=\"hl-daemon\",step=\"recovered\"} 1");
    HAS(t, "hl_recovery_time_seconds{service=\"hl-daemon\"} 4.2");
    HAS(t, "hl_alerts_total{alert=\"hl-daemon\",severity=\"critical\"} 1");
    HAS(t, "hl_alert_active{alert=\"hl-daemon\",reason=\"flapping\",severity=\"critical\"} 1");
    HAS(t, "hl_service_active{service=\"hl-daemon\"} 0");
    HAS(t, "hl_service_restarts{service=\"hl-daemon\"} 4");
    HAS(t, "hl_daemon_info{daemon=\"hl-health\",state=\"running\",version=\"0.1.0\"} 1");
    HASNT(t, "state=\"starting\""); /* the info series is replaced, not added */
    HAS(t, "hl_daemon_published_total{daemon=\"hl-health\"} 42");
    HAS(t, "hl_daemon_notify_dropped_total{daemon=\"hl-health\"} 7");
    HAS(t, "hl_daemon_contract_version{daemon=\"hl-health\"} 1");
    HAS(t, "hl_daemon_start_time_seconds{daemon=\"hl-health\"} 1.7e+09");
    HAS(t, "# TYPE hl_failures_total counter");
    /* families come out sorted, each once */
    CHECK(strstr(t, "# TYPE hl_alerts_total") < strstr(t, "# TYPE hl_failures_total"));
    free(t);
    al.active = 0;
    al.reason = "rearmed";
    event_msg(b, "alert.hl-daemon", "hl-failure", &al.base, false);
    t = render(b);
    HAS(t, "hl_alert_active{alert=\"hl-daemon\",reason=\"rearmed\",severity=\"critical\"} 0");
    HASNT(t, "reason=\"flapping\""); /* the raised series went with it */
    HAS(t, "hl_alerts_total{alert=\"hl-daemon\",severity=\"critical\"} 1");
    free(t);

    /* free-form maps on typed topics are refused, not read by field name */
    uint64_t rej = hlm_busm_rejected(b);
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "unit", "x.service");
    hlb_map_str(m, "active_state", "active");
    event_map(b, "failure.service_crash", m, false);
    event_map(b, "service.x", m, false);
    event_map(b, "alert.x", m, false);
    event_map(b, "recovery.x", m, false);
    hlb_map_destroy(&m);
    CHECK(hlm_busm_rejected(b) == rej + 4);
    /* a free-form topic is not ours, and not refused */
    m = hlb_map_new();
    hlb_map_str(m, "x", "y");
    event_map(b, "test.x", m, false);
    hlb_map_destroy(&m);
    CHECK(hlm_busm_rejected(b) == rej + 4);
    t = render(b);
    HASNT(t, "service=\"x\"");
    HAS(t, "hl_failures_total{service=\"claude-code\",type=\"service_crash\"} 2");
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

static void test_cap(void)
{
    hlm_busm_t *b = hlm_busm_new(10);
    char topic[64];
    Hl__ServiceHealth h = HL__SERVICE_HEALTH__INIT;
    h.state = HL__HEALTH_STATE__HEALTH_HEALTHY;
    for (int i = 0; i < 50; i++) {
        snprintf(topic, sizeof topic, "health.svc%02d", i);
        event_msg(b, topic, "hl-health", &h.base, false);
    }
    CHECK(hlm_busm_series(b) == 10);
    CHECK(hlm_busm_dropped(b) > 0);
    char *t = render(b);
    CHECK(strlen(t) < 4096);
    free(t);
    hlm_busm_destroy(&b);
}

/* uplink.status: up while online, the outbox and the counters as hl-uplink
 * reports them; offline is 0, not a missing series. */
static void test_uplink(void)
{
    hlm_busm_t *b = hlm_busm_new(0);
    Hl__UplinkStatus u = HL__UPLINK_STATUS__INIT;
    u.state = HL__UPLINK_STATE__UPLINK_ONLINE;
    u.registered = true;
    u.requests = 12;
    u.events_sent = 5;
    u.last_heartbeat_us = 1700000000500000;
    u.clock_offset_ms = -1500;
    event_msg(b, "uplink.status", "hl-uplink", &u.base, true); /* the cached one counts too */
    char *t = render(b);
    HAS(t, "hl_uplink_up{link=\"status\"} 1");
    HAS(t, "hl_uplink_registered{link=\"status\"} 1");
    HAS(t, "hl_uplink_requests_total{link=\"status\"} 12");
    HAS(t, "hl_uplink_events_sent_total{link=\"status\"} 5");
    HAS(t, "hl_uplink_outbox_events{link=\"status\"} 0");
    HAS(t, "hl_uplink_last_heartbeat_seconds{link=\"status\"} 1.7000000005e+09");
    HAS(t, "hl_uplink_clock_offset_seconds{link=\"status\"} -1.5");
    free(t);
    u.state = HL__UPLINK_STATE__UPLINK_OFFLINE;
    u.outbox_depth = 20;
    u.outbox_bytes = 4096;
    u.outbox_dropped = 3;
    u.failures = 7;
    event_msg(b, "uplink.status", "hl-uplink", &u.base, false);
    t = render(b);
    HAS(t, "hl_uplink_up{link=\"status\"} 0");
    HAS(t, "hl_uplink_outbox_events{link=\"status\"} 20");
    HAS(t, "hl_uplink_outbox_bytes{link=\"status\"} 4096");
    HAS(t, "hl_uplink_outbox_dropped_total{link=\"status\"} 3");
    HAS(t, "hl_uplink_failures_total{link=\"status\"} 7");
    free(t);
    /* another body on the topic is refused, not read */
    uint64_t rejected = hlm_busm_rejected(b);
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "state", "online");
    event_map(b, "uplink.status", m, false);
    hlb_map_destroy(&m);
    CHECK(hlm_busm_rejected(b) == rejected + 1);
    t = render(b);
    HAS(t, "hl_uplink_up{link=\"status\"} 0");
    free(t);
    hlm_busm_destroy(&b);
}

/* git.<repo>: the state as hl-git-sync reports it; a conflict is synced 0
 * and paused 1; git.<repo>.<event> (a GitEvent) is not the state. */
static void test_git(void)
{
    hlm_busm_t *b = hlm_busm_new(0);
    Hl__GitStatus g = HL__GIT_STATUS__INIT;
    g.state = HL__GIT_STATE__GIT_SYNCED;
    g.cloned = true;
    g.ahead = 2;
    g.syncs = 40;
    g.updates = 3;
    g.last_sync_us = 1700000000000000;
    g.last_duration_us = 150000;
    event_msg(b, "git.ws", "hl-git-sync", &g.base, true);
    char *t = render(b);
    HAS(t, "hl_git_synced{repo=\"ws\"} 1");
    HAS(t, "hl_git_paused{repo=\"ws\"} 0");
    HAS(t, "hl_git_cloned{repo=\"ws\"} 1");
    HAS(t, "hl_git_ahead_commits{repo=\"ws\"} 2");
    HAS(t, "hl_git_syncs_total{repo=\"ws\"} 40");
    HAS(t, "hl_git_updates_total{repo=\"ws\"} 3");
    HAS(t, "hl_git_last_sync_timestamp_seconds{repo=\"ws\"} 1.7e+09");
    HAS(t, "hl_git_last_duration_seconds{repo=\"ws\"} 0.15");
    free(t);
    g.state = HL__GIT_STATE__GIT_CONFLICT;
    g.paused = true;
    g.conflicts = 1;
    event_msg(b, "git.ws", "hl-git-sync", &g.base, false);
    Hl__GitEvent e = HL__GIT_EVENT__INIT;
    e.kind = (char *)"conflict";
    uint64_t rejected = hlm_busm_rejected(b);
    event_msg(b, "git.ws.conflict", "hl-git-sync", &e.base, false);
    CHECK(hlm_busm_rejected(b) == rejected);
    t = render(b);
    HAS(t, "hl_git_synced{repo=\"ws\"} 0");
    HAS(t, "hl_git_paused{repo=\"ws\"} 1");
    HAS(t, "hl_git_conflicts_total{repo=\"ws\"} 1");
    CHECK(strstr(t, "repo=\"ws.conflict\"") == NULL);
    free(t);
    hlm_busm_destroy(&b);
}

/* backup.latest gives the time the achieved RPO is measured from (also from
 * the cache); runs are counted from created/failed, never from a replay. */
static void test_backup(void)
{
    hlm_busm_t *b = hlm_busm_new(0);
    Hl__BackupEvent e = HL__BACKUP_EVENT__INIT;
    e.id = "hl-backup-20261207T054500Z";
    e.kind = "incremental";
    e.outcome = "ok";
    e.ts_us = 1796535900000000;
    e.archive_bytes = 2048;
    e.files = 253;
    e.duration_us = 750000;
    event_msg(b, "backup.latest", "hl-backup", &e.base, true);
    event_msg(b, "backup.created", "hl-backup", &e.base, false);
    event_msg(b, "backup.created", "hl-backup", &e.base, true); /* a replay: not a run */
    e.outcome = "bad";
    e.kind = "full";
    e.duration_us = 2000000;
    event_msg(b, "backup.failed", "hl-backup", &e.base, false);
    event_msg(b, "backup.started", "hl-backup", &e.base, false);
    char *t = render(b);
    HAS(t, "hl_backup_latest_timestamp_seconds 1.7965359e+09");
    HAS(t, "hl_backup_latest_bytes 2048");
    HAS(t, "hl_backup_latest_files 253");
    HAS(t, "hl_backup_runs_total{kind=\"incremental\",outcome=\"ok\"} 1");
    HAS(t, "hl_backup_runs_total{kind=\"full\",outcome=\"bad\"} 1");
    HAS(t, "hl_backup_last_duration_seconds{kind=\"incremental\"} 0.75");
    HAS(t, "hl_backup_last_duration_seconds{kind=\"full\"} 2");
    free(t);
    hlm_busm_destroy(&b);
}

int main(void)
{
    test_health();
    test_counters();
    test_bus_stats();
    test_cap();
    test_uplink();
    test_git();
    test_backup();
    return check_done();
}
