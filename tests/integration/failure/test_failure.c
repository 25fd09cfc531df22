/* hl-failure as a process on a real bus: the test publishes what the other
 * daemons would (service.*, health.*, metrics.threshold.*, uplink.*,
 * lifecycle.state), serves ctl/hl-orchestrator itself to see and answer the
 * recovery requests, and watches failure.*, recovery.* and alert.* on the
 * bus. Every wait is for an event, with a deadline. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <hlbus/hlbus.h>

#include "check.h"
#include "failure.pb-c.h"
#include "proc.h"

static char dir[64]; /* fits in proc.h's notify path */
static hlb_pub_t *pub;
static hlb_sub_t *sub;
static hlb_server_t *orch;

/* ---- what the test's orchestrator was asked ---- */
#define MAXCALLS 128
typedef struct {
    char method[16], unit[64], type[16];
} call_t;
static call_t calls[MAXCALLS];
static int ncalls;
static const char *fail_type;  /* recover of this type answers an error */
static int reply_delay_ms;     /* recover answers this much later */

typedef struct {
    hlb_deferred_t *d;
    long long due;
    bool fail;
} later_t;
static later_t later[16];
static int nlater;

static void record(hlb_request_t *req, const char *method, char **type_out)
{
    char *unit = req->map ? hlb_mpview_str(req->map, "unit") : NULL;
    char *type = req->map ? hlb_mpview_str(req->map, "type") : NULL;
    if (ncalls < MAXCALLS) {
        snprintf(calls[ncalls].method, sizeof calls[0].method, "%s", method);
        snprintf(calls[ncalls].unit, sizeof calls[0].unit, "%s", unit ? unit : "");
        snprintf(calls[ncalls].type, sizeof calls[0].type, "%s", type ? type : "");
        ncalls++;
    }
    free(unit);
    *type_out = type;
}

static void unit_state(const char *svc, const char *active, const char *sub_state,
                       const char *result);

static void m_recover(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    char *type;
    record(req, "recover", &type);
    bool fail = fail_type && type && strcmp(type, fail_type) == 0;
    free(type);
    if (!fail) {
        /* as the real one: the unit goes down and comes up again, and
         * service.<name> says so (hl-failure verifies with these) */
        char svc[64];
        snprintf(svc, sizeof svc, "%s", calls[ncalls - 1].unit);
        char *dot = strstr(svc, ".service");
        if (dot)
            *dot = '\0';
        unit_state(svc, "deactivating", "stop", "success");
        unit_state(svc, "inactive", "dead", "success");
        unit_state(svc, "active", "running", "success");
    }
    if (reply_delay_ms > 0 && nlater < 16) {
        later[nlater].d = hlb_request_defer(req, reply);
        later[nlater].due = proc_now_ms() + reply_delay_ms;
        later[nlater].fail = fail;
        nlater++;
        return;
    }
    if (fail)
        hlb_reply_error(reply, EIO, "reset of the unit failed: job failed");
}

static void m_stop(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    char *type;
    record(req, "stop", &type);
    free(type);
}

static const hlb_method_t orch_methods[] = {
    {"recover", m_recover, HLB_METHOD_ADMIN, "test"},
    {"stop", m_stop, HLB_METHOD_ADMIN, "test"},
    {NULL, NULL, 0, NULL},
};

/* ---- what went by on the bus ---- */
#define MAXEV 2048
static char *events[MAXEV]; /* "topic body-as-json" */
static int nevents;

static void pump(int ms)
{
    zpoller_t *p = zpoller_new(hlb_sub_sock(sub), hlb_server_sock(orch), NULL);
    long long deadline = proc_now_ms() + ms;
    for (;;) {
        long long left = deadline - proc_now_ms();
        for (int i = 0; i < nlater; i++)
            if (later[i].due <= proc_now_ms()) {
                if (later[i].fail)
                    hlb_reply_error(hlb_deferred_reply(later[i].d), EIO, "job failed");
                hlb_deferred_send(&later[i].d);
                later[i--] = later[--nlater];
            }
        if (left <= 0)
            break;
        long long wait = left;
        for (int i = 0; i < nlater; i++)
            if (later[i].due - proc_now_ms() < wait)
                wait = later[i].due - proc_now_ms();
        void *s = zpoller_wait(p, (int)(wait > 0 ? wait : 0));
        if (s == zsock_resolve(hlb_server_sock(orch)) || s == hlb_server_sock(orch)) {
            hlb_server_handle(orch);
        } else if (s) {
            hlb_event_t ev;
            while (hlb_sub_recv(sub, &ev, 0) >= 0) {
                if (!ev.env)
                    continue;
                hlb_buf_t b = {0};
                hlb_buf_printf(&b, "%s ", ev.topic);
                hlb_json_body(&b, ev.env->type, ev.env->body.data, ev.env->body.len);
                if (nevents < MAXEV)
                    events[nevents++] = hlb_buf_steal(&b);
                hlb_buf_free(&b);
            }
        }
        if (ms == 0)
            break;
    }
    zpoller_destroy(&p);
}

