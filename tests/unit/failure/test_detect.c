/* Failure detection from normalised observations: each of the four types,
 * transitions only, sustain windows on a fake clock, health, and reasserting
 * ongoing failures. */
#include <stdio.h>
#include <string.h>
#include <hlbus/hlbus.h>

#include "check.h"
#include "fl_detect.h"

#define MAXF 32

typedef struct {
    fl_failure_t f[MAXF];
    char evidence[MAXF][256];
    char target[MAXF][64];
    int n;
    char healthy[MAXF][64];
    int nhealthy;
    char config_ok[MAXF][64];
    int nconfig_ok;
} rec_t;

static void on_failure(const fl_failure_t *f, void *arg)
{
    rec_t *r = arg;
    if (r->n >= MAXF)
        return;
    r->f[r->n] = *f;
    snprintf(r->evidence[r->n], sizeof r->evidence[0], "%s", f->evidence);
    snprintf(r->target[r->n], sizeof r->target[0], "%s", f->target);
    r->n++;
}

static void on_healthy(const char *target, const char *why, void *arg)
{
    rec_t *r = arg;
    if (r->nhealthy < MAXF)
        snprintf(r->healthy[r->nhealthy++], sizeof r->healthy[0], "%s", target);
}

static void on_config_ok(const char *target, const char *why, void *arg)
{
    rec_t *r = arg;
    if (r->nconfig_ok < MAXF)
        snprintf(r->config_ok[r->nconfig_ok++], sizeof r->config_ok[0], "%s", target);
}

static const fl_detect_ops_t ops = {on_failure, on_healthy, on_config_ok};

static fl_config_t *config(const char *text)
{
    hlb_diag_t d = {0};
    hlb_conf_t *c = hlb_conf_parse("t.yaml", text, &d);
    fl_config_t *fc = c ? fl_config_parse(hlb_conf_get(c, "hl-failure"), &d) : NULL;
    if (!fc)
        fprintf(stderr, "config: %s\n", d.text ? d.text : "?");
    hlb_conf_destroy(&c);
    hlb_diag_free(&d);
    return fc;
}

static fl_unit_obs_t unit(const char *svc, const char *active, const char *sub, const char *result)
{
    return (fl_unit_obs_t){.service = svc, .active_state = active, .sub_state = sub,
                           .result = result, .load_state = "loaded", .n_restarts = 0};
}

