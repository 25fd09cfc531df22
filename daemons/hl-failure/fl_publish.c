/* hl-failure: its events (recovery.<target>, alert.<target>) and the
 * structured fields of its log lines. */
#include <string.h>

#include <hlbus/clock.h>

#include "fl_daemon.h"

/* ---- publishing ---- */

void fl_publish(fl_daemon_t *fd, const char *prefix, const char *name,
                    const ProtobufCMessage *m)
{
    if (!fd->d)
        return;
    hlb_buf_t t = {0};
    hlb_buf_printf(&t, "%s.%s", prefix, name);
    int rc = hlb_pub_send(hlb_daemon_pub(fd->d), t.data, m);
    if (rc < 0)
        hlb_debug("cannot publish %s: %s", t.data, strerror(-rc));
    hlb_buf_free(&t);
}

void fl_publish_step(target_t *t, const char *step, const char *action, int attempt,
                         const char *detail, uint64_t due_us, uint64_t duration_ms)
{
    Hl__RecoveryStep s = HL__RECOVERY_STEP__INIT;
    s.incident = t->incident;
    s.target = t->name;
    s.step = (char *)step;
    s.action = (char *)(action ? action : "");
    s.attempt = attempt > 0 ? (uint32_t)attempt : 0;
    s.max_attempts = t->policy ? (uint32_t)fl_policy_cfg(t->policy)->max_attempts : 0;
    s.state = (char *)(t->policy ? fl_state_name(fl_policy_state(t->policy)) : "report-only");
    s.detail = (char *)(detail ? detail : "");
    s.due_us = due_us;
    s.duration_ms = duration_ms;
    s.ts_us = hlb_now_us();
    fl_publish(t->fd, "recovery", t->name, &s.base);
}

void fl_publish_alert(target_t *t, bool active, const char *severity, const char *reason,
                          const char *summary)
{
    Hl__Alert a = HL__ALERT__INIT;
    a.target = t->name;
    a.severity = (char *)severity;
    a.reason = (char *)reason;
    a.summary = (char *)(summary ? summary : "");
    a.incident = t->incident;
    a.active = active;
    a.ts_us = hlb_now_us();
    t->alert_active = active;
    fl_publish(t->fd, "alert", t->name, &a.base);
}

hlb_map_t *fl_log_fields(target_t *t, const char *action, int attempt)
{
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "target", t->name);
    if (t->incident)
        hlb_map_uint(m, "incident", t->incident);
    if (action)
        hlb_map_str(m, "action", action);
    if (attempt > 0)
        hlb_map_int(m, "attempt", attempt);
    return m;
}
