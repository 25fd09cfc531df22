/* hl-orchestrator's config: the spec's defaults, a full config, and every
 * error reported with file and line. */
#include <string.h>
#include "check.h"
#include "config.h"

static orch_cfg_t *parse(const char *yaml, hlb_diag_t *d)
{
    hlb_conf_t *c = hlb_conf_parse("t.yaml", yaml, d);
    if (!c)
        return NULL;
    orch_cfg_t *cfg = orch_cfg_parse(hlb_conf_get(c, "hl-orchestrator"), d);
    hlb_conf_destroy(&c);
    return cfg;
}

static void test_defaults(void)
{
    hlb_diag_t d = {0};
    orch_cfg_t *c = orch_cfg_parse(NULL, &d);
    CHECK(c != NULL && d.errors == 0);
    if (!c)
        return;
    CHECK(c->n_phases == 4);
    CHECK(!strcmp(c->phases[0].name, "infrastructure") && !strcmp(c->phases[1].name, "core") &&
          !strcmp(c->phases[2].name, "application") && !strcmp(c->phases[3].name, "health"));
    int64_t total = 0;
    for (size_t i = 0; i < c->n_phases; i++)
        total += c->phases[i].timeout_ms;
    CHECK_MSG(total == 300000, "the spec's 300 s in total, not %lld ms", (long long) total);
    CHECK(c->startup_timeout_ms == 300000);
    /* No member is compiled in: every default phase reads its target. */
    for (size_t i = 0; i < c->n_phases; i++) {
        CHECK(c->phases[i].from_target && c->phases[i].n_units == 0);
        CHECK_MSG(!strncmp(c->phases[i].target, "hl-phase-", 9), "%s", c->phases[i].target);
    }
    CHECK(!strcmp(c->phases[1].target, "hl-phase-core.target") && !c->members_read);
    CHECK(orch_cfg_phase_of(c, "hl-daemon.service") == -1);
    CHECK(hlb_strv_len(c->health_gates) == 3 && !strcmp(c->health_gates[0], "hl-daemon"));
    CHECK(!strcmp(c->bus, "system") && c->health_gate && !strcmp(c->health_unit, "hl-health.service"));
    CHECK(!strcmp(c->archive_dir, "/var/backups/hl") && c->archive_keep == 7);
    CHECK(c->archive_max_age_ms == 7LL * 24 * 3600 * 1000);
    CHECK(hlb_strv_len(c->archive_paths) == 3 && !strcmp(c->archive_paths[2], "/etc/hl"));
    CHECK(!strcmp(c->temp_pattern, "hl-*") && !strcmp(c->temp_dirs[0], "/tmp"));
    CHECK(c->rebuild.argv == NULL);
    CHECK(!orch_cfg_manages(c, "dbus.service"));
    orch_cfg_destroy(&c);
    CHECK(c == NULL);
    hlb_diag_free(&d);
}

static void test_full(void)
{
    hlb_diag_t d = {0};
    orch_cfg_t *c = parse("hl-orchestrator:\n"
                          "  bus: user\n"
                          "  startup: {timeout: 120s}\n"
                          "  phases:\n"
                          "    - name: one\n"
                          "      units: [a.service, {unit: b.socket, optional: true}]\n"
                          "    - name: two\n"
                          "      timeout: 10s\n"
                          "      units: [{unit: c.service, health: true}, {unit: d.service, health: dee}]\n"
                          "      checks: [[/bin/true], [/usr/bin/curl, -sf, 'http://x y']]\n"
                          "  manage: [e.service]\n"
                          "  recovery:\n"
                          "    rebuild_command: [/usr/local/bin/rebuild, '%n', '%u']\n"
                          "  shutdown:\n"
                          "    expect_ack: [hl-git-sync]\n"
                          "    archive: {keep: 3, max_age: 48h}\n",
                          &d);
    CHECK_MSG(c != NULL, "%s", d.text ? d.text : "");
    if (!c)
        return;
    CHECK(!strcmp(c->bus, "user") && c->n_phases == 2);
    CHECK(c->phases[0].timeout_ms == 60000); /* the total shared out */
    CHECK(c->phases[1].timeout_ms == 10000);
    CHECK(c->phases[0].units[1].optional && !c->phases[0].units[0].optional);
    CHECK(!strcmp(c->phases[1].units[0].health, "c") && !strcmp(c->phases[1].units[1].health, "dee"));
    CHECK(c->phases[0].units[0].health == NULL);
    CHECK(c->phases[1].n_checks == 2 && !strcmp(c->phases[1].checks[1].text, "/usr/bin/curl -sf 'http://x y'"));
    CHECK(orch_cfg_manages(c, "e.service") && orch_cfg_phase_of(c, "e.service") == -1);
    CHECK(c->rebuild.argv && !strcmp(c->rebuild.argv[1], "%n"));
    CHECK(c->archive_keep == 3 && c->archive_max_age_ms == 48LL * 3600 * 1000);
    CHECK(hlb_strv_len(c->expect_ack) == 1);
    orch_cfg_destroy(&c);
    hlb_diag_free(&d);
}

