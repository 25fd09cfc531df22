/* service.<name>: the units' state as systemd reports it, republished on
 * the bus whenever a field a subscriber cares about changes. */
#include "orch.h"
#include <errno.h>
#include <string.h>
#include "journal.h"
#include <hlbus/pbfield.h>

/* What was last published for a unit (sdm_unit_t.user). */
typedef struct unit_pub {
    bool published;
    char active_state[32];
    char sub_state[32];
    char result[32];
    char load_state[32];
    uint32_t n_restarts;
    uint32_t main_pid;
    int32_t exec_code;
    int32_t exec_status;
    char invocation_id[33];
} unit_pub_t;

const char *units_exit_kind(int32_t code)
{
    switch (code) {
    case 1: return "exited";
    case 2: return "killed";
    case 3: return "dumped";
    default: return "";
    }
}

bool units_is_active(const sdm_unit_t *u)
{
    return !strcmp(u->active_state, "active") || !strcmp(u->active_state, "reloading");
}

ProtobufCMessage *orch_proto_copy(const ProtobufCMessage *m)
{
    size_t len = 0;
    uint8_t *buf = hlb_body_encode(m, &len);
    if (!buf)
        return NULL;
    ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
    free(buf);
    return c;
}

void units_fill(orch_t *o, const sdm_unit_t *u, Hl__ServiceState *m)
{
    hl__service_state__init(m);
    m->unit = u->name;
    m->active_state = u->active_state;
    m->sub_state = u->sub_state;
    m->result = u->result;
    m->n_restarts = u->n_restarts;
    m->main_pid = u->main_pid;
    m->exit_code = u->exec_code;
    m->exit_status = u->exec_status;
    m->exit_kind = (char *) units_exit_kind(u->exec_code);
    m->ts_us = hlb_now_us();
    m->load_state = u->load_state;
    m->state_change_us = u->state_change_us;
    m->active_enter_us = u->active_enter_us;
    m->inactive_enter_us = u->inactive_enter_us;
    m->invocation_id = (char *) u->invocation_id;
    m->service = hlb_pb_str(""); /* set by the caller that owns a buffer for it */
    int ph = o && o->cfg ? orch_cfg_phase_of(o->cfg, u->name) : -1;
    m->phase = hlb_pb_str(ph >= 0 ? o->cfg->phases[ph].name : "");
}

char *units_describe(const sdm_unit_t *u)
{
    hlb_buf_t b = {0};
    if (!u->known) {
        hlb_buf_puts(&b, "state unknown (systemd has not answered)");
        return hlb_buf_steal(&b);
    }
    if (strcmp(u->load_state, "loaded") != 0) {
        hlb_buf_printf(&b, "LoadState=%s", u->load_state);
        if (!strcmp(u->load_state, "not-found"))
            hlb_buf_puts(&b, " (no such unit installed)");
        return hlb_buf_steal(&b);
    }
    hlb_buf_printf(&b, "%s (%s)", u->active_state, u->sub_state);
    if (u->is_service && *u->result)
        hlb_buf_printf(&b, ", Result=%s", u->result);
    if (u->exec_code == 1) {
        hlb_buf_printf(&b, ", exited with status %d", u->exec_status);
        if (u->exec_status == 78)
            hlb_buf_puts(&b, " (EX_CONFIG: a configuration error)");
    } else if (u->exec_code == 2 || u->exec_code == 3) {
        const char *sig = sigabbrev_np(u->exec_status);
        hlb_buf_printf(&b, ", killed by SIG%s%s", sig ? sig : "?",
                       u->exec_code == 3 ? " (core dumped)" : "");
    }
    if (u->n_restarts)
        hlb_buf_printf(&b, ", %u automatic restart%s", u->n_restarts,
                       u->n_restarts == 1 ? "" : "s");
    return hlb_buf_steal(&b);
}

/* No journal lines: the report goes on the bus (see UnitFailure). */
static Hl__UnitFailure *failure_build(orch_t *o, const char *unit, const char *reason,
                                      const char *summary, const char *job_result,
                                      const char *phase)
{
    Hl__UnitFailure f = HL__UNIT_FAILURE__INIT;
    Hl__ServiceState st;
    sdm_unit_t *u = o->sdm ? sdm_unit(o->sdm, unit) : NULL;
    char *service = sdm_unit_short(unit);
    f.unit = (char *) unit;
    f.reason = (char *) reason;
    f.summary = (char *) (summary ? summary : "");
    f.phase = (char *) (phase ? phase : "");
    f.job_result = (char *) (job_result ? job_result : "");
    if (u) {
        units_fill(o, u, &st);
        st.service = hlb_pb_str(service);
        f.state = &st;
    }
    const health_t *h = service ? health_get(o, service) : NULL;
    f.health = hlb_pb_str(h ? h->state : "");
    Hl__UnitFailure *copy = (Hl__UnitFailure *) orch_proto_copy(&f.base);
    free(service);
    return copy;
}