/* Waits until an event from index FROM on has topic TOPIC and contains
 * every NEEDLE (NULL-terminated); its index, or -1 at the deadline. */
static int wait_event(int from, int timeout_ms, const char *topic, ...)
{
    long long deadline = proc_now_ms() + timeout_ms;
    for (int i = from;;) {
        for (; i < nevents; i++) {
            size_t tl = strlen(topic);
            if (strncmp(events[i], topic, tl) != 0 || events[i][tl] != ' ')
                continue;
            va_list ap;
            va_start(ap, topic);
            bool all = true;
            for (const char *n; (n = va_arg(ap, const char *));)
                all = all && strstr(events[i], n);
            va_end(ap);
            if (all)
                return i;
        }
        long long left = deadline - proc_now_ms();
        if (left <= 0)
            return -1;
        pump((int)(left < 50 ? left : 50));
    }
}

static int count_events(int from, const char *topic, const char *needle)
{
    int n = 0;
    for (int i = from; i < nevents; i++)
        if (strncmp(events[i], topic, strlen(topic)) == 0 && (!needle || strstr(events[i], needle)))
            n++;
    return n;
}

static bool wait_calls(int n, int timeout_ms)
{
    long long deadline = proc_now_ms() + timeout_ms;
    while (ncalls < n && proc_now_ms() < deadline)
        pump(50);
    return ncalls >= n;
}

/* Publishes TOPIC's typed body (libhlbus topics.h) from key/value pairs, as
 * hlctl pub builds it; pairs that do not fit the type (the bad-input cases)
 * go out as a free-form map, which hl-failure must refuse. */
static void pubmap(const char *topic, const char *kv, ...)
{
    char *words[32];
    int n = 0;
    hlb_map_t *m = hlb_map_new();
    va_list ap;
    va_start(ap, kv);
    for (const char *k = kv; k && n < 32; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        if (asprintf(&words[n], "%s=%s", k, v) >= 0)
            n++;
        hlb_map_str(m, k, v);
    }
    va_end(ap);
    hlb_buf_t err = {0};
    const ProtobufCMessageDescriptor *desc = hlb_topic_type(topic);
    ProtobufCMessage *typed = desc ? hlb_kv_message(desc, n, words, &err) : NULL;
    if (typed)
        hlb_pub_send(pub, topic, typed);
    else
        hlb_pub_send_map(pub, topic, m);
    if (typed)
        protobuf_c_message_free_unpacked(typed, NULL);
    hlb_buf_free(&err);
    hlb_map_destroy(&m);
    for (int i = 0; i < n; i++)
        free(words[i]);
}

static void unit_state(const char *svc, const char *active, const char *sub_state,
                       const char *result)
{
    char topic[96];
    snprintf(topic, sizeof topic, "service.%s", svc);
    pubmap(topic, "active_state", active, "sub_state", sub_state, "result", result, NULL);
}

static void killed(const char *svc, bool auto_restart)
{
    char topic[96];
    snprintf(topic, sizeof topic, "service.%s", svc);
    pubmap(topic, "active_state", auto_restart ? "activating" : "failed", "sub_state",
           auto_restart ? "auto-restart" : "failed", "result", "signal", "exit_code", "2",
           "exit_status", "9", NULL);
}

