/* health.<service> from hl-health: its hl.ServiceHealth, typed (libhlbus
 * topics.h). Only the state is kept, as its word. */
#include "orch.h"
#include <string.h>

const char *health_state_of(const hlb_event_t *ev)
{
    const Hl__ServiceHealth *h = hlb_event_as(ev, &hl__service_health__descriptor);
    return h ? hlb_pb_enum_word(&hl__health_state__descriptor, h->state) : NULL;
}

static void health_free(void **item)
{
    health_t *h = *item;
    if (h) {
        free(h->state);
        free(h);
    }
    *item = NULL;
}

void health_event(orch_t *o, const hlb_event_t *ev)
{
    const char *service = ev->topic + strlen("health.");
    if (!*service || !hlb_name_valid(service))
        return;
    const char *state = health_state_of(ev);
    if (!state) {
        hlb_debug("%s: no health state in the event, ignored", ev->topic);
        return;
    }
    if (!o->health) {
        o->health = zhashx_new();
        if (!o->health)
            return;
        zhashx_set_destructor(o->health, health_free);
    }
    health_t *h = zhashx_lookup(o->health, service);
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h)
            return;
        zhashx_insert(o->health, service, h);
    }
    /* A replay older than what we hold changes nothing. */
    uint64_t ts = ev->env ? ev->env->ts_us : hlb_now_us();
    if (h->state && ts < h->ts_us)
        return;
    bool changed = !h->state || strcmp(h->state, state) != 0;
    free(h->state);
    h->state = strdup(state);
    h->ts_us = ts;
    if (changed)
        hlb_debug("health.%s: %s", service, state);
    if (o->startup)
        startup_poke(o->startup);
}

const health_t *health_get(orch_t *o, const char *service)
{
    return o->health ? zhashx_lookup(o->health, service) : NULL;
}

bool health_gating(orch_t *o)
{
    if (!o->cfg->health_gate)
        return false;
    sdm_unit_t *u = o->sdm ? sdm_unit(o->sdm, o->cfg->health_unit) : NULL;
    return u && u->known && units_is_active(u);
}

bool health_ok(orch_t *o, const char *service, uint64_t since_us)
{
    const health_t *h = health_get(o, service);
    if (!h || !h->state || h->ts_us < since_us)
        return false;
    return !strcmp(h->state, "healthy") ||
           (o->cfg->accept_degraded && !strcmp(h->state, "degraded"));
}
