/* Phase membership from the phase targets' dependency lists: Requires= is
 * required, Wants= optional, health gates by service name, and a unit that
 * two targets name belongs to the first phase. */
#include <string.h>
#include "check.h"
#include "phases.h"

static orch_cfg_t *parse(const char *yaml)
{
    hlb_diag_t d = {0};
    hlb_conf_t *c = hlb_conf_parse("t.yaml", yaml, &d);
    orch_cfg_t *cfg = c ? orch_cfg_parse(hlb_conf_get(c, "hl-orchestrator"), &d) : NULL;
    CHECK_MSG(cfg != NULL, "%s", d.text ? d.text : "");
    hlb_conf_destroy(&c);
    hlb_diag_free(&d);
    return cfg;
}

static void members_free(orch_unit_cfg_t *u, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(u[k].unit);
        free(u[k].health);
    }
    free(u);
}

static const orch_unit_cfg_t *find(const orch_unit_cfg_t *u, size_t n, const char *unit)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(u[k].unit, unit))
            return &u[k];
    return NULL;
}

static void test_required_optional(void)
{
    orch_cfg_t *c = orch_cfg_parse(NULL, &(hlb_diag_t) {0});
    char *req[] = {"network-online.target", "hl-daemon.service", NULL};
    char *wants[] = {"docker.service", "hl-metrics.service", "hl-daemon.service", NULL};
    orch_unit_cfg_t *u = NULL;
    size_t n = 0;
    CHECK(phases_members(c, 0, req, wants, &u, &n) == 0);
    CHECK_MSG(n == 4, "%zu members", n);
    const orch_unit_cfg_t *net = find(u, n, "network-online.target");
    const orch_unit_cfg_t *hd = find(u, n, "hl-daemon.service");
    const orch_unit_cfg_t *dk = find(u, n, "docker.service");
    const orch_unit_cfg_t *hm = find(u, n, "hl-metrics.service");
    CHECK(net && !net->optional && !net->health);
    /* In both lists: required (Requires= wins), listed once. */
    CHECK(hd && !hd->optional && hd->health && !strcmp(hd->health, "hl-daemon"));
    CHECK(dk && dk->optional && dk->health && !strcmp(dk->health, "docker"));
    CHECK(hm && hm->optional && !hm->health);
    /* Required members first, in systemd's order. */
    CHECK(n >= 2 && !strcmp(u[0].unit, "network-online.target") && !strcmp(u[1].unit, "hl-daemon.service"));
    members_free(u, n);
    orch_cfg_destroy(&c);
}

static void test_skipped(void)
{
    orch_cfg_t *c = orch_cfg_parse(NULL, &(hlb_diag_t) {0});
    /* Other phase targets, bad names and nothing at all. */
    char *req[] = {"hl-phase-infrastructure.target", "bad/unit.service", "", "ok.service", NULL};
    orch_unit_cfg_t *u = NULL;
    size_t n = 9;
    CHECK(phases_members(c, 1, req, NULL, &u, &n) == 0);
    CHECK_MSG(n == 1 && !strcmp(u[0].unit, "ok.service"), "%zu members", n);
    members_free(u, n);
    CHECK(phases_members(c, 3, NULL, NULL, &u, &n) == 0);
    CHECK(n == 0 && u != NULL);
    members_free(u, n);
    orch_cfg_destroy(&c);
}

/* A unit two targets name belongs to the first phase; one the config lists
 * in a later phase stays there. */
static void test_first_phase_wins(void)
{
    orch_cfg_t *c = parse("hl-orchestrator:\n"
                          "  health: {gates: [x]}\n"
                          "  phases:\n"
                          "    - {name: one}\n"
                          "    - {name: two}\n"
                          "    - {name: three, units: [pinned.service]}\n");
    if (!c)
        return;
    CHECK(c->phases[0].from_target && c->phases[1].from_target && !c->phases[2].from_target);
    CHECK(!strcmp(c->phases[2].target, "hl-phase-three.target"));
    char *one[] = {"a.service", "x.service", NULL};
    orch_unit_cfg_t *u = NULL;
    size_t n = 0;
    CHECK(phases_members(c, 0, one, NULL, &u, &n) == 0 && n == 2);
    CHECK(n == 2 && u[1].health && !strcmp(u[1].health, "x"));
    /* As phases_read does: phase one's members are in place before two's. */
    free(c->phases[0].units);
    c->phases[0].units = u;
    c->phases[0].n_units = n;
    char *two[] = {"a.service", "b.service", "pinned.service", NULL};
    CHECK(phases_members(c, 1, NULL, two, &u, &n) == 0);
    CHECK_MSG(n == 1 && !strcmp(u[0].unit, "b.service") && u[0].optional, "%zu members", n);
    members_free(u, n);
    CHECK(orch_cfg_phase_of(c, "a.service") == 0 && orch_cfg_phase_of(c, "pinned.service") == 2);
    CHECK(orch_cfg_manages(c, "x.service"));
    orch_cfg_destroy(&c);
}

static void test_bad_gates(void)
{
    hlb_diag_t d = {0};
    hlb_conf_t *c = hlb_conf_parse("t.yaml", "hl-orchestrator:\n  health: {gates: [Bad Name]}\n", &d);
    orch_cfg_t *cfg = c ? orch_cfg_parse(hlb_conf_get(c, "hl-orchestrator"), &d) : NULL;
    CHECK(cfg == NULL);
    CHECK_MSG(d.text && strstr(d.text, "t.yaml:2") && strstr(d.text, "health.gates"), "%s",
              d.text ? d.text : "(no message)");
    orch_cfg_destroy(&cfg);
    hlb_conf_destroy(&c);
    hlb_diag_free(&d);
}

int main(void)
{
    test_required_optional();
    test_skipped();
    test_first_phase_wins();
    test_bad_gates();
    return check_done();
}