Hl__UnitFailure *units_failure(orch_t *o, const char *unit, const char *reason,
                               const char *summary, const char *job_result, const char *phase)
{
    return failure_build(o, unit, reason, summary, job_result, phase);
}

struct failure_wait {
    failure_wait_t *next;
    orch_t *o;
    int timer;
    Hl__UnitFailure *f;
    units_failure_fn *fn;
    void *arg;
};

/* From the loop, never inside the caller: as when the report waited for
 * the journal, which it no longer quotes. */
static int on_report_due(zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    failure_wait_t *w = arg;
    orch_t *o = w->o;
    for (failure_wait_t **pp = &o->failure_waits; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    w->fn(w->f, w->arg);
    free(w);
    return 0;
}

void units_failure_async(orch_t *o, const char *unit, const char *reason, const char *summary,
                         const char *job_result, const char *phase, units_failure_fn *fn,
                         void *arg)
{
    failure_wait_t *w = calloc(1, sizeof *w);
    Hl__UnitFailure *f = failure_build(o, unit, reason, summary, job_result, phase);
    if (w) {
        w->o = o;
        w->f = f;
        w->fn = fn;
        w->arg = arg;
        w->timer = zloop_timer(o->loop, 1, 1, on_report_due, w);
        if (w->timer >= 0) {
            w->next = o->failure_waits;
            o->failure_waits = w;
            return;
        }
    }
    free(w);
    fn(f, arg);
}

void units_failure_cancel(orch_t *o, void *arg)
{
    for (failure_wait_t **pp = &o->failure_waits; *pp;) {
        failure_wait_t *w = *pp;
        if (arg && w->arg != arg) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        zloop_timer_end(o->loop, w->timer);
        if (w->f)
            hl__unit_failure__free_unpacked(w->f, NULL);
        free(w);
    }
}

static bool pub_differs(const unit_pub_t *p, const sdm_unit_t *u)
{
    return !p->published || strcmp(p->active_state, u->active_state) ||
           strcmp(p->sub_state, u->sub_state) || strcmp(p->result, u->result) ||
           strcmp(p->load_state, u->load_state) || p->n_restarts != u->n_restarts ||
           p->main_pid != u->main_pid || p->exec_code != u->exec_code ||
           p->exec_status != u->exec_status || strcmp(p->invocation_id, u->invocation_id);
}

static void pub_remember(unit_pub_t *p, const sdm_unit_t *u)
{
    p->published = true;
    snprintf(p->active_state, sizeof p->active_state, "%s", u->active_state);
    snprintf(p->sub_state, sizeof p->sub_state, "%s", u->sub_state);
    snprintf(p->result, sizeof p->result, "%s", u->result);
    snprintf(p->load_state, sizeof p->load_state, "%s", u->load_state);
    p->n_restarts = u->n_restarts;
    p->main_pid = u->main_pid;
    p->exec_code = u->exec_code;
    p->exec_status = u->exec_status;
    memcpy(p->invocation_id, u->invocation_id, sizeof p->invocation_id);
}

static void publish(orch_t *o, sdm_unit_t *u)
{
    unit_pub_t *p = u->user;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p)
            return;
        u->user = p; /* freed with the unit record by the owner at exit */
    }
    if (!u->known || !pub_differs(p, u))
        return;
    pub_remember(p, u);
    char *service = sdm_unit_short(u->name);
    if (!service)
        return;
    Hl__ServiceState m;
    units_fill(o, u, &m);
    m.service = service;
    char *topic = NULL;
    if (asprintf(&topic, "service.%s", service) >= 0) {
        int r = hlb_pub_send(o->pub, topic, &m.base);
        if (r < 0)
            hlb_debug("publish %s: %s", topic, strerror(-r));
    }
    devstate_publish(o, u, &m);
    free(topic);
    free(service);
}

void units_changed(orch_t *o, sdm_unit_t *u, bool settled)
{
    if (!settled)
        return; /* the Unit-interface half of systemd's update follows */
    publish(o, u);
    if (o->startup)
        startup_poke(o->startup);
    if (o->shutdown)
        shutdown_poke(o->shutdown);
}

static void snap_one(sdm_unit_t *u, void *arg)
{
    publish(arg, u);
}

void units_snapshot(orch_t *o)
{
    sdm_each(o->sdm, snap_one, o);
}