/* hl-failure's FailureReport, through its ctl endpoint. */
static Hl__FailureReport *report(const char *target)
{
    hlb_map_t *a = hlb_map_new();
    hlb_map_int(a, "limit", 100);
    if (target)
        hlb_map_str(a, "target", target);
    Hl__Reply *r = NULL;
    int rc = hlb_call_map(dir, "hl-failure", "failures", a, NULL, &r);
    hlb_map_destroy(&a);
    if (rc < 0 || !r)
        return NULL;
    Hl__FailureReport *fr =
        (Hl__FailureReport *)hlb_reply_decode(r, &hl__failure_report__descriptor);
    hl__reply__free_unpacked(r, NULL);
    return fr;
}

static const char *target_state(const char *target)
{
    static char st[32];
    st[0] = '\0';
    Hl__FailureReport *r = report(target);
    for (size_t i = 0; r && i < r->n_targets; i++)
        if (strcmp(r->targets[i]->target, target) == 0)
            snprintf(st, sizeof st, "%s", r->targets[i]->state);
    if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
    return st;
}

/* Waits until hl-failure has seen lifecycle state STATE: our events reach it. */
static bool sync_lifecycle(const char *state)
{
    pubmap("lifecycle.state", "state", state, NULL);
    long long deadline = proc_now_ms() + 5000;
    while (proc_now_ms() < deadline) {
        Hl__FailureReport *r = report(NULL);
        bool ok = r && strcmp(r->lifecycle, state) == 0;
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
        if (ok)
            return true;
        pump(20);
    }
    return false;
}

static int rearm(const char *target, Hl__Reply **out)
{
    hlb_map_t *a = hlb_map_new();
    hlb_map_str(a, "target", target);
    int rc = hlb_call_map(dir, "hl-failure", "rearm", a, NULL, out);
    hlb_map_destroy(&a);
    return rc;
}

static const char *config =
    "log:\n"
    "  level: debug\n"
    "hl-failure:\n"
    "  action_timeout: 3s\n"
    "  recovery:\n"
    "    backoff: 300ms\n"
    "    verify_timeout: 1500ms\n"
    "    stable_period: 1h\n"
    "    flap_max: 0\n"
    "  services:\n"
    "    crashy: {}\n"
    "    hang: {}\n"
    "    cfg: {}\n"
    "    loopy: {}\n"
    "    gated: {}\n"
    "    slow: {}\n"
    "    memhog: {}\n"
    "    flappy: {stable_period: 100ms, flap_max: 2}\n"
    "    watched: {recover: false}\n"
    "  patterns:\n"
    "    - {name: config-exit, on: exit-status, exit_status: [78]}\n"
    "    - {name: crash, on: unit-failed}\n"
    "    - {name: hang, on: unhealthy, sustain: 200ms}\n"
    "    - {name: mem, on: threshold, metrics: [memory], sustain: 300ms, target: memhog}\n"
    "    - {name: disk, on: threshold, metrics: [disk], sustain: 0s, severity: critical}\n"
    "    - {name: uplink, on: uplink}\n"
    "  network:\n"
    "    command: [/bin/sh, -c, 'echo fixing the network; touch \"$FL_MARKER\"']\n"
    "    timeout: 5s\n"
    "    recovery: {backoff: 300ms, verify_timeout: 3s}\n";

/* A service killed again and again: systemd's restart, then reset, then
 * rebuild through the orchestrator, then a give-up with a critical alert;
 * rearm starts afresh. The stand-in orchestrator accepts every rebuild; that
 * the real one does with the shipped config (its built-in rebuild) is what
 * e2e.default-ladder and e2e_orchestrator_recovery test. */
