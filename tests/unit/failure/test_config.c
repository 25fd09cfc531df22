/* hl-failure's config: defaults without a section, every setting parsed, and
 * every kind of mistake reported with file and line. */
#include <string.h>
#include <hlbus/hlbus.h>

#include "check.h"
#include "fl_config.h"

static fl_config_t *parse(const char *text, hlb_diag_t *d)
{
    hlb_conf_t *c = hlb_conf_parse("f.yaml", text, d);
    if (!c)
        return NULL;
    fl_config_t *fc = fl_config_parse(hlb_conf_get(c, "hl-failure"), d);
    hlb_conf_destroy(&c);
    return fc;
}

static void test_defaults(void)
{
    hlb_diag_t d = {0};
    fl_config_t *c = fl_config_parse(NULL, &d);
    CHECK(c && d.errors == 0);
    CHECK(strcmp(c->orchestrator, "hl-orchestrator") == 0);
    CHECK(strcmp(c->recover_method, "recover") == 0);
    CHECK(c->require_lifecycle && c->stop_config_loops && !c->recover_unlisted);
    CHECK(c->recover_in && strcmp(c->recover_in[0], "ready") == 0 && !c->recover_in[1]);
    /* the spec's policy: restart, reset, rebuild; 3 attempts; attempt × 10 s */
    CHECK(c->defaults.max_attempts == 3 && c->defaults.backoff_ms == 10000);
    CHECK(c->defaults.nactions == 3 && strcmp(c->defaults.actions[2], "rebuild") == 0);
    /* the spec's critical services are recovered, nothing else */
    CHECK(fl_config_policy_for(c, "hl-daemon") && fl_config_policy_for(c, "claude-code"));
    CHECK(fl_config_policy_for(c, "docker") == NULL);
    const fl_service_cfg_t *s = fl_config_service(c, "hl-daemon");
    CHECK(s && strcmp(s->unit, "hl-daemon.service") == 0);
    /* built-in patterns cover the four types; 78 is a configuration error */
    CHECK(c->npatterns == 6);
    bool types[FL_NFTYPES] = {0};
    for (size_t i = 0; i < c->npatterns; i++)
        types[c->patterns[i].type] = true;
    CHECK(types[0] && types[1] && types[2] && types[3]);
    CHECK(c->patterns[0].on == FL_ON_EXIT_STATUS && c->patterns[0].exit_status[0] == 78);
    CHECK(c->network_command == NULL && c->nchecks == 0);
    CHECK(c->network_policy.nactions == 1 && strcmp(c->network_policy.actions[0], "command") == 0);
    CHECK(strcmp(c->topic_threshold, "metrics.threshold.") == 0);
    fl_config_destroy(&c);
    CHECK(c == NULL);
    fl_config_destroy(&c);
    hlb_diag_free(&d);
}

