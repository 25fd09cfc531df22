/* hl-failure: what a policy decided (its effects), queued during a feed and
 * handled after it: log lines, incident entries, events, actions. */
#include <stdlib.h>
#include <string.h>

#include <hlbus/acall.h>
#include <hlbus/clock.h>

#include "fl_daemon.h"

/* ---- effects: queued during a feed, handled after it ---- */

void fl_on_effect(const fl_effect_t *e, void *arg)
{
    target_t *t = arg;
    if (e->kind == FL_EFF_STATE || t->nq >= QMAX)
        return;
    t->q[t->nq].e = *e;
    t->q[t->nq].detail = e->detail ? strdup(e->detail) : NULL;
    t->q[t->nq].e.detail = t->q[t->nq].detail;
    t->nq++;
}

void fl_close_incident(target_t *t, const char *outcome)
{
    fl_incident_close(fl_incident_of(t), hlb_now_us(), outcome);
}

static void handle(target_t *t, const fl_effect_t *e)
{
    fl_daemon_t *fd = t->fd;
    uint64_t now_us = hlb_now_us();
    fl_incident_t *in = fl_incident_of(t);
    const char *detail = e->detail ? e->detail : "";
    hlb_map_t *m = fl_log_fields(t, e->action, e->attempt);
    /* the incident shows where in the attempt budget it stands */
    if (in && e->attempt > 0 && e->kind != FL_EFF_SCHEDULE && e->kind != FL_EFF_BUDGET_RESTORED)
        in->attempts = (unsigned)e->attempt;
    switch (e->kind) {
    case FL_EFF_SCHEDULE: {
        uint64_t n = hlb_mono_ms();
        uint64_t delay = e->due_ms > n ? e->due_ms - n : 0;
        fl_incident_add(in, now_us, "scheduled", "%s (attempt %d/%d) in %.0f s", e->action,
                        e->attempt, e->max_attempts, (double)delay / 1000.0);
        hlb_log_fields(LOG_INFO, m, "%s of %s scheduled in %.0f s (attempt %d of %d, back-off)",
                       e->action, t->name, (double)delay / 1000.0, e->attempt, e->max_attempts);
        fl_publish_step(t, "scheduled", e->action, e->attempt, detail, now_us + delay * 1000, 0);
        break;
    }
    case FL_EFF_ACTION:
        /* the spec's recovery log line (5.2.1) */
        hlb_log_fields(LOG_WARNING, m, "Attempting to recover %s (attempt %d)", t->name,
                       e->attempt);
        fl_incident_add(in, now_us, "started", "%s (attempt %d/%d)", e->action, e->attempt,
                        e->max_attempts);
        fl_publish_step(t, "started", e->action, e->attempt, detail, 0, 0);
        fl_action_start(t, e->action, e->attempt);
        break;
    case FL_EFF_SYSTEMD:
        hlb_log_fields(LOG_WARNING, m,
                       "Attempting to recover %s (attempt %d): systemd is restarting it (Restart=)",
                       t->name, e->attempt);
        fl_incident_add(in, now_us, "systemd-restart",
                        "restart (attempt %d/%d) by systemd's own Restart=, not repeated",
                        e->attempt, e->max_attempts);
        fl_publish_step(t, "systemd-restart", "restart", e->attempt, detail, 0, 0);
        break;
    case FL_EFF_ATTEMPT_FAILED:
        hlb_log_fields(LOG_WARNING, m, "recovery of %s, attempt %d (%s), did not work: %s",
                       t->name, e->attempt, e->action, detail);
        fl_incident_add(in, now_us, "attempt-failed", "%s (attempt %d): %s", e->action,
                        e->attempt, detail);
        fl_publish_step(t, "attempt-failed", e->action, e->attempt, detail, 0, 0);
        break;
    case FL_EFF_RECOVERED:
        hlb_log_fields(LOG_NOTICE, m, "Successfully recovered %s", t->name);
        fl_incident_add(in, now_us, "recovered", "healthy again %.1f s after detection (%s)",
                        (double)e->duration_ms / 1000.0, detail);
        if (in) {
            in->ttr_ms = e->duration_ms;
            fl_close_incident(t, "recovered");
        }
        fl_publish_step(t, "recovered", e->action, e->attempt, detail, 0, e->duration_ms);
        break;
    case FL_EFF_GIVE_UP: {
        hlb_log_fields(LOG_ERR, m, "Failed to recover %s after %d attempts", t->name, e->attempt);
        fl_incident_add(in, now_us, "gave-up",
                        "%d attempts used (%s); no more recovery until `hlctl failure rearm %s`",
                        e->attempt, detail, t->name);
        fl_close_incident(t, "gave-up");
        fl_publish_step(t, "gave-up", NULL, e->attempt, detail, 0, e->duration_ms);
        hlb_buf_t s = {0};
        hlb_buf_printf(&s, "recovery of %s gave up after %d attempts; last: %s; rearm with "
                           "`hlctl failure rearm %s`", t->name, e->attempt, detail, t->name);
        fl_publish_alert(t, true, "critical", "gave-up", s.data);
        hlb_buf_free(&s);
        break;
    }
    case FL_EFF_HOLD: {
        const fl_policy_cfg_t *pc = fl_policy_cfg(t->policy);
        hlb_log_fields(LOG_ERR, m,
                       "Stopped recovering %s: %d recoveries within %.0f min (flap guard); "
                       "waiting for `hlctl failure rearm %s`",
                       t->name, e->recoveries, (double)pc->flap_window_ms / 60000.0, t->name);
        fl_incident_add(in, now_us, "held",
                        "flapping: %d recoveries within %.0f min; waiting for a rearm",
                        e->recoveries, (double)pc->flap_window_ms / 60000.0);
        fl_close_incident(t, "held");
        fl_publish_step(t, "held", NULL, e->attempt, detail, 0, e->duration_ms);
        hlb_buf_t s = {0};
        hlb_buf_printf(&s, "%s is flapping: %d recoveries within %.0f min; recovery stopped; "
                           "rearm with `hlctl failure rearm %s`",
                       t->name, e->recoveries, (double)pc->flap_window_ms / 60000.0, t->name);
        fl_publish_alert(t, true, "critical", "flapping", s.data);
        hlb_buf_free(&s);
        break;
    }
    case FL_EFF_CONFIG: {
        hlb_log_fields(LOG_ERR, m, "Configuration error in %s: %s; not restarting it", t->name,
                       detail);
        fl_incident_add(in, now_us, "config-error",
                        "reported, not restarted: a restart cannot fix a configuration");
        fl_close_incident(t, "config-error");
        fl_publish_step(t, "config-error", NULL, 0, detail, 0, 0);
        const fl_failure_t *f = fd->cur_failure;
        fl_publish_alert(t, true, f ? fl_sev_name(f->severity) : "critical", "configuration-error",
                      detail);
        /* systemd would restart it into the same error (no
         * RestartPreventExitStatus=78 on the unit): stop that loop */
        if (f && f->self_restarting && fd->cfg->stop_config_loops && t->kind == T_SERVICE &&
            !t->stop_call) {
            hlb_map_t *args = hlb_map_new();
            hlb_map_str(args, "unit", t->unit ? t->unit : t->name);
            hlb_map_str(args, "reason", "hl-failure: configuration error restart loop");
            size_t len;
            const void *body = hlb_map_data(args, &len);
            hlb_acall_opts_t o = {.timeout_ms = (int)fd->cfg->action_timeout_ms, .attempts = 1,
                                  .connect_wait_ms = 5000};
            t->stop_call = hlb_daemon_call(fd->d, fd->cfg->orchestrator, fd->cfg->stop_method,
                                           HLB_TYPE_MSGPACK, body, len, &o, fl_on_stop_done, t);
            hlb_map_destroy(&args);
        }
        break;
    }
    case FL_EFF_CONFIG_CLEARED:
        hlb_log_fields(LOG_NOTICE, m, "Configuration error in %s cleared (%s)", t->name, detail);
        fl_incident_add(in, now_us, "config-cleared", "%s", detail);
        fl_close_incident(t, "config-cleared");
        fl_publish_step(t, "config-cleared", NULL, 0, detail, 0, e->duration_ms);
        if (t->alert_active)
            fl_publish_alert(t, false, "critical", "configuration-error", "cleared");
        break;
    case FL_EFF_SUPPRESSED:
        hlb_log_fields(LOG_INFO, m, "no recovery of %s: the orchestrator is %s", t->name,
                       fl_lc_word(fd, "not seen yet"));
        fl_incident_add(in, now_us, "suppressed", "no recovery while the orchestrator is %s",
                        fl_lc_word(fd, "not seen yet"));
        fl_close_incident(t, "suppressed");
        fl_publish_step(t, "suppressed", NULL, 0, fl_lc_word(fd, "no lifecycle"),
                     0, 0);
        break;
    case FL_EFF_ABANDONED:
        hlb_log_fields(LOG_INFO, m, "recovery of %s abandoned: the orchestrator is %s", t->name,
                       fl_lc_word(fd, "gone"));
        fl_incident_add(in, now_us, "abandoned", "the orchestrator is %s",
                        fl_lc_word(fd, "gone"));
        fl_close_incident(t, "abandoned");
        fl_publish_step(t, "abandoned", NULL, e->attempt, detail, 0, 0);
        break;
    case FL_EFF_BUDGET_RESTORED:
        hlb_log_fields(LOG_INFO, m, "%s stable: its recovery budget is whole again", t->name);
        fl_publish_step(t, "budget-restored", NULL, e->attempt, detail, 0, 0);
        break;
    case FL_EFF_REARMED:
        hlb_log_fields(LOG_NOTICE, m, "recovery of %s rearmed (%s)", t->name, detail);
        fl_incident_add(in, now_us, "rearmed", "%s", detail);
        fl_publish_step(t, "rearmed", NULL, 0, detail, 0, 0);
        if (t->alert_active)
            fl_publish_alert(t, false, "critical", "rearmed", detail);
        break;
    case FL_EFF_NOTED:
        fl_incident_add(in, now_us, "failure-again", "%s", detail);
        break;
    default:
        break;
    }
    hlb_map_destroy(&m);
}