/* kill -9 with Restart=on-failure: auto-restart, then active again. */
static void test_crash(void)
{
    rec_t r = {0};
    fl_config_t *c = config("");
    fl_detect_t *d = fl_detect_new(c, &ops, &r);
    fl_unit_obs_t u = unit("hl-daemon", "active", "running", "success");
    u.unit = "hl-daemon.service";
    fl_detect_unit(d, &u, 0);
    CHECK(r.n == 0 && r.nhealthy == 1 && strcmp(r.healthy[0], "hl-daemon") == 0);
    /* the same state again is no news */
    fl_detect_unit(d, &u, 1);
    CHECK(r.n == 0 && r.nhealthy == 1);

    u = unit("hl-daemon", "activating", "auto-restart", "signal");
    u.exit_code = 2;
    u.exit_status = 9;
    u.ts_us = 12345;
    fl_detect_unit(d, &u, 10);
    CHECK(r.n == 1);
    fl_failure_t *f = &r.f[0];
    CHECK(f->type == FL_FT_SERVICE_CRASH && f->severity == FL_SEV_CRITICAL && f->recover);
    CHECK(f->self_restarting && !f->config && !f->reasserted && f->source_ts_us == 12345);
    CHECK(strcmp(r.target[0], "hl-daemon") == 0 && strcmp(f->pattern, "unit-crash") == 0);
    CHECK_MSG(strstr(r.evidence[0], "hl-daemon.service died: killed by signal 9 (SIGKILL), "
                                    "result signal") &&
                  strstr(r.evidence[0], "systemd restarts it itself"),
              "%s", r.evidence[0]);
    /* the restart is under way (several reports): still one failure */
    u = unit("hl-daemon", "activating", "start", "success");
    u.n_restarts = 1;
    fl_detect_unit(d, &u, 20);
    CHECK(r.n == 1);
    u = unit("hl-daemon", "active", "running", "success");
    u.n_restarts = 1;
    fl_detect_unit(d, &u, 30);
    CHECK(r.n == 1 && r.nhealthy == 2);

    /* a failed unit (Restart=no, or the start limit): held for a moment to
     * see whether systemd restarts it; it does not: not self-restarting */
    u = unit("hl-daemon", "failed", "failed", "core-dump");
    u.exit_code = 3;
    u.exit_status = 11;
    fl_detect_unit(d, &u, 40);
    CHECK(r.n == 1 && fl_detect_next_due(d) == 40 + 250);
    fl_detect_tick(d, 289);
    CHECK(r.n == 1);
    fl_detect_tick(d, 290);
    CHECK(r.n == 2 && !r.f[1].self_restarting);
    CHECK_MSG(strstr(r.evidence[1], "failed: dumped core on signal 11 (SIGSEGV)"), "%s",
              r.evidence[1]);
    CHECK(!fl_detect_is_healthy(d, "hl-daemon"));

    /* "failed" then "auto-restart", as systemd reports a Restart= unit: one
     * failure, self-restarting, with the exit of the "failed" report */
    u = unit("hl-daemon", "active", "running", "success");
    fl_detect_unit(d, &u, 41);
    u = unit("hl-daemon", "failed", "failed", "signal");
    u.exit_code = 2;
    u.exit_status = 9;
    fl_detect_unit(d, &u, 42);
    u = unit("hl-daemon", "activating", "auto-restart", "signal");
    fl_detect_unit(d, &u, 43);
    CHECK(r.n == 3 && r.f[2].self_restarting && fl_detect_next_due(d) == UINT64_MAX);
    CHECK_MSG(strstr(r.evidence[2], "failed: killed by signal 9 (SIGKILL)"), "%s", r.evidence[2]);
    u = unit("hl-daemon", "active", "running", "success");
    fl_detect_unit(d, &u, 44);
    /* ... but started again by someone meanwhile: not systemd restarting it */
    u = unit("hl-daemon", "failed", "failed", "signal");
    fl_detect_unit(d, &u, 45);
    u = unit("hl-daemon", "activating", "start", "success");
    fl_detect_unit(d, &u, 46);
    CHECK(r.n == 4 && !r.f[3].self_restarting);
    u = unit("hl-daemon", "failed", "failed", "signal");
    fl_detect_unit(d, &u, 47);
    fl_detect_tick(d, 1000);
    CHECK(r.n == 5 && !r.f[4].self_restarting);
    r.n = 2; /* the counts below were written before these */

    /* a clean stop is not a failure */
    u = unit("hl-daemon", "inactive", "dead", "success");
    fl_detect_unit(d, &u, 50);
    CHECK(r.n == 2);

    /* a failure that was never seen, only the restart count rising */
    u = unit("hl-daemon", "active", "running", "success");
    u.n_restarts = 4;
    fl_detect_unit(d, &u, 60);
    CHECK(r.n == 3 && r.f[2].self_restarting);
    CHECK_MSG(strstr(r.evidence[2], "restart count 0 -> 4"), "%s", r.evidence[2]);
    u.n_restarts = 5;
    fl_detect_unit(d, &u, 70);
    CHECK(r.n == 4 && r.f[3].self_restarting);
    CHECK_MSG(strstr(r.evidence[3], "restart count 4 -> 5"), "%s", r.evidence[3]);
    /* a manual start resets the count: not a failure */
    u.n_restarts = 0;
    fl_detect_unit(d, &u, 80);
    CHECK(r.n == 4);

    /* events without a service name are dropped */
    u = unit(NULL, "failed", "failed", "signal");
    fl_detect_unit(d, &u, 90);
    CHECK(r.n == 4);
    fl_detect_destroy(&d);
    fl_config_destroy(&c);
}