static void test_full(void)
{
    hlb_diag_t d = {0};
    fl_config_t *c = parse("hl-failure:\n"
                           "  orchestrator: orch\n"
                           "  action_timeout: 30s\n"
                           "  recover_in: [ready, failed]\n"
                           "  require_lifecycle: false\n"
                           "  recover_unlisted: true\n"
                           "  recovery:\n"
                           "    max_attempts: 4\n"
                           "    backoff: 2s\n"
                           "    flap_max: 3\n"
                           "    flap_window: 10m\n"
                           "  services:\n"
                           "    web:\n"
                           "      unit: hl-service@web.service\n"
                           "      actions: [restart, reset]\n"
                           "      max_attempts: 2\n"
                           "      healthy_on: unit\n"
                           "    quiet:\n"
                           "      recover: false\n"
                           "    plain:\n"
                           "  patterns:\n"
                           "    - name: oom\n"
                           "      on: unit-failed\n"
                           "      results: [oom-kill]\n"
                           "      severity: warning\n"
                           "    - name: mem\n"
                           "      on: threshold\n"
                           "      metrics: [memory*]\n"
                           "      sustain: 5s\n"
                           "      target: web\n"
                           "    - name: disk\n"
                           "      on: threshold\n"
                           "      metrics: [disk]\n"
                           "      command: [/usr/bin/true, prune]\n"
                           "  checks:\n"
                           "    - name: api\n"
                           "      command: [/usr/bin/curl, -sf, http://127.0.0.1:1/]\n"
                           "      interval: 5s\n"
                           "      failures: 2\n"
                           "    - name: web-config\n"
                           "      type: configuration_error\n"
                           "      service: web\n"
                           "      command: [/bin/false]\n"
                           "  network:\n"
                           "    command: [/usr/local/bin/hl-emergency-response, network_isolation]\n"
                           "    timeout: 20s\n"
                           "    recovery:\n"
                           "      max_attempts: 2\n"
                           "  topics:\n"
                           "    threshold: thr.\n",
                           &d);
    CHECK_MSG(c && d.errors == 0, "%s", d.text ? d.text : "");
    if (!c)
        return;
    CHECK(strcmp(c->orchestrator, "orch") == 0 && c->action_timeout_ms == 30000);
    CHECK(strcmp(c->recover_in[1], "failed") == 0 && !c->require_lifecycle);
    CHECK(c->defaults.max_attempts == 4 && c->defaults.backoff_ms == 2000 &&
          c->defaults.flap_max == 3 && c->defaults.flap_window_ms == 600000);
    const fl_service_cfg_t *w = fl_config_service(c, "web");
    CHECK(w && strcmp(w->unit, "hl-service@web.service") == 0 && w->policy.nactions == 2 &&
          w->policy.max_attempts == 2 && w->healthy_on == FL_HEALTHY_UNIT);
    /* per-service values inherit the section's policy */
    CHECK(w && w->policy.backoff_ms == 2000 && w->policy.flap_max == 3);
    CHECK(fl_config_policy_for(c, "quiet") == NULL);
    const fl_service_cfg_t *pl = fl_config_service(c, "plain");
    CHECK(pl && pl->recover && pl->policy.max_attempts == 4);
    CHECK(fl_config_policy_for(c, "other") == &c->defaults); /* recover_unlisted */
    CHECK(c->npatterns == 3 && c->patterns[0].severity == FL_SEV_WARNING &&
          strcmp(c->patterns[0].results[0], "oom-kill") == 0);
    CHECK(c->patterns[1].type == FL_FT_RESOURCE && c->patterns[1].sustain_ms == 5000 &&
          strcmp(c->patterns[1].target, "web") == 0);
    CHECK(c->patterns[2].command && strcmp(c->patterns[2].command[1], "prune") == 0);
    CHECK(c->patterns[2].sustain_ms == 60000); /* threshold default */
    CHECK(c->nchecks == 2 && c->checks[0].type == FL_FT_NETWORK && c->checks[0].failures == 2 &&
          c->checks[0].interval_ms == 5000);
    CHECK(c->checks[1].type == FL_FT_CONFIG && strcmp(c->checks[1].service, "web") == 0);
    CHECK(c->network_command && strcmp(c->network_command[1], "network_isolation") == 0);
    CHECK(c->command_timeout_ms == 20000 && c->network_policy.max_attempts == 2);
    CHECK(strcmp(c->topic_threshold, "thr.") == 0 && strcmp(c->topic_health, "health.") == 0);
    fl_config_destroy(&c);
    hlb_diag_free(&d);
}

