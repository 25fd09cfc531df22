/* The engine's semantics against real checks: debounce in both directions,
 * retries within a run, degraded vs unhealthy, unit events, start-up grace
 * (time and phase), shutdown hold, adoption on reload, and that hung
 * endpoints make no other check skip a run. */
#include <curl/curl.h>
#include "hh_test.h"

static const char *httpd_path;
static httpd_t srv;
static zloop_t *loop;
static hlb_reactor_t *io; /* the reactor the engines share, as in the daemon */

/* Sets what the fixture's /flip answers. */
static void flip(int status)
{
    char *url = hlb_strdupf("http://127.0.0.1:%d/set-flip/%d", srv.port, status);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    CHECK(curl_easy_perform(c) == CURLE_OK);
    curl_easy_cleanup(c);
    free(url);
}

/* The service states seen by on_change, with the check's run count then. */
typedef struct {
    hh_state_t st[64];
    uint64_t runs[64];
    uint32_t streak[64]; /* the check's ok or bad streak at the change */
    int n;
    const char *check;
} log_t;

static void on_change(hh_engine_t *e, hh_service_t *s, void *arg)
{
    log_t *l = arg;
    if (l->n && l->st[l->n - 1] == s->state)
        return; /* a reason change only */
    hh_check_t *c = l->check ? hh_engine_check(e, l->check) : NULL;
    l->runs[l->n] = c ? c->runs : 0;
    l->streak[l->n] = c ? (s->state == HH_HEALTHY ? c->ok_streak : c->bad_streak) : 0;
    l->st[l->n++] = s->state;
}

/* Whether the check's why-line contains TEXT. */
static bool why_has(const hh_check_t *c, const char *text)
{
    char *w = hh_check_why(c);
    bool ok = w && strstr(w, text);
    if (!ok)
        fprintf(stderr, "why of %s: %s\n", c->spec.name, w ? w : "(null)");
    free(w);
    return ok;
}

static hh_engine_t *engine(log_t *l)
{
    hh_engine_t *e = hh_engine_new(io);
    CHECK(e);
    if (l)
        hh_engine_on_change(e, on_change, l);
    return e;
}

static void test_debounce(void)
{
    printf("debounce\n");
    flip(200);
    log_t l = {.check = "flip"};
    hh_engine_t *e = engine(&l);
    add_service(e, "svc", NULL);
    hh_check_spec_t s = http_spec("flip", "svc", srv.port, "/flip");
    s.interval_ms = 30;
    s.failures = 3;
    s.successes = 2;
    add_check(e, &s);
    hh_engine_start(e);
    hh_check_t *c = wait_runs(loop, e, "flip", 2, 5000);
    CHECK(c->state == HH_HEALTHY && hh_engine_service(e, "svc")->state == HH_HEALTHY);
    flip(500);
    uint64_t base = c->runs;
    /* failures=3: two bad runs keep it healthy, the third turns it bad. */
    c = wait_runs(loop, e, "flip", base + 2, 5000);
    if (c->last_result == HH_FAIL && c->bad_streak == 2)
        CHECK(c->state == HH_HEALTHY && why_has(c, "2 of 3 consecutive bad runs"));
    c = wait_runs(loop, e, "flip", base + 5, 5000);
    CHECK(c->state == HH_UNHEALTHY && why_has(c, "unhealthy after"));
    flip(200);
    base = c->runs;
    c = wait_runs(loop, e, "flip", base + 4, 5000);
    CHECK(c->state == HH_HEALTHY);
    /* unknown → healthy at the first pass; healthy → degraded at the 3rd bad
     * run; degraded → healthy at the 2nd passing run. */
    CHECK(l.n == 4);
    CHECK(l.st[0] == HH_UNKNOWN || l.st[0] == HH_HEALTHY);
    int k = l.st[0] == HH_UNKNOWN ? 1 : 0;
    CHECK(l.st[k] == HH_HEALTHY && l.st[k + 1] == HH_DEGRADED && l.st[k + 2] == HH_HEALTHY);
    /* Exactly 3 bad runs, then exactly 2 good ones, between the changes
     * (counting from the first bad or good one). */
    printf("  changes at runs:");
    for (int i = 0; i < l.n; i++)
        printf(" %s@%llu", hh_state_name(l.st[i]), (unsigned long long)l.runs[i]);
    printf("\n");
    CHECK(l.streak[k + 1] == 3); /* failures = 3 */
    CHECK(l.streak[k + 2] == 2); /* successes = 2 */
    CHECK(c->fails >= 3 && c->passes >= 4);
    hh_engine_destroy(&e);
}