static void test_escalation(void)
{
    int mark = nevents, c0 = ncalls;
    unit_state("crashy", "active", "running", "success");
    killed("crashy", true);
    int i = wait_event(mark, 3000, "failure.service_crash", "\"target\":\"crashy\"",
                       "systemd-restart (attempt 1/3)", NULL);
    CHECK_MSG(i >= 0, "first kill not detected as a credited systemd restart");
    CHECK(wait_event(mark, 3000, "recovery.crashy", "\"step\":\"systemd-restart\"", NULL) >= 0);
    unit_state("crashy", "active", "running", "success");
    CHECK(wait_event(mark, 3000, "recovery.crashy", "\"step\":\"recovered\"", NULL) >= 0);
    CHECK(ncalls == c0); /* systemd did it: no request */

    /* second kill: reset after the back-off */
    mark = nevents;
    killed("crashy", true);
    CHECK(wait_event(mark, 3000, "recovery.crashy", "\"step\":\"scheduled\"",
                     "\"action\":\"reset\"", NULL) >= 0);
    unit_state("crashy", "active", "running", "success"); /* systemd brought it back */
    CHECK(wait_calls(c0 + 1, 3000));
    CHECK(strcmp(calls[c0].method, "recover") == 0 && strcmp(calls[c0].type, "reset") == 0 &&
          strcmp(calls[c0].unit, "crashy.service") == 0);
    CHECK(wait_event(mark, 3000, "recovery.crashy", "\"step\":\"recovered\"", NULL) >= 0);

    /* third: rebuild; fourth: give up */
    mark = nevents;
    killed("crashy", false);
    CHECK(wait_calls(c0 + 2, 3000) && strcmp(calls[c0 + 1].type, "rebuild") == 0);
    unit_state("crashy", "active", "running", "success");
    CHECK(wait_event(mark, 3000, "recovery.crashy", "\"step\":\"recovered\"", NULL) >= 0);
    mark = nevents;
    killed("crashy", true);
    i = wait_event(mark, 3000, "alert.crashy", "\"severity\":\"critical\"",
                   "\"reason\":\"gave-up\"", "\"active\":true", NULL);
    CHECK_MSG(i >= 0, "no critical alert after the budget was spent");
    CHECK(wait_event(mark, 3000, "failure.service_crash", "gave-up", NULL) >= 0);
    CHECK(strcmp(target_state("crashy"), "gave-up") == 0);
    /* given up: more kills change nothing */
    unit_state("crashy", "active", "running", "success");
    killed("crashy", false);
    pump(400);
    CHECK(ncalls == c0 + 2);

    /* the timeline tells the whole story */
    Hl__FailureReport *r = report("crashy");
    CHECK(r != NULL);
    if (r) {
        const Hl__Incident *last = r->n_incidents ? r->incidents[r->n_incidents - 1] : NULL;
        CHECK(last && strcmp(last->outcome, "gave-up") == 0 && last->n_timeline >= 3);
        bool again = false;
        for (size_t k = 0; last && k < last->n_timeline; k++)
            again |= strcmp(last->timeline[k]->what, "failure-again") == 0;
        CHECK_MSG(again, "the kill after the give-up is not in the timeline");
        /* the incidents before: recovered, with a time to recover */
        CHECK(r->n_incidents == 4 && strcmp(r->incidents[0]->outcome, "recovered") == 0 &&
              strcmp(r->incidents[1]->outcome, "recovered") == 0);
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }

    /* rearm: the alert clears, and the service, still failed, is restarted */
    mark = nevents;
    Hl__Reply *rep = NULL;
    CHECK(rearm("crashy", &rep) == 0 && rep && rep->status == 0);
    if (rep)
        hl__reply__free_unpacked(rep, NULL);
    CHECK(wait_event(mark, 3000, "alert.crashy", "\"active\":false", NULL) >= 0);
    CHECK(wait_calls(c0 + 3, 3000) && strcmp(calls[c0 + 2].type, "restart") == 0);
    unit_state("crashy", "active", "running", "success");
    CHECK(wait_event(mark, 3000, "recovery.crashy", "\"step\":\"recovered\"", NULL) >= 0);
    CHECK(strcmp(target_state("crashy"), "idle") == 0);
}

/* A hang: the unit stays active, health fails; restarted by request. */
static void test_hang(void)
{
    int mark = nevents, c0 = ncalls;
    unit_state("hang", "active", "running", "success");
    pubmap("health.hang", "state", "healthy", NULL);
    pubmap("health.hang", "state", "unhealthy", "reason", "http://127.0.0.1/health timed out",
           NULL);
    CHECK(wait_event(mark, 3000, "failure.service_crash", "\"target\":\"hang\"",
                     "unhealthy while its unit is active", "timed out", NULL) >= 0);
    CHECK(wait_calls(c0 + 1, 3000) && strcmp(calls[c0].type, "restart") == 0 &&
          strcmp(calls[c0].unit, "hang.service") == 0);
    /* the job answers ok, but the service is healthy only when its checks say so */
    pump(200);
    CHECK(strcmp(target_state("hang"), "verifying") == 0);
    pubmap("health.hang", "state", "healthy", NULL);
    CHECK(wait_event(mark, 3000, "recovery.hang", "\"step\":\"recovered\"", NULL) >= 0);
}