/* Handles the queued effects in order; an incident no longer in progress
 * (the policy is idle again) is let go. */
void fl_flush(target_t *t)
{
    /* handling may feed the policy again (an action that fails at once),
     * which queues more: take the queue first */
    while (t->nq) {
        qeff_t q[QMAX];
        size_t n = t->nq;
        memcpy(q, t->q, n * sizeof *q);
        t->nq = 0;
        for (size_t i = 0; i < n; i++) {
            handle(t, &q[i].e);
            free(q[i].detail);
        }
    }
    if (t->policy && fl_policy_state(t->policy) == FL_ST_IDLE && !t->call && !t->cmd)
        t->incident = 0;
}

/* What the policy decided about a failure, in a few words. */
void fl_decision_text(const target_t *t, hlb_buf_t *b)
{
    for (size_t i = 0; i < t->nq; i++) {
        const fl_effect_t *e = &t->q[i].e;
        switch (e->kind) {
        case FL_EFF_SYSTEMD:
            hlb_buf_printf(b, "systemd-restart (attempt %d/%d)", e->attempt, e->max_attempts);
            return;
        case FL_EFF_ACTION:
            hlb_buf_printf(b, "%s (attempt %d/%d)", e->action, e->attempt, e->max_attempts);
            return;
        case FL_EFF_SCHEDULE: {
            uint64_t n = hlb_mono_ms();
            hlb_buf_printf(b, "%s in %.0f s (attempt %d/%d)", e->action,
                           e->due_ms > n ? (double)(e->due_ms - n) / 1000.0 : 0.0, e->attempt,
                           e->max_attempts);
            return;
        }
        case FL_EFF_SUPPRESSED:
            hlb_buf_printf(b, "none: the orchestrator is %s",
                           fl_lc_word(t->fd, "not seen yet"));
            return;
        case FL_EFF_GIVE_UP: hlb_buf_puts(b, "gave-up: critical alert raised"); return;
        case FL_EFF_HOLD: hlb_buf_puts(b, "held: flapping, critical alert raised"); return;
        case FL_EFF_CONFIG: hlb_buf_puts(b, "reported: configuration error, not restarted"); return;
        case FL_EFF_NOTED:
            hlb_buf_printf(b, "noted: recovery already %s",
                           fl_state_name(fl_policy_state(t->policy)));
            return;
        default: break;
        }
    }
    hlb_buf_puts(b, "none");
}