/* exit 78: a configuration error; a bad unit file too. */
static void test_config_errors(void)
{
    rec_t r = {0};
    fl_config_t *c = config("");
    fl_detect_t *d = fl_detect_new(c, &ops, &r);
    fl_unit_obs_t u = unit("claude-code", "failed", "failed", "exit-code");
    u.exit_code = 1;
    u.exit_status = 78;
    fl_detect_unit(d, &u, 0);
    fl_detect_tick(d, 250);
    CHECK(r.n == 1 && r.f[0].type == FL_FT_CONFIG && r.f[0].config && !r.f[0].self_restarting);
    CHECK(strcmp(r.f[0].pattern, "bad-config-exit") == 0);
    CHECK_MSG(strstr(r.evidence[0], "exited with status 78") &&
                  strstr(r.evidence[0], "restarting cannot fix it"),
              "%s", r.evidence[0]);
    /* exit 1 is a crash */
    u = unit("claude-code", "active", "running", "success");
    fl_detect_unit(d, &u, 1);
    u = unit("claude-code", "failed", "failed", "exit-code");
    u.exit_code = 1;
    u.exit_status = 1;
    fl_detect_unit(d, &u, 2);
    fl_detect_tick(d, 300);
    CHECK(r.n == 2 && r.f[1].type == FL_FT_SERVICE_CRASH);
    /* the unit file is broken */
    u = unit("claude-code", "inactive", "dead", "success");
    u.load_state = "bad-setting";
    fl_detect_unit(d, &u, 3);
    CHECK(r.n == 3 && r.f[2].type == FL_FT_CONFIG && strcmp(r.f[2].signal, "unit-config") == 0);
    CHECK(strstr(r.evidence[2], "cannot be loaded (load state bad-setting)"));
    fl_detect_unit(d, &u, 4);
    CHECK(r.n == 3);
    /* exit 78 in a restart loop (no RestartPreventExitStatus=78):
     * self-restarting, so that the loop can be stopped */
    u = unit("claude-code", "failed", "failed", "exit-code");
    u.load_state = "loaded";
    u.exit_code = 1;
    u.exit_status = 78;
    fl_detect_unit(d, &u, 500);
    u.active_state = "activating";
    u.sub_state = "auto-restart";
    fl_detect_unit(d, &u, 501);
    CHECK(r.n == 4 && r.f[3].config && r.f[3].self_restarting);
    /* exit 78, then started by hand: not a loop */
    u = unit("claude-code", "active", "running", "success");
    u.n_restarts = 1;
    fl_detect_unit(d, &u, 600);
    u = unit("claude-code", "failed", "failed", "exit-code");
    u.n_restarts = 1;
    u.exit_code = 1;
    u.exit_status = 78;
    fl_detect_unit(d, &u, 700);
    u = unit("claude-code", "activating", "start", "success");
    u.n_restarts = 0; /* a manual start resets the count */
    fl_detect_unit(d, &u, 710);
    CHECK(r.n == 5 && r.f[4].config && !r.f[4].self_restarting);
    fl_detect_destroy(&d);
    fl_config_destroy(&c);

    /* restart_settle: 0 reports "failed" at once */
    c = config("hl-failure:\n  restart_settle: 0s\n");
    d = fl_detect_new(c, &ops, &r);
    r.n = 0;
    u = unit("x", "failed", "failed", "signal");
    fl_detect_unit(d, &u, 0);
    CHECK(r.n == 1 && !r.f[0].self_restarting);
    fl_detect_destroy(&d);
    fl_config_destroy(&c);
}

/* A hang: the unit runs, health fails; held for the sustain, and dropped if
 * the unit goes down meanwhile (that is a crash, reported as one). */
