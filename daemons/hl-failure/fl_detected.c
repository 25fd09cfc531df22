/* hl-failure: the detector's callbacks: a failure becomes an incident, a
 * decision and a failure.<type> event; "healthy again" and "configuration
 * fixed" go to the target's policy. */
#include <string.h>

#include <hlbus/clock.h>
#include <hlbus/pbfield.h>
#include <hlbus/str.h>

#include "fl_daemon.h"

/* ---- detection callbacks ---- */

static void on_failure(const fl_failure_t *f, void *arg)
{
    fl_daemon_t *fd = arg;
    uint64_t now_us = hlb_now_us();
    fd->detected++;
    tkind_t kind = strcmp(f->target, "network") == 0 ? T_NETWORK
                   : hlb_has_prefix(f->target, "resource:") ? T_COMMAND : T_SERVICE;
    target_t *t = fl_target_get(fd, f->target, kind, f->command);
    if (!t)
        return;
    bool act = t->policy && (f->recover || f->config) &&
               (kind != T_COMMAND || t->command);

    /* the incident: the one in progress (the policy notes the new evidence
     * in it), or a new one */
    fl_incident_t *in = fl_incident_of(t);
    bool opened = !in;
    if (opened) {
        in = fl_incidents_open(fd->inc, now_us, f->target, fl_ftype_name(f->type),
                               fl_sev_name(f->severity), f->pattern, f->evidence);
        t->incident = in ? in->id : 0;
    }

    hlb_buf_t decision = {0};
    if (act) {
        fd->cur_failure = f;
        fl_policy_feed(t->policy, f->config ? FL_EV_CONFIG_ERROR : FL_EV_FAILURE,
                       &(fl_input_t){.detail = f->evidence, .self_restarting = f->self_restarting},
                       hlb_mono_us() / 1000);
        fl_decision_text(t, &decision);
    } else {
        hlb_buf_printf(&decision, "reported: %s",
                       kind == T_NETWORK ? "no network recovery command is configured"
                       : !f->recover   ? "the pattern does not recover"
                       : kind == T_COMMAND ? "the pattern has no recovery command"
                                           : "not a recovered service");
    }

    /* failure.<type> first, so that it precedes what it caused */
    Hl__Failure m = HL__FAILURE__INIT;
    m.incident = t->incident;
    m.type = (char *)fl_ftype_name(f->type);
    m.target = (char *)f->target;
    m.service = (char *)f->service;
    m.pattern = (char *)(f->pattern ? f->pattern : "");
    m.severity = (char *)fl_sev_name(f->severity);
    m.signal = (char *)(f->signal ? f->signal : "");
    m.evidence = (char *)(f->evidence ? f->evidence : "");
    m.decision = decision.data;
    m.detected_us = now_us;
    m.source_ts_us = f->source_ts_us;
    m.reasserted = f->reasserted;
    m.unit = (char *)(f->unit ? f->unit : "");
    m.result = (char *)(f->result ? f->result : "");
    m.exit_code = f->exit_code;
    m.exit_status = f->exit_status;
    m.n_restarts = f->n_restarts;
    m.metric = (char *)(f->metric ? f->metric : "");
    m.value = f->value;
    m.limit = f->limit;
    fl_publish(fd, "failure", fl_ftype_name(f->type), &m.base);

    hlb_map_t *lf = fl_log_fields(t, NULL, 0);
    hlb_map_str(lf, "type", fl_ftype_name(f->type));
    hlb_map_str(lf, "pattern", f->pattern ? f->pattern : "");
    hlb_map_str(lf, "severity", fl_sev_name(f->severity));
    hlb_log_fields(f->severity == FL_SEV_CRITICAL ? LOG_WARNING : LOG_NOTICE, lf,
                   "%s%s of %s: %s -> %s", fl_ftype_name(f->type),
                   f->reasserted ? " (still)" : "", f->target, f->evidence, decision.data);
    hlb_map_destroy(&lf);

    if (act) {
        fl_flush(t);
        fd->cur_failure = NULL;
    } else {
        fl_publish_step(t, "reported", NULL, 0, decision.data, 0, 0);
        if (opened) {
            fl_incident_add(in, now_us, "reported", "%s", decision.data);
            fl_close_incident(t, "reported");
            t->incident = 0;
        } else { /* reported only, but during an incident of its policy */
            fl_incident_add(in, now_us, "failure-again", "%s (%s)", f->evidence, decision.data);
        }
        /* what nobody will fix automatically, and matters, needs a person */
        if (f->config || (f->severity == FL_SEV_CRITICAL && kind != T_SERVICE))
            fl_publish_alert(t, true, fl_sev_name(f->severity),
                          f->config ? "configuration-error" : fl_ftype_name(f->type),
                          f->evidence);
    }
    hlb_buf_free(&decision);
    fl_reschedule(fd);
}

static void on_healthy(const char *target, const char *why, void *arg)
{
    fl_daemon_t *fd = arg;
    target_t *t = fl_target_find(fd, target);
    if (!t)
        return;
    if (!t->policy) {
        if (t->alert_active)
            fl_publish_alert(t, false, "critical", "cleared", why);
        return;
    }
    fl_policy_feed(t->policy, FL_EV_HEALTHY, &(fl_input_t){.detail = why}, hlb_mono_ms());
    fl_flush(t);
    fl_reschedule(fd);
}

static void on_config_ok(const char *target, const char *why, void *arg)
{
    fl_daemon_t *fd = arg;
    target_t *t = fl_target_find(fd, target);
    if (!t)
        return;
    if (!t->policy) {
        if (t->alert_active)
            fl_publish_alert(t, false, "critical", "cleared", why);
        return;
    }
    fl_policy_feed(t->policy, FL_EV_CONFIG_OK, &(fl_input_t){.detail = why}, hlb_mono_ms());
    fl_flush(t);
    fl_reschedule(fd);
}

const fl_detect_ops_t fl_detect_callbacks = {on_failure, on_healthy, on_config_ok};