/* Exit 78: reported with an alert, never restarted; a restart loop of it
 * (a unit without RestartPreventExitStatus=78) is stopped. */
static void test_config_error(void)
{
    int mark = nevents, c0 = ncalls;
    unit_state("cfg", "active", "running", "success");
    pubmap("service.cfg", "active_state", "failed", "sub_state", "failed", "result", "exit-code",
           "exit_code", "1", "exit_status", "78", NULL);
    CHECK(wait_event(mark, 3000, "failure.configuration_error", "\"target\":\"cfg\"",
                     "exited with status 78", "not restarted", NULL) >= 0);
    CHECK(wait_event(mark, 3000, "alert.cfg", "configuration-error", "\"active\":true", NULL) >= 0);
    /* systemd restarts it (no RestartPreventExitStatus) into the same error: */
    for (int k = 0; k < 3; k++) {
        unit_state("cfg", "activating", "start", "success");
        pubmap("service.cfg", "active_state", "failed", "sub_state", "failed", "result",
               "exit-code", "exit_code", "1", "exit_status", "78", NULL);
    }
    pump(500);
    CHECK(ncalls == c0);
    CHECK(strcmp(target_state("cfg"), "config-error") == 0);
    /* fixed and started by a person: cleared */
    unit_state("cfg", "active", "running", "success");
    CHECK(wait_event(mark, 3000, "recovery.cfg", "\"step\":\"config-cleared\"", NULL) >= 0);
    CHECK(wait_event(mark, 3000, "alert.cfg", "\"active\":false", NULL) >= 0);

    /* in a restart loop: hl-failure asks the orchestrator to stop it */
    mark = nevents;
    unit_state("loopy", "active", "running", "success");
    pubmap("service.loopy", "active_state", "activating", "sub_state", "auto-restart", "result",
           "exit-code", "exit_code", "1", "exit_status", "78", NULL);
    CHECK(wait_calls(c0 + 1, 3000) && strcmp(calls[c0].method, "stop") == 0 &&
          strcmp(calls[c0].unit, "loopy.service") == 0);
    CHECK(wait_event(mark, 3000, "recovery.loopy", "\"step\":\"loop-stopped\"", NULL) >= 0);
    pump(300);
    CHECK(ncalls == c0 + 1); /* and nothing else */
}

/* Nothing while the orchestrator starts up; what still fails when it is
 * ready is recovered then. */
static void test_gate(void)
{
    CHECK(sync_lifecycle("starting"));
    int mark = nevents, c0 = ncalls;
    unit_state("gated", "active", "running", "success");
    killed("gated", false);
    CHECK(wait_event(mark, 3000, "failure.service_crash", "\"target\":\"gated\"",
                     "none: the orchestrator is starting", NULL) >= 0);
    CHECK(wait_event(mark, 3000, "recovery.gated", "\"step\":\"suppressed\"", NULL) >= 0);
    pump(400);
    CHECK(ncalls == c0);
    CHECK(sync_lifecycle("ready"));
    CHECK(wait_event(mark, 3000, "failure.service_crash", "\"target\":\"gated\"",
                     "\"reasserted\":true", NULL) >= 0);
    CHECK(wait_calls(c0 + 1, 3000) && strcmp(calls[c0].unit, "gated.service") == 0);
    unit_state("gated", "active", "running", "success");
    CHECK(wait_event(mark, 3000, "recovery.gated", "\"step\":\"recovered\"", NULL) >= 0);

    /* shutting down: a failure is not recovered */
    CHECK(sync_lifecycle("shutting-down"));
    mark = nevents;
    c0 = ncalls;
    killed("gated", false);
    CHECK(wait_event(mark, 3000, "recovery.gated", "\"step\":\"suppressed\"", NULL) >= 0);
    pump(300);
    CHECK(ncalls == c0);
    CHECK(sync_lifecycle("ready"));
    CHECK(wait_calls(c0 + 1, 3000)); /* still failed after the shutdown was called off */
    unit_state("gated", "active", "running", "success");
    CHECK(wait_event(mark, 3000, "recovery.gated", "\"step\":\"recovered\"", NULL) >= 0);
}

