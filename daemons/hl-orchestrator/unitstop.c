/* What stopping hl-orchestrator.service means (its ExecStop= asks with
 * only_at_system_shutdown=1): the graceful shutdown of the managed services
 * when the whole system is going down, and nothing at all otherwise.
 *
 * A `systemctl restart` or `stop` of the orchestrator alone must leave the
 * managed services running: they outlive their supervisor (the new process
 * picks them up as they are), and stopping them from inside our own stop job
 * would wait for stop jobs that systemd orders behind that very job (we are
 * After= them), a stall of a stop_timeout per phase. Whether the system is
 * going down is systemd's Manager.SystemState ("stopping" from the moment
 * shutdown.target is queued), read fresh here rather than from any cache. */
#include "orch.h"
#include <errno.h>
#include <string.h>
#include <hlbus/pbfield.h>

typedef struct unitstop {
    orch_t *o;
    char *reason;
    hlb_deferred_t *def;
    uint64_t started_us;
} unitstop_t;

/* The reply when the services stay up: a report with outcome "skipped". */
static void reply_skipped(unitstop_t *u, const char *why)
{
    hlb_info("unit stop (%s): no graceful shutdown: %s; the managed services keep running",
             u->reason, why);
    Hl__ShutdownStep step = HL__SHUTDOWN_STEP__INIT;
    step.name = hlb_pb_str("system-shutdown");
    step.outcome = hlb_pb_str("skipped");
    hlb_buf_t b = {0};
    hlb_buf_printf(&b, "%s: the managed services keep running", why);
    step.detail = b.data ? b.data : (char *) why;
    step.started_us = u->started_us;
    step.finished_us = hlb_now_us();
    Hl__ShutdownStep *steps[] = {&step};
    Hl__ShutdownReport r = HL__SHUTDOWN_REPORT__INIT;
    r.outcome = hlb_pb_str("skipped");
    r.steps = steps;
    r.n_steps = 1;
    r.started_us = u->started_us;
    r.finished_us = step.finished_us;
    r.reason = u->reason;
    if (u->def) {
        hlb_reply_msg(hlb_deferred_reply(u->def), &r.base);
        hlb_deferred_send(&u->def);
    }
    hlb_buf_free(&b);
}

static void unitstop_free(unitstop_t *u)
{
    free(u->reason);
    free(u);
}

static void on_system_state(sdm_t *m, const char *value, const char *error, void *arg)
{
    unitstop_t *u = arg;
    if (value && !strcmp(value, "stopping")) {
        hlb_info("unit stop (%s): the system is shutting down", u->reason);
        shutdown_request(u->o, u->reason, u->def);
        u->def = NULL;
    } else {
        hlb_buf_t b = {0};
        if (value)
            hlb_buf_printf(&b, "the system is not shutting down (SystemState=%s)", value);
        else
            hlb_buf_printf(&b, "cannot tell whether the system is shutting down (%s)",
                           error ? error : "no answer");
        reply_skipped(u, b.data ? b.data : "the system is not shutting down");
        hlb_buf_free(&b);
    }
    unitstop_free(u);
}

void unitstop_request(orch_t *o, const char *reason, hlb_deferred_t *def)
{
    unitstop_t *u = calloc(1, sizeof *u);
    if (!u || !(u->reason = strdup(reason ? reason : ""))) {
        free(u);
        hlb_reply_error(hlb_deferred_reply(def), ENOMEM, "out of memory");
        hlb_deferred_send(&def);
        return;
    }
    u->o = o;
    u->def = def;
    u->started_us = hlb_now_us();
    /* A shutdown already under way (hlctl shutdown, or this very stop
     * asked twice) is joined whatever the system does. */
    if (o->lc == LC_SHUTTING_DOWN || o->lc == LC_STOPPED) {
        shutdown_request(o, u->reason, u->def);
        unitstop_free(u);
        return;
    }
    int r = o->sdm ? sdm_manager_string(o->sdm, "SystemState", on_system_state, u) : -ENOTCONN;
    if (r < 0) {
        /* Without systemd no unit can be stopped in order anyway. */
        hlb_buf_t b = {0};
        hlb_buf_printf(&b, "cannot ask systemd whether the system is shutting down (%s)",
                       strerror(-r));
        reply_skipped(u, b.data ? b.data : "systemd unreachable");
        hlb_buf_free(&b);
        unitstop_free(u);
    }
}
