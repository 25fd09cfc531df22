/* health.<service> from hl-health: only the state is needed here, so it is
 * read by field name ("state", else "status" or "health"; a string or an
 * enum) from whatever registered message hl-health publishes, or from a
 * msgpack map. That keeps the orchestrator independent of hl-health's
 * schema beyond one field. */
#include "orch.h"
#include <ctype.h>
#include <string.h>

static const char *const known[] = {"healthy", "degraded", "unhealthy", "unknown", NULL};

/* "HEALTH_STATE_UNHEALTHY", "Healthy", "unhealthy" → the known word. */
const char *health_normalize(const char *s)
{
    if (!s)
        return NULL;
    char low[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof low)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char) tolower((unsigned char) s[i]);
    for (const char *const *k = known; *k; k++) {
        size_t kl = strlen(*k);
        /* the whole word, or a suffix after '_' (enum value names) */
        if (!strcmp(low, *k) || (n > kl && low[n - kl - 1] == '_' && !strcmp(low + n - kl, *k)))
            return *k;
    }
    return NULL;
}

const char *health_state_of(const hlb_event_t *ev)
{
    static const char *const fields[] = {"state", "status", "health", NULL};
    if (ev->msg) {
        const ProtobufCMessageDescriptor *d = ev->msg->descriptor;
        for (const char *const *f = fields; *f; f++) {
            const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(d, *f);
            if (!fd || fd->label == PROTOBUF_C_LABEL_REPEATED)
                continue;
            const char *base = (const char *) ev->msg + fd->offset;
            if (fd->type == PROTOBUF_C_TYPE_STRING)
                return health_normalize(*(char *const *) base);
            if (fd->type == PROTOBUF_C_TYPE_ENUM) {
                const ProtobufCEnumValue *v =
                    protobuf_c_enum_descriptor_get_value(fd->descriptor, *(const int *) base);
                return v ? health_normalize(v->name) : NULL;
            }
        }
        return NULL;
    }
    if (ev->env && ev->env->type && !strcmp(ev->env->type, HLB_TYPE_MSGPACK)) {
        hlb_mpview_t *v = hlb_mpview_new(ev->env->body.data, ev->env->body.len);
        const char *out = NULL;
        for (const char *const *f = fields; v && *f && !out; f++) {
            char *s = hlb_mpview_str(v, *f);
            out = health_normalize(s);
            free(s);
        }
        hlb_mpview_destroy(&v);
        return out;
    }
    return NULL;
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