static void test_retries(void)
{
    printf("retries\n");
    flip(500);
    hh_engine_t *e = engine(NULL);
    add_service(e, "svc", NULL);
    hh_check_spec_t s = http_spec("r3", "svc", srv.port, "/flip");
    s.interval_ms = 5000;
    s.timeout_ms = 500;
    s.retries = 3;
    s.retry_delay_ms = 10;
    add_check(e, &s);
    /* Attempts that could not end before the next run are not started. */
    s = http_spec("r-cut", "svc", srv.port, "/hang");
    s.interval_ms = 800;
    s.timeout_ms = 500;
    s.retries = 3;
    s.retry_delay_ms = 10;
    add_check(e, &s);
    hh_engine_start(e);
    hh_check_t *c = wait_runs(loop, e, "r3", 1, 5000);
    CHECK(c->last_attempts == 3 && c->attempts_total == 3 && c->runs == 1 && c->fails == 1);
    c = wait_runs(loop, e, "r-cut", 1, 5000);
    CHECK(c->last_attempts == 1);
    hh_engine_destroy(&e);
    flip(200);
}

static void test_levels(void)
{
    printf("degraded and unhealthy\n");
    hh_engine_t *e = engine(NULL);
    add_service(e, "warn", NULL);
    add_service(e, "fail", NULL);
    add_service(e, "crit", NULL);
    hh_check_spec_t s = exec_spec("w", "warn", "exit 1");
    add_check(e, &s);
    s = exec_spec("f", "fail", "exit 2");
    add_check(e, &s);
    s = exec_spec("c", "crit", "exit 2");
    s.critical = true;
    add_check(e, &s);
    hh_engine_start(e);
    wait_runs(loop, e, "w", 1, 5000);
    wait_runs(loop, e, "f", 1, 5000);
    wait_runs(loop, e, "c", 1, 5000);
    CHECK(hh_engine_check(e, "w")->state == HH_DEGRADED);
    CHECK(hh_engine_check(e, "f")->state == HH_UNHEALTHY);
    CHECK(hh_engine_service(e, "warn")->state == HH_DEGRADED);
    CHECK(hh_engine_service(e, "fail")->state == HH_DEGRADED); /* active, a check failing */
    CHECK(hh_engine_service(e, "crit")->state == HH_UNHEALTHY);
    CHECK(strstr(hh_engine_service(e, "crit")->reason, "check c failing: exit 2"));
    CHECK(hh_engine_overall(e) == HH_UNHEALTHY);
    hh_engine_destroy(&e);
}

static void test_unit(void)
{
    printf("unit state\n");
    log_t l = {0};
    hh_engine_t *e = engine(&l);
    add_service(e, "app", "app.service");
    hh_check_spec_t s = http_spec("app-http", "app", srv.port, "/ok");
    add_check(e, &s);
    hh_engine_start(e);
    hh_service_t *svc = hh_engine_service(e, "app");
    wait_runs(loop, e, "app-http", 1, 5000);
    /* The check passes, but the unit's state is not known: unknown. */
    CHECK(svc->state == HH_UNKNOWN && strstr(svc->reason, "no state of unit app.service"));
    hh_engine_unit(e, "app", "active", "running", NULL); /* without the suffix: same unit */
    CHECK(svc->state == HH_HEALTHY);
    CHECK(hh_engine_check(e, "app-unit")->state == HH_HEALTHY);
    hh_engine_unit(e, "app.service", "failed", "failed", NULL);
    CHECK(svc->state == HH_UNHEALTHY && strstr(svc->reason, "unit app.service is failed"));
    CHECK(hh_engine_check(e, "app-unit")->state == HH_UNHEALTHY);
    hh_engine_unit(e, "app.service", "activating", "auto-restart", NULL);
    CHECK(svc->state == HH_UNHEALTHY);
    hh_engine_unit(e, "other.service", "active", "running", NULL);
    CHECK(svc->state == HH_UNHEALTHY);
    /* Restarted: the check's verdict was about the old process: unknown
     * until it has run again, which it does at once. */
    uint64_t runs = hh_engine_check(e, "app-http")->runs;
    hh_engine_unit(e, "app.service", "active", "running", NULL);
    /* (On loopback the run may even have completed within the call: curl
     * reads the answer if it is already there.) */
    hh_check_t *hc = hh_engine_check(e, "app-http");
    CHECK(hc->running || hc->runs > runs);
    CHECK(svc->state == (hc->running ? HH_UNKNOWN : HH_HEALTHY));
    wait_runs(loop, e, "app-http", runs + 1, 5000);
    CHECK(svc->state == HH_HEALTHY);
    CHECK(hh_engine_check(e, "app-unit")->runs == 4);
    hh_engine_destroy(&e);
}