static void test_hang(void)
{
    rec_t r = {0};
    fl_config_t *c = config("hl-failure:\n"
                            "  patterns:\n"
                            "    - {name: crash, on: unit-failed}\n"
                            "    - {name: hang, on: unhealthy, sustain: 5s}\n");
    fl_detect_t *d = fl_detect_new(c, &ops, &r);
    fl_unit_obs_t u = unit("web", "active", "running", "success");
    fl_detect_unit(d, &u, 0);
    fl_detect_health(d, &(fl_health_obs_t){.service = "web", .state = FL_H_HEALTHY}, 1);
    CHECK(r.nhealthy == 1 && fl_detect_is_healthy(d, "web"));
    fl_detect_health(d, &(fl_health_obs_t){.service = "web", .state = FL_H_UNHEALTHY,
                                           .reason = "http: timed out", .ts_us = 77},
                     1000);
    CHECK(r.n == 0 && fl_detect_next_due(d) == 6000 && !fl_detect_is_healthy(d, "web"));
    fl_detect_tick(d, 5999);
    CHECK(r.n == 0);
    fl_detect_tick(d, 6000);
    CHECK(r.n == 1 && r.f[0].type == FL_FT_SERVICE_CRASH && !r.f[0].self_restarting);
    CHECK(strcmp(r.f[0].signal, "unhealthy") == 0 && r.f[0].source_ts_us == 77);
    CHECK_MSG(strstr(r.evidence[0], "web unhealthy while its unit is active: http: timed out"),
              "%s", r.evidence[0]);
    CHECK(fl_detect_next_due(d) == UINT64_MAX);
    /* still unhealthy: no second report; healthy again: told */
    fl_detect_health(d, &(fl_health_obs_t){.service = "web", .state = FL_H_UNHEALTHY}, 7000);
    fl_detect_tick(d, 20000);
    CHECK(r.n == 1);
    fl_detect_health(d, &(fl_health_obs_t){.service = "web", .state = FL_H_HEALTHY}, 21000);
    CHECK(r.nhealthy == 2);

    /* unhealthy, then the unit dies before the sustain ends: one crash */
    fl_detect_health(d, &(fl_health_obs_t){.service = "web", .state = FL_H_UNHEALTHY}, 30000);
    u = unit("web", "failed", "failed", "signal");
    fl_detect_unit(d, &u, 31000);
    fl_detect_tick(d, 40000);
    CHECK(r.n == 2 && strcmp(r.f[1].signal, "unit-failed") == 0);
    /* health that lags behind the restart is not a hang */
    u = unit("web", "active", "running", "success");
    fl_detect_unit(d, &u, 41000);
    fl_detect_health(d, &(fl_health_obs_t){.service = "web", .state = FL_H_UNHEALTHY}, 41001);
    CHECK(!fl_detect_is_healthy(d, "web")); /* has checks: the unit alone is not enough */
    fl_detect_health(d, &(fl_health_obs_t){.service = "web", .state = FL_H_UNKNOWN}, 42000);
    fl_detect_health(d, &(fl_health_obs_t){.service = "web", .state = FL_H_HEALTHY}, 43000);
    fl_detect_tick(d, 50000);
    CHECK(r.n == 2 && fl_detect_is_healthy(d, "web"));
    /* a restart makes the last verdict stale: healthy again only once the
     * checks have said so about the new process */
    int before = r.nhealthy;
    u = unit("web", "inactive", "dead", "success");
    fl_detect_unit(d, &u, 50100);
    u = unit("web", "active", "running", "success");
    fl_detect_unit(d, &u, 50200);
    CHECK(!fl_detect_is_healthy(d, "web") && r.nhealthy == before);
    fl_detect_health(d, &(fl_health_obs_t){.service = "web", .state = FL_H_HEALTHY}, 50300);
    CHECK(fl_detect_is_healthy(d, "web") && r.nhealthy == before + 1);
    /* degraded is not healthy, and not a failure */
    fl_detect_health(d, &(fl_health_obs_t){.service = "web", .state = FL_H_DEGRADED}, 51000);
    fl_detect_tick(d, 60000);
    CHECK(r.n == 2 && !fl_detect_is_healthy(d, "web"));
    fl_detect_destroy(&d);
    fl_config_destroy(&c);
}