/* The network path: the uplink says offline; the configured command runs,
 * not a service restart; the uplink back online ends it. */
static void test_network(void)
{
    int mark = nevents, c0 = ncalls;
    char marker[300];
    snprintf(marker, sizeof marker, "%s/net.marker", dir);
    pubmap("uplink.status", "state", "online", NULL);
    pubmap("uplink.status", "state", "offline", "last_error", "connect to api: refused", NULL);
    CHECK(wait_event(mark, 3000, "failure.network_failure", "\"target\":\"network\"",
                     "connect to api: refused", "command (attempt 1/3)", NULL) >= 0);
    CHECK(wait_event(mark, 5000, "recovery.network", "\"step\":\"succeeded\"",
                     "fixing the network", NULL) >= 0);
    CHECK(access(marker, F_OK) == 0);
    CHECK(ncalls == c0);
    pubmap("uplink.status", "state", "online", NULL);
    CHECK(wait_event(mark, 3000, "recovery.network", "\"step\":\"recovered\"", NULL) >= 0);
}

/* Resource exhaustion: a threshold firing for the pattern's window. */
static void test_resources(void)
{
    int mark = nevents, c0 = ncalls;
    unit_state("memhog", "active", "running", "success");
    pubmap("metrics.threshold.memory", "name", "memory", "resource", "memory", "state", "firing",
           "unit", "percent", NULL);
    /* not at once: after the sustain window */
    CHECK(wait_event(mark, 150, "failure.resource_exhaustion", NULL) < 0);
    CHECK(wait_event(mark, 3000, "failure.resource_exhaustion", "\"target\":\"memhog\"",
                     "\"metric\":\"memory\"", NULL) >= 0);
    CHECK(wait_calls(c0 + 1, 3000) && strcmp(calls[c0].unit, "memhog.service") == 0 &&
          strcmp(calls[c0].type, "restart") == 0);
    /* a threshold cleared within its window is nothing */
    mark = nevents;
    pubmap("metrics.threshold.memory", "name", "memory", "state", "cleared", NULL);
    pubmap("metrics.threshold.memory", "name", "memory", "state", "firing", NULL);
    pubmap("metrics.threshold.memory", "name", "memory", "state", "cleared", NULL);
    pump(600);
    CHECK(count_events(mark, "failure.resource_exhaustion", NULL) == 0);
    /* a critical one with no one to fix it: reported with an alert */
    pubmap("metrics.threshold.disk", "name", "disk", "state", "firing", NULL);
    CHECK(wait_event(mark, 3000, "failure.resource_exhaustion", "resource:disk",
                     "reported", NULL) >= 0);
    CHECK(wait_event(mark, 3000, "alert.resource:disk", "\"active\":true", NULL) >= 0);
    pubmap("metrics.threshold.disk", "name", "disk", "state", "cleared", NULL);
    CHECK(wait_event(mark, 3000, "alert.resource:disk", "\"active\":false", NULL) >= 0);
}

/* The flap guard: N recoveries within the window, then hold and alert,
 * even though each one worked and the budget recovered in between. */
static void test_flap(void)
{
    int mark = nevents;
    for (int k = 0; k < 2; k++) {
        unit_state("flappy", "active", "running", "success");
        killed("flappy", true);
        CHECK(wait_event(mark, 3000, "recovery.flappy", "\"step\":\"systemd-restart\"", NULL) >= 0);
        mark = nevents;
        unit_state("flappy", "active", "running", "success");
        CHECK(wait_event(mark, 3000, "recovery.flappy", "\"step\":\"budget-restored\"", NULL) >= 0);
        mark = nevents;
    }
    killed("flappy", true);
    CHECK(wait_event(mark, 3000, "alert.flappy", "\"reason\":\"flapping\"", "\"active\":true",
                     NULL) >= 0);
    CHECK(strcmp(target_state("flappy"), "held") == 0);
    /* rearmed while still down: recovery starts again (credited to systemd) */
    mark = nevents;
    Hl__Reply *rep = NULL;
    CHECK(rearm("flappy", &rep) == 0 && rep && rep->status == 0);
    if (rep)
        hl__reply__free_unpacked(rep, NULL);
    CHECK(wait_event(mark, 3000, "recovery.flappy", "\"step\":\"systemd-restart\"", NULL) >= 0);
    unit_state("flappy", "active", "running", "success");
    CHECK(wait_event(mark, 3000, "recovery.flappy", "\"step\":\"recovered\"", NULL) >= 0);
}