/* A unit that is not installed (docker on a VM without it): the service is
 * not applicable, left out of the overall state, until the unit appears. */
static void test_not_installed(void)
{
    printf("unit not installed: not applicable\n");
    hh_engine_t *e = engine(NULL);
    add_service(e, "docker", "docker.service");
    add_service(e, "app", "app.service");
    hh_engine_start(e);
    hh_service_t *d = hh_engine_service(e, "docker");
    hh_engine_unit(e, "app.service", "active", "running", NULL);
    hh_engine_unit_load(e, "docker.service", "not-found");
    hh_engine_unit(e, "docker.service", "inactive", "dead", NULL);
    CHECK(d->state == HH_NOT_APPLICABLE);
    CHECK(strstr(d->reason, "not installed (LoadState=not-found)"));
    CHECK(strcmp(hh_state_name(d->state), "not-applicable") == 0);
    CHECK(hh_engine_overall(e) == HH_HEALTHY);
    hh_engine_unit_load(e, "docker", "masked"); /* masked counts the same */
    CHECK(d->state == HH_NOT_APPLICABLE);
    /* Installed after all, and down: unhealthy like any other unit. */
    hh_engine_unit_load(e, "docker.service", "loaded");
    CHECK(d->state == HH_UNHEALTHY);
    CHECK(hh_engine_overall(e) == HH_UNHEALTHY);
    hh_engine_unit(e, "docker.service", "active", "running", NULL);
    CHECK(d->state == HH_HEALTHY);
    hh_engine_unit_load(e, "docker.service", ""); /* no load state: nothing changes */
    CHECK(d->state == HH_HEALTHY);
    hh_engine_destroy(&e);
}

/* Seen in the e2e chaos scenario: after a reload (SIGHUP) of hl-health, the
 * docker service of a VM without docker said "unit docker.service is inactive
 * (dead)" for good. The new engine took over the unit's active state but not
 * that it is not installed, and the orchestrator publishes the load state
 * only when it changes. */
static void test_not_installed_survives_reload(void)
{
    printf("unit not installed: still not applicable after a reload\n");
    hh_engine_t *e = engine(NULL);
    add_service(e, "docker", "docker.service");
    hh_engine_start(e);
    hh_engine_unit_load(e, "docker.service", "not-found");
    hh_engine_unit(e, "docker.service", "inactive", "dead", NULL);
    CHECK(hh_engine_service(e, "docker")->state == HH_NOT_APPLICABLE);

    hh_engine_t *e2 = engine(NULL);
    add_service(e2, "docker", "docker.service");
    hh_engine_adopt(e2, e);
    hh_engine_start(e2);
    hh_service_t *d = hh_engine_service(e2, "docker");
    CHECK_STR(hh_state_name(d->state), "not-applicable");
    CHECK(d->reason && strstr(d->reason, "LoadState=not-found"));
    CHECK(hh_engine_overall(e2) != HH_UNHEALTHY);
    /* the same unit state again (a periodic re-publish) changes nothing */
    hh_engine_unit(e2, "docker.service", "inactive", "dead", NULL);
    CHECK_STR(hh_state_name(d->state), "not-applicable");
    hh_engine_destroy(&e);
    hh_engine_destroy(&e2);
}

static bool pred_ignored(void *a)
{
    return hh_engine_check(a, "g")->ignored_in_grace >= 2;
}
static bool pred_svc_degraded(void *a)
{
    return hh_engine_service(a, "g")->state == HH_DEGRADED;
}