static void test_errors(void)
{
    static const struct {
        const char *yaml;
        const char *expect;
    } bad[] = {
        {"hl-orchestrator:\n  phases:\n    - {name: a, units: [bad/unit.service]}\n", "t.yaml:3"},
        {"hl-orchestrator:\n  phases:\n    - {name: a, units: [x.service]}\n    - {name: b, units: [x.service]}\n",
         "in phases a and b"},
        {"hl-orchestrator:\n  phases:\n    - {name: a, checks: [[curl, x]]}\n", "absolute path"},
        {"hl-orchestrator:\n  phases: []\n", "non-empty list"},
        {"hl-orchestrator:\n  phasez: []\n", "phasez"},
        {"hl-orchestrator:\n  shutdown:\n    temp_pattern: '*'\n", "fixed part"},
        {"hl-orchestrator:\n  shutdown:\n    archive:\n      paths: [/]\n", "below /"},
        {"hl-orchestrator:\n  recovery:\n    rebuild_command: /bin/rebuild\n", "as a list"},
        {"hl-orchestrator:\n  health: {gate: maybe}\n", "'gate' must be one of off, auto, not 'maybe'"},
        {"hl-orchestrator:\n  phases:\n    - {name: A!, units: []}\n", "[a-z0-9-]"},
        {"hl-orchestrator:\n  phases:\n    - {name: a, units: [{unit: x.service, health: 'No Such'}]}\n",
         "not a service name"},
        {"hl-orchestrator:\n  state_root: relative\n", "absolute"},
        {"hl-orchestrator:\n  recovery:\n    stale_files: [rel.pid]\n", "absolute"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hlb_diag_t d = {0};
        orch_cfg_t *c = parse(bad[i].yaml, &d);
        CHECK_MSG(c == NULL, "accepted: %s", bad[i].yaml);
        CHECK_MSG(d.text && strstr(d.text, bad[i].expect), "for %s: expected '%s' in: %s", bad[i].yaml,
                  bad[i].expect, d.text ? d.text : "(nothing)");
        CHECK_MSG(d.text && strstr(d.text, "t.yaml:"), "no file:line in: %s", d.text ? d.text : "");
        orch_cfg_destroy(&c);
        hlb_diag_free(&d);
    }
}

static void test_config_dir(void)
{
    hlb_diag_t d = {0};
    orch_cfg_t *c = orch_cfg_parse(NULL, &d);
    orch_cfg_archive_config_dir(c, "/usr/local/etc/hl/hl.yaml");
    orch_cfg_archive_config_dir(c, "/etc/hl/hl.yaml"); /* already there */
    orch_cfg_archive_config_dir(c, "relative.yaml");
    CHECK(hlb_strv_len(c->archive_paths) == 4 && !strcmp(c->archive_paths[3], "/usr/local/etc/hl"));
    orch_cfg_destroy(&c);
    /* Explicit paths are kept as they are. */
    c = parse("hl-orchestrator:\n  shutdown:\n    archive:\n      paths: [/srv]\n", &d);
    orch_cfg_archive_config_dir(c, "/usr/local/etc/hl/hl.yaml");
    CHECK(c && hlb_strv_len(c->archive_paths) == 1);
    orch_cfg_destroy(&c);
    hlb_diag_free(&d);
}

static void test_expand(void)
{
    char *s = orch_expand("%S/%n.pid", "hl-daemon.service", "/var/lib/hl");
    CHECK(s && !strcmp(s, "/var/lib/hl/hl-daemon.pid"));
    free(s);
    s = orch_expand("%u %n %% %x", "docker.socket", "/x");
    CHECK(s && !strcmp(s, "docker.socket docker.socket % %x"));
    free(s);
}

/* The documented example says what the built-in defaults are: keep it true. */
static void test_example(void)
{
    hlb_diag_t d = {0};
    hlb_conf_t *c = hlb_conf_load(ORCH_EXAMPLE, false, &d);
    CHECK_MSG(c != NULL, "%s", d.text ? d.text : "");
    orch_cfg_t *ex = c ? orch_cfg_parse(hlb_conf_get(c, "hl-orchestrator"), &d) : NULL;
    CHECK_MSG(ex != NULL, "%s", d.text ? d.text : "");
    orch_cfg_t *def = orch_cfg_parse(NULL, &d);
    if (ex && def) {
        CHECK(ex->n_phases == def->n_phases);
        for (size_t i = 0; i < ex->n_phases && i < def->n_phases; i++) {
            CHECK(!strcmp(ex->phases[i].name, def->phases[i].name));
            CHECK(ex->phases[i].timeout_ms == def->phases[i].timeout_ms);
            CHECK(ex->phases[i].n_units == def->phases[i].n_units);
            CHECK(ex->phases[i].from_target == def->phases[i].from_target);
            for (size_t k = 0; k < ex->phases[i].n_units && k < def->phases[i].n_units; k++) {
                const orch_unit_cfg_t *a = &ex->phases[i].units[k], *b = &def->phases[i].units[k];
                CHECK_MSG(!strcmp(a->unit, b->unit) && a->optional == b->optional &&
                              !a->health == !b->health && (!a->health || !strcmp(a->health, b->health)),
                          "phase %zu unit %zu: %s", i, k, a->unit);
            }
        }
        CHECK(ex->archive_keep == def->archive_keep && ex->archive_max_age_ms == def->archive_max_age_ms);
        CHECK(ex->ack_timeout_ms == def->ack_timeout_ms && ex->stop_timeout_ms == def->stop_timeout_ms);
        CHECK(hlb_strv_len(ex->stale_files) == hlb_strv_len(def->stale_files));
        CHECK(hlb_strv_len(ex->archive_exclude) == hlb_strv_len(def->archive_exclude));
        CHECK(ex->recovery_timeout_ms == def->recovery_timeout_ms);
    }
    orch_cfg_destroy(&ex);
    orch_cfg_destroy(&def);
    hlb_conf_destroy(&c);
    hlb_diag_free(&d);
}

/* A reload names what it cannot apply: the bus connection is made once. */
static void test_restart_keys(void)
{
    hlb_diag_t d = {0};
    orch_cfg_t *a = parse("hl-orchestrator:\n  bus: system\n  journal_lines: 5\n", &d);
    orch_cfg_t *b = parse("hl-orchestrator:\n  bus: system\n  journal_lines: 9\n", &d);
    orch_cfg_t *u = parse("hl-orchestrator:\n  bus: user\n", &d);
    CHECK(a && b && u);
    char **keys = NULL;
    CHECK(a && b && orch_cfg_restart_keys(a, b, &keys) == 0 && keys == NULL);
    CHECK(a && u && orch_cfg_restart_keys(a, u, &keys) == 2);
    CHECK(keys && !strcmp(keys[0], "hl-orchestrator.bus") &&
          !strcmp(keys[1], "hl-orchestrator.manager"));
    for (size_t i = 0; keys && keys[i]; i++)
        free(keys[i]);
    free(keys);
    orch_cfg_destroy(&a);
    orch_cfg_destroy(&b);
    orch_cfg_destroy(&u);
    hlb_diag_free(&d);
}

int main(void)
{
    test_restart_keys();
    test_example();
    test_defaults();
    test_full();
    test_errors();
    test_expand();
    test_config_dir();
    return check_done();
}