/* An action that fails (the orchestrator answers an error, or is slow) is an
 * attempt that failed: the next one follows. An unmanaged service is only
 * reported. A rearm of an unknown target is refused. */
static void test_failures_of_actions(void)
{
    int mark = nevents, c0 = ncalls;
    fail_type = "restart";
    reply_delay_ms = 300; /* hl-failure must keep serving meanwhile */
    unit_state("slow", "active", "running", "success");
    killed("slow", false);
    CHECK(wait_calls(c0 + 1, 3000));
    /* while the request is pending, hl-failure still answers: a loop that
     * blocked on the action would answer only after the orchestrator's reply,
     * when the target is no longer "acting" (no wall-time bound: a loaded
     * ASan run may take longer than the reply delay to get here) */
    CHECK(strcmp(target_state("slow"), "acting") == 0);
    CHECK(wait_event(mark, 3000, "recovery.slow", "\"step\":\"failed\"", "job failed", NULL) >= 0);
    CHECK(wait_event(mark, 3000, "recovery.slow", "\"step\":\"scheduled\"",
                     "\"action\":\"reset\"", NULL) >= 0);
    CHECK(wait_calls(c0 + 2, 3000) && strcmp(calls[c0 + 1].type, "reset") == 0);
    fail_type = NULL;
    reply_delay_ms = 0;
    unit_state("slow", "active", "running", "success");
    CHECK(wait_event(mark, 3000, "recovery.slow", "\"step\":\"recovered\"", NULL) >= 0);

    mark = nevents;
    c0 = ncalls;
    unit_state("watched", "active", "running", "success");
    killed("watched", false);
    CHECK(wait_event(mark, 3000, "failure.service_crash", "\"target\":\"watched\"",
                     "reported: the pattern does not recover", NULL) >= 0 ||
          wait_event(mark, 10, "failure.service_crash", "\"target\":\"watched\"",
                     "not a recovered service", NULL) >= 0);
    pump(200);
    CHECK(count_events(mark, "alert.watched", NULL) == 0);
    CHECK_MSG(ncalls == c0, "unexpected request: %s %s %s", calls[c0].method, calls[c0].unit,
              calls[c0].type);

    Hl__Reply *rep = NULL;
    CHECK(rearm("nosuch", &rep) == 0 && rep && rep->status == ENOENT &&
          strstr(rep->error, "no recovery policy"));
    if (rep)
        hl__reply__free_unpacked(rep, NULL);
    CHECK(rearm("", &rep) == 0 && rep && rep->status == EINVAL);
    if (rep)
        hl__reply__free_unpacked(rep, NULL);
}

/* Config: --check-config names file and line; a bad reload is refused and
 * the old config kept; a good one applies to the running policies. */
static void test_config(const char *cfg)
{
    char out[4096];
    char dropdir[300], drop[340];
    snprintf(dropdir, sizeof dropdir, "%s/hl.d", dir);
    mkdir(dropdir, 0755);
    snprintf(drop, sizeof drop, "%s/50-bad.yaml", dropdir);
    FILE *f = fopen(drop, "w");
    fputs("hl-failure:\n  recovery:\n    actions: [restart, explode]\n"
          "  services:\n    crashy: {max_attempts: 0}\n",
          f);
    fclose(f);
    /* stderr is where the report goes: run it through a shell to capture it */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "%s --config %s --check-config 2>&1", HL_FAILURE_BIN, cfg);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int st = p ? pclose(p) : -1;
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK_MSG(strstr(out, "50-bad.yaml:3: unknown recovery action 'explode'") &&
                  strstr(out, "50-bad.yaml:5:"),
              "%s", out);
    /* the running daemon refuses it and keeps going */
    Hl__Reply *r = NULL;
    CHECK(hlb_call(dir, "hl-failure", "reload", NULL, NULL, &r) == 0 && r && r->status == EINVAL &&
          strstr(r->error, "explode"));
    if (r)
        hl__reply__free_unpacked(r, NULL);
    CHECK(strcmp(target_state("crashy"), "idle") == 0);
    /* a good one: crashy now gives up at the first failure */
    f = fopen(drop, "w");
    fputs("hl-failure:\n  services:\n    crashy: {max_attempts: 1, actions: [restart]}\n", f);
    fclose(f);
    r = NULL;
    CHECK(hlb_call(dir, "hl-failure", "reload", NULL, NULL, &r) == 0 && r && r->status == 0);
    if (r)
        hl__reply__free_unpacked(r, NULL);
    Hl__FailureReport *fr = report("crashy");
    for (size_t i = 0; fr && i < fr->n_targets; i++)
        if (strcmp(fr->targets[i]->target, "crashy") == 0)
            CHECK(fr->targets[i]->max_attempts == 1);
    if (fr)
        protobuf_c_message_free_unpacked(&fr->base, NULL);
    unlink(drop);
    r = NULL;
    CHECK(hlb_call(dir, "hl-failure", "reload", NULL, NULL, &r) == 0 && r && r->status == 0);
    if (r)
        hl__reply__free_unpacked(r, NULL);
}