/* One bad config each: rejected, with the line and a clear message. */
static void test_errors(void)
{
    static const struct {
        const char *yaml;
        const char *want;
    } cases[] = {
        {"hl-failure:\n  bogus: 1\n", "f.yaml:2: unknown key 'bogus' in 'hl-failure'"},
        {"hl-failure: 3\n", "the hl-failure section must be a map"},
        {"hl-failure:\n  recovery:\n    actions: [restart, explode]\n",
         "f.yaml:3: unknown recovery action 'explode'"},
        {"hl-failure:\n  recovery:\n    max_attempts: 0\n", "f.yaml:3:"},
        {"hl-failure:\n  recovery:\n    backoff: soon\n", "f.yaml:3:"},
        {"hl-failure:\n  recovery:\n    what: 1\n", "f.yaml:3: unknown key 'what' in 'recovery'"},
        {"hl-failure:\n  recovery:\n    actions: []\n", "'actions' needs 1 to 8 entries"},
        {"hl-failure:\n  services: [a]\n", "'services' must be a map"},
        {"hl-failure:\n  services:\n    web: 3\n", "service 'web' must be a map"},
        {"hl-failure:\n  services:\n    web:\n      healthy_on: maybe\n",
         "'healthy_on' must be one of auto, health, unit, not 'maybe'"},
        {"hl-failure:\n  patterns:\n    - name: x\n", "pattern 'x' needs 'on'"},
        {"hl-failure:\n  patterns:\n    - on: uplink\n", "a pattern needs a 'name'"},
        {"hl-failure:\n  patterns:\n    - name: x\n      on: sunspots\n", "'on' must be one of"},
        {"hl-failure:\n  patterns:\n    - name: x\n      on: exit-status\n",
         "pattern 'x' (on: exit-status) needs 'exit_status'"},
        {"hl-failure:\n  patterns:\n    - name: x\n      on: exit-status\n      exit_status: [300]\n",
         "f.yaml:5: an exit status is 0..255"},
        {"hl-failure:\n  patterns:\n    - name: x\n      on: uplink\n      severity: dire\n",
         "'severity' must be one of info, warning, critical"},
        {"hl-failure:\n  patterns:\n    - name: x\n      on: uplink\n    - name: x\n      on: uplink\n",
         "duplicate pattern name 'x'"},
        {"hl-failure:\n  patterns:\n    - name: x\n      on: uplink\n      target: web\n",
         "'target' and 'command' apply to threshold patterns only"},
        {"hl-failure:\n  patterns:\n    - name: x\n      on: threshold\n      command: [rm, -rf]\n",
         "'command' must start with an absolute path"},
        {"hl-failure:\n  patterns:\n    - name: x\n      on: threshold\n      target: nobody\n",
         "pattern 'x' targets 'nobody', which is not a recovered service"},
        {"hl-failure:\n  patterns:\n    - name: x\n      on: threshold\n      target: hl-daemon\n"
         "      command: [/bin/true]\n",
         "exclude each other"},
        {"hl-failure:\n  checks:\n    - name: c\n      command: curl\n", "'command' must be a list"},
        {"hl-failure:\n  checks:\n    - name: c\n      command: [curl]\n",
         "needs a 'command' list starting with an absolute path"},
        {"hl-failure:\n  checks:\n    - name: c\n      command: [/bin/true]\n"
         "      type: configuration_error\n",
         "check 'c' (configuration_error) needs 'service'"},
        {"hl-failure:\n  checks:\n    - name: c\n      command: [/bin/true]\n"
         "      type: service_crash\n",
         "a check's type is network_failure or configuration_error"},
        {"hl-failure:\n  network:\n    command: [sh, -c, x]\n", "must start with an absolute path"},
        {"hl-failure:\n  network:\n    recovery:\n      actions: [restart]\n",
         "'actions' cannot be set here"},
        {"hl-failure:\n  orchestrator: Bad/Name\n", "'Bad/Name' is not a daemon name"},
        {"hl-failure:\n  topics:\n    health: \"a b\"\n", "'a b' is not a valid topic prefix"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hlb_diag_t d = {0};
        fl_config_t *c = parse(cases[i].yaml, &d);
        CHECK_MSG(c == NULL && d.errors > 0, "case %zu accepted", i);
        CHECK_MSG(d.text && strstr(d.text, cases[i].want), "case %zu: want '%s', got '%s'", i,
                  cases[i].want, d.text ? d.text : "(nothing)");
        fl_config_destroy(&c);
        hlb_diag_free(&d);
    }
}

static bool policy_eq(const fl_policy_cfg_t *a, const fl_policy_cfg_t *b)
{
    if (a->nactions != b->nactions)
        return false;
    for (size_t i = 0; i < a->nactions; i++)
        if (strcmp(a->actions[i], b->actions[i]) != 0)
            return false;
    return a->max_attempts == b->max_attempts && a->backoff_ms == b->backoff_ms &&
           a->backoff_max_ms == b->backoff_max_ms && a->verify_ms == b->verify_ms &&
           a->stable_ms == b->stable_ms && a->flap_max == b->flap_max &&
           a->flap_window_ms == b->flap_window_ms && a->credit_systemd == b->credit_systemd;
}

static bool strv_eq(char **a, char **b)
{
    size_t i = 0;
    for (; a && b && a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return (!a || !a[i]) && (!b || !b[i]);
}

/* deploy/config/hl-failure.yaml.example documents the defaults: it must
 * parse, and to exactly what no config gives. */
static void test_example_is_default(void)
{
    hlb_diag_t d = {0};
    hlb_conf_t *conf = hlb_conf_load(FL_EXAMPLE, false, &d);
    CHECK_MSG(conf != NULL, "%s", d.text ? d.text : "");
    fl_config_t *ex = conf ? fl_config_parse(hlb_conf_get(conf, "hl-failure"), &d) : NULL;
    CHECK_MSG(ex != NULL && d.errors == 0, "%s", d.text ? d.text : "");
    fl_config_t *def = fl_config_parse(NULL, &d);
    if (ex && def) {
        CHECK(strcmp(ex->orchestrator, def->orchestrator) == 0);
        CHECK(strcmp(ex->recover_method, def->recover_method) == 0);
        CHECK(strcmp(ex->stop_method, def->stop_method) == 0);
        CHECK(ex->action_timeout_ms == def->action_timeout_ms);
        CHECK(ex->stop_config_loops == def->stop_config_loops);
        CHECK(ex->require_lifecycle == def->require_lifecycle);
        CHECK(ex->restart_settle_ms == def->restart_settle_ms);
        CHECK(ex->recover_unlisted == def->recover_unlisted);
        CHECK(strv_eq(ex->recover_in, def->recover_in));
        CHECK(policy_eq(&ex->defaults, &def->defaults));
        CHECK(policy_eq(&ex->network_policy, &def->network_policy));
        CHECK(strv_eq(ex->network_command, def->network_command));
        CHECK(ex->command_timeout_ms == def->command_timeout_ms);
        CHECK(ex->nservices == def->nservices);
        for (size_t i = 0; i < ex->nservices && i < def->nservices; i++) {
            CHECK(strcmp(ex->services[i].name, def->services[i].name) == 0);
            CHECK(strcmp(ex->services[i].unit, def->services[i].unit) == 0);
            CHECK(ex->services[i].recover == def->services[i].recover);
            CHECK(ex->services[i].healthy_on == def->services[i].healthy_on);
            CHECK(policy_eq(&ex->services[i].policy, &def->services[i].policy));
        }
        CHECK(ex->npatterns == def->npatterns);
        for (size_t i = 0; i < ex->npatterns && i < def->npatterns; i++) {
            const fl_pattern_t *a = &ex->patterns[i], *b = &def->patterns[i];
            CHECK_MSG(strcmp(a->name, b->name) == 0 && a->on == b->on && a->type == b->type &&
                          a->severity == b->severity && a->sustain_ms == b->sustain_ms &&
                          a->recover == b->recover && a->nexit == b->nexit &&
                          strv_eq(a->services, b->services) && strv_eq(a->results, b->results) &&
                          strv_eq(a->metrics, b->metrics) && strv_eq(a->command, b->command) &&
                          !a->target == !b->target,
                      "pattern %zu (%s) differs from the built-in one", i, a->name);
            for (size_t k = 0; k < a->nexit && k < b->nexit; k++)
                CHECK(a->exit_status[k] == b->exit_status[k]);
        }
        CHECK(ex->nchecks == def->nchecks);
        CHECK(strcmp(ex->topic_service, def->topic_service) == 0 &&
              strcmp(ex->topic_health, def->topic_health) == 0 &&
              strcmp(ex->topic_threshold, def->topic_threshold) == 0 &&
              strcmp(ex->topic_uplink, def->topic_uplink) == 0 &&
              strcmp(ex->topic_lifecycle, def->topic_lifecycle) == 0);
        CHECK(ex->max_incidents == def->max_incidents);
    }
    fl_config_destroy(&ex);
    fl_config_destroy(&def);
    hlb_conf_destroy(&conf);
    hlb_diag_free(&d);
}

static void test_globs(void)
{
    char *g[] = {"hl-*", "claude-code", NULL};
    CHECK(fl_globs_match(g, "hl-daemon") && fl_globs_match(g, "claude-code"));
    CHECK(!fl_globs_match(g, "docker") && !fl_globs_match(g, NULL));
    CHECK(fl_globs_match(NULL, "anything"));
    CHECK(strcmp(fl_ftype_name(FL_FT_RESOURCE), "resource_exhaustion") == 0);
    CHECK(strcmp(fl_sev_name(FL_SEV_CRITICAL), "critical") == 0);
    CHECK(strcmp(fl_on_name(FL_ON_UNHEALTHY), "unhealthy") == 0);
}

int main(void)
{
    test_defaults();
    test_full();
    test_errors();
    test_globs();
    test_example_is_default();
    return check_done();
}