/* healthy_on: unit ignores health; health needs it even when the unit runs. */
static void test_healthy_on(void)
{
    rec_t r = {0};
    fl_config_t *c = config("hl-failure:\n"
                            "  services:\n"
                            "    a: {healthy_on: unit}\n"
                            "    b: {healthy_on: health}\n");
    fl_detect_t *d = fl_detect_new(c, &ops, &r);
    fl_unit_obs_t u = unit("a", "active", "running", "success");
    fl_detect_unit(d, &u, 0);
    fl_detect_health(d, &(fl_health_obs_t){.service = "a", .state = FL_H_DEGRADED}, 1);
    CHECK(fl_detect_is_healthy(d, "a"));
    u = unit("b", "active", "running", "success");
    fl_detect_unit(d, &u, 0);
    CHECK(!fl_detect_is_healthy(d, "b") && r.nhealthy == 1);
    fl_detect_health(d, &(fl_health_obs_t){.service = "b", .state = FL_H_HEALTHY}, 1);
    CHECK(fl_detect_is_healthy(d, "b") && r.nhealthy == 2);
    CHECK(!fl_detect_is_healthy(d, "never-seen"));
    fl_detect_destroy(&d);
    fl_config_destroy(&c);
}

/* Resource exhaustion: a threshold firing for the pattern's sustain. */
static void test_threshold(void)
{
    rec_t r = {0};
    fl_config_t *c = config("hl-failure:\n"
                            "  services:\n"
                            "    web: {}\n"
                            "  patterns:\n"
                            "    - {name: mem, on: threshold, metrics: [memory], sustain: 30s,"
                            " target: web, severity: critical}\n"
                            "    - {name: disk, on: threshold, metrics: [disk*], sustain: 0s,"
                            " command: [/bin/true]}\n"
                            "    - {name: rest, on: threshold, metrics: [load], recover: false}\n");
    fl_detect_t *d = fl_detect_new(c, &ops, &r);
    fl_threshold_obs_t t = {.name = "memory", .resource = "memory", .firing = true,
                            .value = 91.5, .limit = 85, .unit = "percent", .ts_us = 5};
    fl_detect_threshold(d, &t, 1000);
    CHECK(r.n == 0 && fl_detect_next_due(d) == 31000);
    /* a repeated FIRING refreshes the figures, not the clock */
    t.value = 93.25;
    fl_detect_threshold(d, &t, 20000);
    fl_detect_tick(d, 30999);
    CHECK(r.n == 0);
    fl_detect_tick(d, 31000);
    CHECK(r.n == 1 && r.f[0].type == FL_FT_RESOURCE && r.f[0].severity == FL_SEV_CRITICAL);
    CHECK(strcmp(r.target[0], "web") == 0 && r.f[0].recover && r.f[0].value == 93.25);
    CHECK_MSG(strstr(r.evidence[0], "memory at 93.2 %, over its limit 85.0 %, firing for 30 s"),
              "%s", r.evidence[0]);
    t.firing = false;
    fl_detect_threshold(d, &t, 40000);
    CHECK(r.nhealthy == 0); /* the service's own health says when it is well */

    /* cleared before the window ends: nothing */
    t.firing = true;
    fl_detect_threshold(d, &t, 50000);
    t.firing = false;
    fl_detect_threshold(d, &t, 60000);
    fl_detect_tick(d, 100000);
    CHECK(r.n == 1);

    /* a command target: resource:<name>, healthy when it clears */
    fl_threshold_obs_t k = {.name = "disk", .resource = "disk", .firing = true, .value = 97,
                            .limit = 90, .unit = "percent"};
    fl_detect_threshold(d, &k, 100000);
    CHECK(r.n == 2 && strcmp(r.target[1], "resource:disk") == 0 && r.f[1].recover &&
          r.f[1].command && strcmp(r.f[1].command[0], "/bin/true") == 0);
    CHECK(!fl_detect_is_healthy(d, "resource:disk"));
    k.firing = false;
    fl_detect_threshold(d, &k, 100500);
    CHECK(r.nhealthy == 1 && strcmp(r.healthy[0], "resource:disk") == 0);
    CHECK(fl_detect_is_healthy(d, "resource:disk"));

    /* reported only */
    fl_threshold_obs_t l = {.name = "load", .firing = true, .value = 9, .limit = 4};
    fl_detect_threshold(d, &l, 200000);
    fl_detect_tick(d, 260000);
    CHECK(r.n == 3 && !r.f[2].recover && strcmp(r.target[2], "resource:load") == 0);
    CHECK_MSG(strstr(r.evidence[2], "load at 9.0, over its limit 4.0"), "%s", r.evidence[2]);
    /* no pattern: ignored */
    fl_threshold_obs_t z = {.name = "cpu", .firing = true};
    fl_detect_threshold(d, &z, 300000);
    fl_detect_tick(d, 900000);
    CHECK(r.n == 3);
    fl_detect_destroy(&d);
    fl_config_destroy(&c);
}