/* Bad input on the bus changes nothing and crashes nothing. */
static void test_garbage(void)
{
    hlb_pub_send_raw(pub, "service.crashy", "msgpack", "\xc1\xc1\xc1", 3);
    hlb_pub_send_raw(pub, "service.crashy", "hl.Log", "\xff\xff", 2);
    hlb_pub_send_raw(pub, "health.hang", "text/plain", "unhealthy", 9);
    pubmap("service.crashy", "n_restarts", "many", NULL); /* words where a number goes */
    pubmap("metrics.threshold.memory", "state", "sideways", NULL);
    pubmap("uplink.status", "weather", "sunny", NULL);
    pubmap("lifecycle.state", "mood", "ready", NULL);
    pump(200);
    Hl__FailureReport *r = report(NULL);
    CHECK(r != NULL && strcmp(r->lifecycle, "ready") == 0);
    if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/hl-failure-it-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    char cfg[300], marker[300];
    snprintf(cfg, sizeof cfg, "%s/hl.yaml", dir);
    snprintf(marker, sizeof marker, "%s/net.marker", dir);
    setenv("FL_MARKER", marker, 1);
    FILE *f = fopen(cfg, "w");
    fputs(config, f);
    fclose(f);

    proc_t bus, fl;
    char *bus_argv[] = {HL_BUS_BIN, "--runtime-dir", dir, "--config", cfg, NULL};
    char *fl_argv[] = {HL_FAILURE_BIN, "--runtime-dir", dir, "--config", cfg, NULL};
    CHECK(proc_start(&bus, dir, bus_argv) == 0 && proc_wait_notify(&bus, "READY=1", 5000));
    orch = hlb_server_new(dir, "hl-orchestrator");
    hlb_server_add_methods(orch, orch_methods, NULL);
    const char *const prefixes[] = {"failure.", "recovery.", "alert.", NULL};
    sub = hlb_sub_new(dir, prefixes);
    pub = hlb_pub_new(dir, "test");
    CHECK(orch && sub && pub);
    CHECK(proc_start(&fl, dir, fl_argv) == 0 && proc_wait_notify(&fl, "READY=1", 5000));
    /* nobody reads its STATUS= updates from here on: a full datagram queue
     * would block its sd_notify, so take the socket away (sends then fail) */
    close(fl.notify_fd);
    unlink(fl.notify_path);
    fl.notify_fd = -1;

    if (sync_lifecycle("ready")) {
        test_escalation();
        test_hang();
        test_config_error();
        test_gate();
        test_network();
        test_resources();
        test_flap();
        test_failures_of_actions();
        test_garbage();
        test_config(cfg);
    } else {
        CHECK_MSG(false, "hl-failure does not see the test's events");
    }

    /* a clean stop, even with work pending */
    int st = proc_stop(&fl, SIGTERM);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hl-failure exit status 0x%x", st);
    proc_stop(&bus, SIGTERM);
    hlb_pub_destroy(&pub);
    hlb_sub_destroy(&sub);
    hlb_server_destroy(&orch);
    for (int i = 0; i < nevents; i++)
        free(events[i]);
    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
