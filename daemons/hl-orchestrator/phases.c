/* Phase membership from the hl-phase-<name>.target units (see phases.h). */
#include "phases.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/buf.h>
#include <hlbus/log.h>

static bool is_phase_target(const char *unit)
{
    size_t n = strlen(unit);
    return !strncmp(unit, "hl-phase-", 9) && n > 16 && !strcmp(unit + n - 7, ".target");
}

static bool in_phase(const orch_phase_cfg_t *p, const char *unit)
{
    for (size_t k = 0; k < p->n_units; k++)
        if (!strcmp(p->units[k].unit, unit))
            return true;
    return false;
}

/* Whether UNIT already belongs elsewhere: to an earlier phase, or to a later
 * one whose units the config lists. */
static bool taken(const orch_cfg_t *c, size_t index, const char *unit)
{
    for (size_t i = 0; i < c->n_phases; i++)
        if (i != index && (i < index || !c->phases[i].from_target) && in_phase(&c->phases[i], unit))
            return true;
    return false;
}

static bool gated(const orch_cfg_t *c, const char *service)
{
    for (char **v = c->health_gates; v && *v; v++)
        if (!strcmp(*v, service))
            return true;
    return false;
}

static int add_member(const orch_cfg_t *c, size_t index, const char *unit, bool optional,
                      orch_unit_cfg_t *out, size_t *n)
{
    if (!sdm_unit_name_valid(unit) || is_phase_target(unit) || taken(c, index, unit)) {
        hlb_debug("phase %s: %s skipped (not a unit, a phase, or in another phase)",
                  c->phases[index].name, unit);
        return 0;
    }
    for (size_t k = 0; k < *n; k++)
        if (!strcmp(out[k].unit, unit))
            return 0; /* both Requires and Wants: required, as listed first */
    orch_unit_cfg_t *u = &out[*n];
    u->unit = strdup(unit);
    u->optional = optional;
    char *service = u->unit ? sdm_unit_short(unit) : NULL;
    if (!service) {
        free(u->unit);
        return -ENOMEM;
    }
    if (gated(c, service))
        u->health = service;
    else
        free(service);
    (*n)++;
    return 0;
}

int phases_members(const orch_cfg_t *c, size_t index, char *const *requires, char *const *wants,
                   orch_unit_cfg_t **out, size_t *n_out)
{
    size_t cap = 1;
    for (char *const *v = requires; v && *v; v++)
        cap++;
    for (char *const *v = wants; v && *v; v++)
        cap++;
    orch_unit_cfg_t *units = calloc(cap, sizeof *units);
    if (!units)
        return -ENOMEM;
    size_t n = 0;
    int r = 0;
    for (char *const *v = requires; v && *v && r == 0; v++)
        r = add_member(c, index, *v, false, units, &n);
    for (char *const *v = wants; v && *v && r == 0; v++)
        r = add_member(c, index, *v, true, units, &n);
    if (r < 0) {
        for (size_t k = 0; k < n; k++) {
            free(units[k].unit);
            free(units[k].health);
        }
        free(units);
        return r;
    }
    *out = units;
    *n_out = n;
    return 0;
}

void phases_watch_targets(const orch_cfg_t *c, sdm_t *m)
{
    for (size_t i = 0; i < c->n_phases; i++)
        if (c->phases[i].from_target && c->phases[i].target)
            sdm_watch(m, c->phases[i].target);
}

int phases_read(orch_cfg_t *c, sdm_t *m, char **why)
{
    *why = NULL;
    if (c->members_read)
        return 0;
    /* Check every target first: a configuration is read whole or not at all. */
    for (size_t i = 0; i < c->n_phases; i++) {
        const orch_phase_cfg_t *p = &c->phases[i];
        if (!p->from_target)
            continue;
        sdm_unit_t *t = sdm_unit(m, p->target);
        if (!t || !t->known) {
            if (asprintf(why, "phase %s: systemd has not reported %s", p->name, p->target) < 0)
                *why = NULL;
            return -ENOENT;
        }
        if (strcmp(t->load_state, "loaded") != 0) {
            if (asprintf(why,
                         "phase %s: %s is %s: install it (deploy/systemd), or list the "
                         "phase's units in the config",
                         p->name, p->target,
                         !strcmp(t->load_state, "not-found") ? "not installed" : t->load_state) < 0)
                *why = NULL;
            return -ENOENT;
        }
    }
    for (size_t i = 0; i < c->n_phases; i++) {
        orch_phase_cfg_t *p = &c->phases[i];
        if (!p->from_target)
            continue;
        sdm_unit_t *t = sdm_unit(m, p->target);
        orch_unit_cfg_t *units = NULL;
        size_t n = 0;
        if (phases_members(c, i, t->requires, t->wants, &units, &n) < 0)
            return -ENOMEM;
        for (size_t k = 0; k < p->n_units; k++) {
            free(p->units[k].unit);
            free(p->units[k].health);
        }
        free(p->units);
        p->units = units;
        p->n_units = n;
        hlb_buf_t b = {0};
        for (size_t k = 0; k < n; k++)
            hlb_buf_printf(&b, "%s%s%s", k ? ", " : "", units[k].unit,
                           units[k].optional ? " (optional)" : "");
        hlb_info("phase %s: %s", p->name, b.data ? b.data : "no units");
        hlb_buf_free(&b);
    }
    c->members_read = true;
    return 0;
}

bool phases_members_known(const orch_cfg_t *c, sdm_t *m)
{
    for (size_t i = 0; i < c->n_phases; i++)
        for (size_t k = 0; k < c->phases[i].n_units; k++) {
            sdm_unit_t *u = sdm_unit(m, c->phases[i].units[k].unit);
            if (!u || !u->known)
                return false;
        }
    return true;
}