/* Network: the uplink's state, and a reachability check. */
static void test_network(void)
{
    rec_t r = {0};
    fl_config_t *c = config("hl-failure:\n"
                            "  patterns:\n"
                            "    - {name: up, on: uplink, sustain: 2s}\n"
                            "  checks:\n"
                            "    - {name: api, command: [/bin/false], failures: 2}\n"
                            "    - {name: cfg, command: [/bin/false], failures: 1,"
                            " type: configuration_error, service: web}\n");
    fl_detect_t *d = fl_detect_new(c, &ops, &r);
    fl_detect_uplink(d, &(fl_uplink_obs_t){.topic = "uplink.status", .up = true}, 0);
    fl_detect_uplink(d, &(fl_uplink_obs_t){.topic = "uplink.status", .up = false,
                                           .detail = "connect refused"},
                     1000);
    CHECK(r.n == 0);
    fl_detect_tick(d, 3000);
    CHECK(r.n == 1 && r.f[0].type == FL_FT_NETWORK && strcmp(r.target[0], "network") == 0);
    CHECK(strstr(r.evidence[0], "uplink.status: connect refused"));
    CHECK(!fl_detect_is_healthy(d, "network"));

    /* the check fails too; the network is healthy only once both are fine */
    const fl_check_cfg_t *api = &c->checks[0];
    fl_detect_check(d, api, false, "exit 7", 4000);
    CHECK(r.n == 1);
    fl_detect_check(d, api, false, "exit 7", 5000);
    CHECK(r.n == 2 && strcmp(r.f[1].signal, "check") == 0);
    CHECK_MSG(strstr(r.evidence[1], "check api failed 2 times in a row: exit 7"), "%s",
              r.evidence[1]);
    fl_detect_check(d, api, false, "exit 7", 6000); /* no repeat */
    CHECK(r.n == 2);
    fl_detect_uplink(d, &(fl_uplink_obs_t){.topic = "uplink.status", .up = true}, 7000);
    CHECK(r.nhealthy == 0);
    fl_detect_check(d, api, true, NULL, 8000);
    CHECK(r.nhealthy == 1 && strcmp(r.healthy[0], "network") == 0);
    CHECK(fl_detect_is_healthy(d, "network"));
    /* one failure then success: nothing */
    fl_detect_check(d, api, false, "x", 9000);
    fl_detect_check(d, api, true, NULL, 10000);
    CHECK(r.n == 2 && r.nhealthy == 1);
    /* uplink down and up within the sustain: nothing */
    fl_detect_uplink(d, &(fl_uplink_obs_t){.topic = "uplink.status", .up = false}, 11000);
    fl_detect_uplink(d, &(fl_uplink_obs_t){.topic = "uplink.status", .up = true}, 12000);
    fl_detect_tick(d, 20000);
    CHECK(r.n == 2);

    /* a configuration check */
    const fl_check_cfg_t *cfg = &c->checks[1];
    fl_detect_check(d, cfg, false, "line 3: bad key", 21000);
    CHECK(r.n == 3 && r.f[2].config && r.f[2].type == FL_FT_CONFIG &&
          strcmp(r.target[2], "web") == 0);
    fl_detect_check(d, cfg, true, NULL, 22000);
    CHECK(r.nconfig_ok == 1 && strcmp(r.config_ok[0], "web") == 0);
    fl_detect_destroy(&d);
    fl_config_destroy(&c);
}

