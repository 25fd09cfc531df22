/* Typed bus messages to detection inputs (see fl_decode.h). */
#include "fl_decode.h"

#include <errno.h>
#include <string.h>
#include <hlbus/topics.h>

#include "health.pb-c.h"
#include "metrics.pb-c.h"
#include "orchestrator.pb-c.h"
#include "uplink.pb-c.h"

/* The envelope's publish time: what the detection latency is measured from
 * (a ts_us inside the body may be systemd's or a sample's). */
static uint64_t ts_of(const hlb_event_t *ev, uint64_t body_ts)
{
    return ev->env && ev->env->ts_us ? ev->env->ts_us : body_ts;
}

static const char *name_or_suffix(const char *name, const hlb_event_t *ev, const char *prefix)
{
    return name && *name ? name : hlb_topic_suffix(ev->topic, prefix);
}

/* ---- service.<name>: hl.ServiceState ---- */

int fl_decode_unit(const hlb_event_t *ev, const char *prefix, fl_unit_obs_t *u)
{
    memset(u, 0, sizeof *u);
    const Hl__ServiceState *s = hlb_event_as(ev, &hl__service_state__descriptor);
    if (!s)
        return -EINVAL;
    u->service = name_or_suffix(s->service, ev, prefix);
    if (!u->service || !*s->active_state)
        return -EINVAL;
    u->unit = s->unit;
    u->active_state = s->active_state;
    u->sub_state = s->sub_state;
    u->result = s->result;
    u->load_state = s->load_state;
    u->n_restarts = s->n_restarts;
    u->exit_code = s->exit_code;
    u->exit_status = s->exit_status;
    u->ts_us = ts_of(ev, s->ts_us);
    return 0;
}

/* ---- health.<service>: hl.ServiceHealth ---- */

int fl_decode_health(const hlb_event_t *ev, const char *prefix, fl_health_obs_t *h)
{
    memset(h, 0, sizeof *h);
    const Hl__ServiceHealth *m = hlb_event_as(ev, &hl__service_health__descriptor);
    if (!m)
        return -EINVAL;
    h->service = name_or_suffix(m->service, ev, prefix);
    if (!h->service)
        return -EINVAL;
    h->state = m->state;
    h->reason = m->reason;
    h->ts_us = ts_of(ev, m->ts_us);
    return 0;
}

/* ---- metrics.threshold.<name>: hl.Threshold ---- */

int fl_decode_threshold(const hlb_event_t *ev, const char *prefix, fl_threshold_obs_t *t)
{
    memset(t, 0, sizeof *t);
    const Hl__Threshold *m = hlb_event_as(ev, &hl__threshold__descriptor);
    if (!m || m->state == HL__THRESHOLD_STATE__THRESHOLD_UNSPECIFIED)
        return -EINVAL;
    t->name = name_or_suffix(m->name, ev, prefix);
    if (!t->name)
        return -EINVAL;
    t->firing = m->state == HL__THRESHOLD_STATE__THRESHOLD_FIRING;
    t->resource = m->resource;
    t->unit = m->unit;
    t->value = m->value;
    t->limit = m->limit;
    t->ts_us = ts_of(ev, m->ts_us);
    return 0;
}

/* ---- uplink.<link>: hl.UplinkStatus ---- */

int fl_decode_uplink(const hlb_event_t *ev, fl_uplink_obs_t *u)
{
    memset(u, 0, sizeof *u);
    const Hl__UplinkStatus *m = hlb_event_as(ev, &hl__uplink_status__descriptor);
    if (!m || m->state == HL__UPLINK_STATE__UPLINK_UNKNOWN)
        return -EINVAL;
    u->topic = ev->topic;
    u->up = m->state == HL__UPLINK_STATE__UPLINK_ONLINE;
    u->detail = m->last_error;
    u->ts_us = ts_of(ev, m->ts_us);
    return 0;
}

/* ---- lifecycle.state: hl.LifecycleState ---- */

int fl_decode_lifecycle(const hlb_event_t *ev, const char **state)
{
    const Hl__LifecycleState *m = hlb_event_as(ev, &hl__lifecycle_state__descriptor);
    if (!m || m->state == HL__LIFECYCLE__LIFECYCLE_UNSPECIFIED)
        return -EINVAL;
    *state = hlb_pb_enum_word(&hl__lifecycle__descriptor, m->state);
    return 0;
}