static void test_grace(void)
{
    printf("start-up grace\n");
    hh_engine_t *e = engine(NULL);
    hh_service_spec_t ss = {.name = "g", .unit = "g.service", .grace_ms = 400};
    CHECK(hh_engine_add_service(e, &ss) == 0);
    hh_check_spec_t s = http_spec("g", "g", srv.port, "/fail");
    s.interval_ms = 40;
    add_check(e, &s);
    hh_engine_start(e);
    hh_engine_unit(e, "g.service", "inactive", "dead", NULL);
    hh_engine_unit(e, "g.service", "activating", "start", NULL);
    hh_engine_unit(e, "g.service", "active", "running", NULL); /* started: grace begins */
    CHECK(run_until(loop, pred_ignored, e, 5000));
    hh_service_t *svc = hh_engine_service(e, "g");
    hh_check_t *c = hh_engine_check(e, "g");
    /* Failing while starting is not counted. */
    CHECK(c->state == HH_UNKNOWN && svc->state == HH_UNKNOWN);
    CHECK(strstr(svc->reason, "start-up grace") && why_has(c, "start period"));
    /* After the start period the failures count. */
    CHECK(run_until(loop, pred_svc_degraded, e, 5000));
    CHECK(c->state == HH_UNHEALTHY);
    hh_engine_destroy(&e);

    /* A pass ends the grace at once: the next failure counts. */
    e = engine(NULL);
    ss.grace_ms = 60000;
    CHECK(hh_engine_add_service(e, &ss) == 0);
    flip(200);
    s = http_spec("g", "g", srv.port, "/flip");
    s.interval_ms = 40;
    add_check(e, &s);
    hh_engine_start(e);
    hh_engine_unit(e, "g.service", "inactive", "dead", NULL);
    hh_engine_unit(e, "g.service", "active", "running", NULL);
    c = wait_runs(loop, e, "g", 1, 5000);
    CHECK(c->state == HH_HEALTHY && c->passed_since_start);
    flip(500);
    c = wait_runs(loop, e, "g", c->runs + 2, 5000);
    CHECK(c->state == HH_UNHEALTHY && c->ignored_in_grace == 0);
    flip(200);
    hh_engine_destroy(&e);
}

static void test_phase(void)
{
    printf("phase hold\n");
    hh_engine_t *e = engine(NULL);
    add_service(e, "core-svc", "core-svc.service");
    hh_engine_start(e);
    hh_service_t *svc = hh_engine_service(e, "core-svc");
    /* Standalone (no orchestrator seen): a dead unit is unhealthy. */
    hh_engine_unit(e, "core-svc.service", "inactive", "dead", "core");
    CHECK(svc->state == HH_UNHEALTHY);
    /* The orchestrator is starting and the unit's phase has not begun. */
    hh_engine_lifecycle(e, "starting");
    hh_engine_phase(e, 1, "infrastructure", "starting");
    hh_engine_phase(e, 2, "core", "pending");
    CHECK(svc->state == HH_UNKNOWN && strstr(svc->reason, "startup phase core is pending"));
    hh_engine_phase(e, 2, "core", "starting");
    hh_engine_unit(e, "core-svc.service", "activating", "start", "core");
    CHECK(svc->state == HH_UNKNOWN);
    /* The phase now waits for health: we must answer, not hold. */
    hh_engine_phase(e, 2, "core", "health");
    CHECK(svc->state == HH_UNHEALTHY);
    hh_engine_unit(e, "core-svc.service", "active", "running", "core");
    CHECK(svc->state == HH_HEALTHY);
    /* Shutting down: units going away are expected. */
    hh_engine_lifecycle(e, "shutting-down");
    hh_engine_unit(e, "core-svc.service", "inactive", "dead", "core");
    CHECK(svc->state == HH_UNKNOWN && strstr(svc->reason, "shutting down"));
    /* An explicit phase by index works as well. */
    hh_service_spec_t ss = {.name = "p3", .unit = "p3.service", .phase = "3"};
    CHECK(hh_engine_add_service(e, &ss) == 0);
    hh_engine_lifecycle(e, "starting");
    hh_engine_phase(e, 3, "application", "pending");
    hh_engine_unit(e, "p3.service", "inactive", "dead", NULL);
    CHECK(hh_engine_service(e, "p3")->state == HH_UNKNOWN);
    hh_engine_phase(e, 3, "application", "done");
    CHECK(hh_engine_service(e, "p3")->state == HH_UNHEALTHY);
    hh_engine_destroy(&e);
}

typedef struct {
    hh_engine_t *e;
    int n;
} slip_t;
static bool pred_slip(void *a)
{
    slip_t *s = a;
    for (int i = 0; i < s->n; i++) {
        char name[32];
        snprintf(name, sizeof name, "ok-%d", i);
        if (hh_engine_check(s->e, name)->runs < 8)
            return false;
    }
    return true;
}