/* After the gate opens or a rearm: what is still wrong is reported again. */
static void test_reassert(void)
{
    rec_t r = {0};
    fl_config_t *c = config("hl-failure:\n"
                            "  patterns:\n"
                            "    - {name: cfg, on: exit-status, exit_status: [78]}\n"
                            "    - {name: crash, on: unit-failed}\n"
                            "    - {name: hang, on: unhealthy}\n"
                            "    - {name: up, on: uplink}\n"
                            "    - {name: mem, on: threshold, sustain: 0s}\n");
    fl_detect_t *d = fl_detect_new(c, &ops, &r);
    fl_unit_obs_t u = unit("a", "failed", "failed", "signal");
    fl_detect_unit(d, &u, 0);
    u = unit("b", "active", "running", "success");
    fl_detect_unit(d, &u, 0);
    fl_detect_health(d, &(fl_health_obs_t){.service = "b", .state = FL_H_UNHEALTHY}, 1);
    u = unit("c", "failed", "failed", "exit-code");
    u.exit_code = 1;
    u.exit_status = 78;
    fl_detect_unit(d, &u, 0);
    u = unit("ok", "active", "running", "success");
    fl_detect_unit(d, &u, 0);
    fl_detect_uplink(d, &(fl_uplink_obs_t){.topic = "uplink.status", .up = false}, 2);
    fl_detect_threshold(d, &(fl_threshold_obs_t){.name = "memory", .firing = true}, 3);
    r.n = 0;
    fl_detect_reassert(d, NULL, 4); /* the failed units are still held: not twice */
    CHECK(r.n == 3);
    r.n = 3;
    fl_detect_tick(d, 1000);
    CHECK(r.n == 5);
    r.n = 0;
    fl_detect_reassert(d, NULL, 10);
    CHECK(r.n == 5);
    int seen = 0;
    for (int i = 0; i < r.n; i++) {
        CHECK(r.f[i].reasserted);
        if (strcmp(r.target[i], "a") == 0) {
            seen |= 1;
            CHECK(strstr(r.evidence[i], "is still down") != NULL);
        }
        if (strcmp(r.target[i], "b") == 0)
            seen |= 2;
        if (strcmp(r.target[i], "c") == 0) {
            seen |= 4;
            CHECK(r.f[i].config);
        }
        if (strcmp(r.target[i], "network") == 0)
            seen |= 8;
        if (strcmp(r.target[i], "resource:memory") == 0)
            seen |= 16;
    }
    CHECK(seen == 31);
    r.n = 0;
    fl_detect_reassert(d, "a", 11);
    CHECK(r.n == 1 && strcmp(r.target[0], "a") == 0);
    r.n = 0;
    fl_detect_reassert(d, "ok", 12);
    CHECK(r.n == 0);

    /* a reload that drops the patterns drops their pending conditions */
    fl_config_t *c2 = config("hl-failure:\n"
                             "  patterns:\n"
                             "    - {name: crash, on: unit-failed}\n");
    fl_detect_set_config(d, c2);
    r.n = 0;
    fl_detect_reassert(d, NULL, 13);
    CHECK(r.n == 2); /* a (crash) and c (now matched as a crash: exit 78 has no pattern) */
    fl_detect_destroy(&d);
    fl_config_destroy(&c);
    fl_config_destroy(&c2);
}

static void test_health_name(void)
{
    CHECK(strcmp(fl_health_name(FL_H_DEGRADED), "degraded") == 0);
    CHECK(strcmp(fl_health_name(FL_H_UNKNOWN), "unknown") == 0);
}

int main(void)
{
    test_crash();
    test_config_errors();
    test_hang();
    test_healthy_on();
    test_threshold();
    test_network();
    test_reassert();
    test_health_name();
    return check_done();
}