static void test_no_slip(void)
{
    printf("hung endpoints delay nothing\n");
    hh_engine_t *e = engine(NULL);
    add_service(e, "svc", NULL);
    enum { NOK = 40, NHANG = 10 };
    for (int i = 0; i < NOK + NHANG; i++) {
        char name[32], path[32];
        snprintf(name, sizeof name, i < NOK ? "ok-%d" : "hang-%d", i);
        snprintf(path, sizeof path, i < NOK ? "/ok/%d" : "/hang/%d", i);
        hh_check_spec_t s = http_spec(name, "svc", srv.port, path);
        s.interval_ms = 250;
        /* Hung checks time out after two intervals: they overrun themselves
         * (and skip their own runs), never anyone else's. */
        s.timeout_ms = i < NOK ? 200 : 500;
        add_check(e, &s);
    }
    hh_engine_set_spread(e, 250);
    hh_engine_start(e);
    slip_t a = {e, NOK};
    CHECK(run_until(loop, pred_slip, &a, 30000));
    uint64_t late_max = 0, skipped = 0, hang_skipped = 0;
    for (int i = 0; i < NOK + NHANG; i++) {
        char name[32];
        snprintf(name, sizeof name, i < NOK ? "ok-%d" : "hang-%d", i);
        hh_check_t *c = hh_engine_check(e, name);
        if (i < NOK) {
            skipped += c->skipped;
            CHECK(c->state == HH_HEALTHY);
            if (c->late_max_us > late_max)
                late_max = c->late_max_us;
        } else {
            hang_skipped += c->skipped;
        }
    }
    printf("  healthy checks: %llu runs skipped, max start lateness %.2f ms; hung checks "
           "skipped %llu of their own runs\n",
           (unsigned long long)skipped, (double)late_max / 1000.0,
           (unsigned long long)hang_skipped);
    CHECK(skipped == 0);
    CHECK(hang_skipped > 0);
    hh_engine_destroy(&e);
}

static void test_adopt_and_errors(void)
{
    printf("reload adoption, bad specs\n");
    hh_engine_t *e = engine(NULL);
    add_service(e, "svc", "svc.service");
    hh_check_spec_t s = exec_spec("x", "svc", "exit 1");
    add_check(e, &s);
    hh_engine_start(e);
    hh_engine_unit(e, "svc", "active", "running", NULL);
    wait_runs(loop, e, "x", 2, 5000);
    CHECK(hh_engine_service(e, "svc")->state == HH_DEGRADED);

    hh_engine_t *e2 = engine(NULL);
    add_service(e2, "svc", "svc.service");
    s = exec_spec("x", "svc", "exit 1");
    add_check(e2, &s);
    hh_engine_adopt(e2, e);
    hh_engine_start(e2);
    CHECK(hh_engine_check(e2, "x")->state == HH_DEGRADED);
    CHECK(hh_engine_check(e2, "x")->runs >= 2);
    CHECK(hh_engine_service(e2, "svc")->state == HH_DEGRADED);
    CHECK(strcmp(hh_engine_service(e2, "svc")->active_state, "active") == 0);

    char *err = NULL;
    s = exec_spec("x", "svc", "exit 0");
    CHECK(hh_engine_add_check(e2, &s, &err) == -EEXIST && strstr(err, "used twice"));
    free(err);
    err = NULL;
    free(s.name);
    s.name = strdup("y");
    free(s.service);
    s.service = strdup("nosuch");
    CHECK(hh_engine_add_check(e2, &s, &err) == -ENOENT && strstr(err, "no service nosuch"));
    free(err);
    err = NULL;
    free(s.service);
    s.service = strdup("svc");
    s.interval_ms = 0;
    CHECK(hh_engine_add_check(e2, &s, &err) == -EINVAL);
    free(err);
    err = NULL;
    s.interval_ms = 100;
    free(s.u.exec.argv[0]);
    s.u.exec.argv[0] = strdup("relative/path");
    CHECK(hh_engine_add_check(e2, &s, &err) == -EINVAL && strstr(err, "absolute"));
    free(err);
    hh_check_spec_clear(&s);
    hh_service_spec_t ss = {.name = "svc"};
    CHECK(hh_engine_add_service(e2, &ss) == -EEXIST);
    CHECK(hh_engine_run_now(e2, "nosuch") == -ENOENT);
    CHECK(hh_engine_run_now(e2, "svc-unit") == -EINVAL);
    hh_engine_destroy(&e);
    hh_engine_destroy(&e2);
}

int main(int argc, char **argv)
{
    CHECK(argc > 1);
    setvbuf(stdout, NULL, _IOLBF, 0);
    httpd_path = argv[1];
    zsys_init();
    zsys_handler_set(NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    loop = zloop_new();
    io = hlb_reactor_new(loop);
    srv = httpd_start(httpd_path);
    test_debounce();
    test_retries();
    test_levels();
    test_unit();
    test_not_installed();
    test_not_installed_survives_reload();
    test_grace();
    test_phase();
    test_no_slip();
    test_adopt_and_errors();
    httpd_stop(&srv);
    hlb_reactor_destroy(&io);
    zloop_destroy(&loop);
    curl_global_cleanup();
    printf("test_hh_engine: ok\n");
    return check_done();
}
