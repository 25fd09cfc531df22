/* hl-failure: the daemon around detection and policy. */
#include "fl_daemon.h"
#include "fl_liveness.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <hlbus/clock.h>
#include <hlbus/proc.h>
#include <hlbus/strv.h>

#include "failure.pb-c.h"
#include "hlbus/acall.h"
#include "fl_config.h"
#include "fl_decode.h"
#include "fl_detect.h"
#include "fl_incident.h"
#include "fl_policy.h"
#include <hlbus/str.h>

#define QMAX 16

typedef enum { T_SERVICE, T_NETWORK, T_COMMAND } tkind_t;

typedef struct qeff {
    fl_effect_t e;
    char *detail;
} qeff_t;

typedef struct target {
    char *name;
    tkind_t kind;
    char *unit;           /* T_SERVICE: what the orchestrator acts on */
    char **command;       /* T_COMMAND: the pattern's recovery command */
    fl_policy_t *policy;  /* NULL: failures are reported only */
    uint64_t incident;    /* the incident in progress (or left given up), 0 none */
    hlb_acall_t *call;      /* the recovery request in flight */
    hlb_proc_t *cmd;      /* the recovery command in flight */
    const char *action;   /* what is in flight */
    uint64_t action_started_us;
    hlb_acall_t *stop_call; /* stopping a configuration-error restart loop */
    bool alert_active;
    qeff_t q[QMAX];       /* effects of the feed in progress */
    size_t nq;
    struct fl_daemon *fd;
} target_t;

typedef struct check_run {
    const fl_check_cfg_t *k;
    hlb_proc_t *cmd;
    int timer;
    struct fl_daemon *fd;
} check_run_t;

struct fl_daemon {
    hlb_daemon_t *d;
    zloop_t *loop;
    fl_config_t *cfg;
    fl_detect_t *det;
    fl_incidents_t *inc;
    hlb_sub_t *sub;
    target_t **targets;
    size_t ntargets;
    char *lifecycle; /* the orchestrator's state as last seen; NULL never */
    /* Its ctl socket does not answer: whatever lifecycle says (a cached
     * "ready" outlives a kill -9), it is down, and recovery waits. */
    bool orch_unreachable;
    fl_liveness_t *live;
    bool gate_open;
    int timer;       /* the one zloop timer for every policy and detection deadline */
    char *status;    /* the last STATUS= sent */
    uint64_t timer_due;
    check_run_t *checks;
    size_t nchecks;
    uint64_t detected, actions;
    const fl_failure_t *cur_failure; /* the failure being fed, for CONFIG's loop stop */
};


static fl_policy_cfg_t command_policy(const fl_config_t *c)
{
    fl_policy_cfg_t p = c->defaults;
    p.actions[0] = "command";
    p.nactions = 1;
    p.credit_systemd = false;
    return p;
}

/* ---- publishing ---- */

static void publish(fl_daemon_t *fd, const char *prefix, const char *name,
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

static void publish_step(target_t *t, const char *step, const char *action, int attempt,
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
    publish(t->fd, "recovery", t->name, &s.base);
}

static void publish_alert(target_t *t, bool active, const char *severity, const char *reason,
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
    publish(t->fd, "alert", t->name, &a.base);
}

static hlb_map_t *fields(target_t *t, const char *action, int attempt)
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

static fl_incident_t *incident_of(target_t *t)
{
    return t->incident ? fl_incidents_get(t->fd->inc, t->incident) : NULL;
}

/* ---- targets ---- */

static target_t *target_find(fl_daemon_t *fd, const char *name)
{
    for (size_t i = 0; name && i < fd->ntargets; i++)
        if (strcmp(fd->targets[i]->name, name) == 0)
            return fd->targets[i];
    return NULL;
}

static void on_effect(const fl_effect_t *e, void *arg);


/* The policy config for target NAME of KIND under the current config, or
 * NULL when its failures are only reported. */
static bool policy_cfg_for(const fl_daemon_t *fd, const char *name, tkind_t kind,
                           char *const *t_command, fl_policy_cfg_t *out)
{
    const fl_config_t *c = fd->cfg;
    if (kind == T_NETWORK) {
        if (!c->network_command)
            return false;
        *out = c->network_policy;
        return true;
    }
    if (kind == T_COMMAND) { /* a resource pattern with a recovery command */
        *out = command_policy(c);
        return t_command != NULL;
    }
    const fl_policy_cfg_t *p = fl_config_policy_for(c, name);
    if (p)
        *out = *p;
    return p != NULL;
}

static target_t *target_get(fl_daemon_t *fd, const char *name, tkind_t kind,
                            char *const *command)
{
    target_t *t = target_find(fd, name);
    if (t)
        return t;
    target_t **v = realloc(fd->targets, (fd->ntargets + 1) * sizeof *v);
    if (!v)
        return NULL;
    fd->targets = v;
    t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        return NULL;
    }
    t->fd = fd;
    t->kind = kind;
    if (kind == T_COMMAND && command)
        t->command = hlb_strv_dup(command);
    if (kind == T_SERVICE) {
        const fl_service_cfg_t *sc = fl_config_service(fd->cfg, name);
        if (sc) {
            t->unit = strdup(sc->unit);
        } else if ((t->unit = malloc(strlen(name) + sizeof ".service"))) {
            sprintf(t->unit, "%s%s", name, strchr(name, '.') ? "" : ".service");
        }
    }
    fl_policy_cfg_t pc;
    if (policy_cfg_for(fd, name, kind, t->command, &pc)) {
        t->policy = fl_policy_new(name, &pc, on_effect, t);
        if (t->policy)
            fl_policy_gate(t->policy, fd->gate_open, hlb_mono_ms());
    }
    fd->targets[fd->ntargets++] = t;
    return t;
}

static void target_free(target_t *t)
{
    hlb_acall_cancel(&t->call);
    hlb_acall_cancel(&t->stop_call);
    hlb_proc_cancel(&t->cmd);
    fl_policy_destroy(&t->policy);
    for (size_t i = 0; i < t->nq; i++)
        free(t->q[i].detail);
    free(t->name);
    free(t->unit);
    hlb_strv_free(t->command);
    free(t);
}

/* ---- the one timer ---- */

static int on_timer(zloop_t *loop, int timer_id, void *arg);
static const char *lc_word(const fl_daemon_t *fd, const char *dflt);

static void reschedule(fl_daemon_t *fd)
{
    if (!fd->loop)
        return;
    uint64_t due = fl_detect_next_due(fd->det);
    for (size_t i = 0; i < fd->ntargets; i++) {
        target_t *t = fd->targets[i];
        uint64_t d = t->policy ? fl_policy_next_due(t->policy) : FL_NEVER;
        if (d < due)
            due = d;
    }
    if (fd->timer >= 0 && due == fd->timer_due)
        return;
    if (fd->timer >= 0)
        zloop_timer_end(fd->loop, fd->timer);
    fd->timer = -1;
    fd->timer_due = due;
    if (due == FL_NEVER)
        return;
    uint64_t now = hlb_mono_ms();
    fd->timer = zloop_timer(fd->loop, due > now ? (size_t)(due - now) : 0, 1, on_timer, fd);
}

/* ---- actions ---- */

static void flush(target_t *t);
static void checks_run_now(fl_daemon_t *fd, fl_ftype_t type);

static void action_done(target_t *t, bool ok, const char *detail)
{
    fl_daemon_t *fd = t->fd;
    const char *action = t->action ? t->action : "?";
    double secs = (double)(hlb_now_us() - t->action_started_us) / 1e6;
    fl_incident_t *in = incident_of(t);
    int attempt = t->policy ? fl_policy_attempts(t->policy) : 0;
    if (ok) {
        fl_incident_add(in, hlb_now_us(), "succeeded", "%s done in %.1f s%s%s", action, secs,
                        detail && *detail ? ": " : "", detail ? detail : "");
        hlb_map_t *m = fields(t, action, attempt);
        hlb_log_fields(LOG_INFO, m, "%s of %s done in %.1f s", action, t->name, secs);
        hlb_map_destroy(&m);
    } else {
        fl_incident_add(in, hlb_now_us(), "failed", "%s failed after %.1f s: %s", action, secs,
                        detail ? detail : "unknown error");
        hlb_map_t *m = fields(t, action, attempt);
        hlb_log_fields(LOG_WARNING, m, "%s of %s failed: %s", action, t->name,
                       detail ? detail : "unknown error");
        hlb_map_destroy(&m);
    }
    publish_step(t, ok ? "succeeded" : "failed", action, attempt, detail, 0, 0);
    t->action = NULL;
    /* the network command worked: look again now instead of at the next
     * interval, so that the verification does not wait for it */
    if (ok && t->kind == T_NETWORK)
        checks_run_now(fd, FL_FT_NETWORK);
    if (!t->policy)
        return;
    /* Verification is a transition to healthy seen after the action began
     * (while it ran, or after): a "healthy" left over from before it proves
     * nothing. */
    fl_policy_feed(t->policy, ok ? FL_EV_ACT_OK : FL_EV_ACT_FAILED,
                   &(fl_input_t){.detail = ok ? "healthy again after the action" : detail},
                   hlb_mono_ms());
    flush(t);
    reschedule(fd);
}

static void on_call_done(int rc, const Hl__Reply *r, void *arg)
{
    target_t *t = arg;
    t->call = NULL;
    char buf[512];
    bool ok = rc == 0 && r && r->status == 0;
    if (rc < 0) {
        snprintf(buf, sizeof buf, "%s did not answer: %s", t->fd->cfg->orchestrator,
                 strerror(-rc));
        fl_liveness_probe_now(t->fd->live);
    }
    else if (!ok)
        snprintf(buf, sizeof buf, "%s", r->error && *r->error ? r->error : "refused");
    else
        buf[0] = '\0';
    action_done(t, ok, buf);
}

/* How a command ended, and the first line of the last of its output (which
 * says most), at most 400 bytes of it. */
static void cmd_summary(const hlb_proc_result_t *r, char *buf, size_t size)
{
    char how[96];
    hlb_proc_describe(r, how, sizeof how);
    const char *out = r->output ? r->output : "";
    out += strspn(out, "\r\n ");
    size_t n = strcspn(out, "\r\n");
    snprintf(buf, size, "%s%s%.*s", how, n ? ": " : "", (int)(n > 400 ? 400 : n), out);
}

/* The runner's options for hl-failure's commands: the tail of the output. */
static hlb_proc_opts_t cmd_opts(char *const *argv, int64_t timeout_ms)
{
    hlb_proc_opts_t o = HLB_PROC_OPTS_INIT;
    o.argv = argv;
    o.timeout_ms = (int)timeout_ms;
    o.keep_tail = true;
    return o;
}

static void on_cmd_done(const hlb_proc_result_t *r, void *arg)
{
    target_t *t = arg;
    t->cmd = NULL;
    char buf[640];
    cmd_summary(r, buf, sizeof buf);
    action_done(t, hlb_proc_ok(r), buf);
}

static void start_action(target_t *t, const char *action, int attempt)
{
    fl_daemon_t *fd = t->fd;
    t->action = action;
    t->action_started_us = hlb_now_us();
    fd->actions++;
    fl_incident_t *in = incident_of(t);
    if (t->kind == T_SERVICE) {
        hlb_map_t *args = hlb_map_new();
        hlb_map_str(args, "unit", t->unit ? t->unit : t->name);
        hlb_map_str(args, "type", action);
        hlb_buf_t reason = {0};
        hlb_buf_printf(&reason, "hl-failure incident #%" PRIu64 ", attempt %d: %s", t->incident,
                       attempt, in ? in->evidence : "");
        hlb_map_str(args, "reason", reason.data);
        hlb_buf_free(&reason);
        size_t len;
        const void *body = hlb_map_data(args, &len);
        hlb_acall_opts_t o = {.timeout_ms = (int)fd->cfg->action_timeout_ms, .attempts = 1,
                              .connect_wait_ms = 5000};
        t->call = hlb_daemon_call(fd->d, fd->cfg->orchestrator, fd->cfg->recover_method,
                                  HLB_TYPE_MSGPACK, body, len, &o, on_call_done, t);
        hlb_map_destroy(&args);
        if (!t->call)
            action_done(t, false, "cannot send the request (out of memory?)");
        return;
    }
    char *const *argv = t->kind == T_NETWORK ? fd->cfg->network_command : t->command;
    hlb_proc_opts_t o = cmd_opts(argv, fd->cfg->command_timeout_ms);
    t->cmd = hlb_proc_start(hlb_daemon_reactor(fd->d), &o, on_cmd_done, t);
    if (!t->cmd)
        action_done(t, false, "cannot start the command (out of memory)");
}

static void on_stop_done(int rc, const Hl__Reply *r, void *arg)
{
    target_t *t = arg;
    t->stop_call = NULL;
    bool ok = rc == 0 && r && r->status == 0;
    fl_incident_add(incident_of(t), hlb_now_us(), "loop-stopped", "%s",
                    ok ? "stopped the unit: systemd was restarting it into the same error"
                       : rc < 0 ? strerror(-rc) : (r->error ? r->error : "refused"));
    publish_step(t, "loop-stopped", "stop", 0, ok ? "unit stopped" : "stop failed", 0, 0);
}

/* ---- effects: queued during a feed, handled after it ---- */

static void on_effect(const fl_effect_t *e, void *arg)
{
    target_t *t = arg;
    if (e->kind == FL_EFF_STATE || t->nq >= QMAX)
        return;
    t->q[t->nq].e = *e;
    t->q[t->nq].detail = e->detail ? strdup(e->detail) : NULL;
    t->q[t->nq].e.detail = t->q[t->nq].detail;
    t->nq++;
}

static void close_incident(target_t *t, const char *outcome)
{
    fl_incident_close(incident_of(t), hlb_now_us(), outcome);
}

static void handle(target_t *t, const fl_effect_t *e)
{
    fl_daemon_t *fd = t->fd;
    uint64_t now_us = hlb_now_us();
    fl_incident_t *in = incident_of(t);
    const char *detail = e->detail ? e->detail : "";
    hlb_map_t *m = fields(t, e->action, e->attempt);
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
        publish_step(t, "scheduled", e->action, e->attempt, detail, now_us + delay * 1000, 0);
        break;
    }
    case FL_EFF_ACTION:
        /* the spec's recovery log line (5.2.1) */
        hlb_log_fields(LOG_WARNING, m, "Attempting to recover %s (attempt %d)", t->name,
                       e->attempt);
        fl_incident_add(in, now_us, "started", "%s (attempt %d/%d)", e->action, e->attempt,
                        e->max_attempts);
        publish_step(t, "started", e->action, e->attempt, detail, 0, 0);
        start_action(t, e->action, e->attempt);
        break;
    case FL_EFF_SYSTEMD:
        hlb_log_fields(LOG_WARNING, m,
                       "Attempting to recover %s (attempt %d): systemd is restarting it (Restart=)",
                       t->name, e->attempt);
        fl_incident_add(in, now_us, "systemd-restart",
                        "restart (attempt %d/%d) by systemd's own Restart=, not repeated",
                        e->attempt, e->max_attempts);
        publish_step(t, "systemd-restart", "restart", e->attempt, detail, 0, 0);
        break;
    case FL_EFF_ATTEMPT_FAILED:
        hlb_log_fields(LOG_WARNING, m, "recovery of %s, attempt %d (%s), did not work: %s",
                       t->name, e->attempt, e->action, detail);
        fl_incident_add(in, now_us, "attempt-failed", "%s (attempt %d): %s", e->action,
                        e->attempt, detail);
        publish_step(t, "attempt-failed", e->action, e->attempt, detail, 0, 0);
        break;
    case FL_EFF_RECOVERED:
        hlb_log_fields(LOG_NOTICE, m, "Successfully recovered %s", t->name);
        fl_incident_add(in, now_us, "recovered", "healthy again %.1f s after detection (%s)",
                        (double)e->duration_ms / 1000.0, detail);
        if (in) {
            in->ttr_ms = e->duration_ms;
            close_incident(t, "recovered");
        }
        publish_step(t, "recovered", e->action, e->attempt, detail, 0, e->duration_ms);
        break;
    case FL_EFF_GIVE_UP: {
        hlb_log_fields(LOG_ERR, m, "Failed to recover %s after %d attempts", t->name, e->attempt);
        fl_incident_add(in, now_us, "gave-up",
                        "%d attempts used (%s); no more recovery until `hlctl failure rearm %s`",
                        e->attempt, detail, t->name);
        close_incident(t, "gave-up");
        publish_step(t, "gave-up", NULL, e->attempt, detail, 0, e->duration_ms);
        hlb_buf_t s = {0};
        hlb_buf_printf(&s, "recovery of %s gave up after %d attempts; last: %s; rearm with "
                           "`hlctl failure rearm %s`", t->name, e->attempt, detail, t->name);
        publish_alert(t, true, "critical", "gave-up", s.data);
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
        close_incident(t, "held");
        publish_step(t, "held", NULL, e->attempt, detail, 0, e->duration_ms);
        hlb_buf_t s = {0};
        hlb_buf_printf(&s, "%s is flapping: %d recoveries within %.0f min; recovery stopped; "
                           "rearm with `hlctl failure rearm %s`",
                       t->name, e->recoveries, (double)pc->flap_window_ms / 60000.0, t->name);
        publish_alert(t, true, "critical", "flapping", s.data);
        hlb_buf_free(&s);
        break;
    }
    case FL_EFF_CONFIG: {
        hlb_log_fields(LOG_ERR, m, "Configuration error in %s: %s; not restarting it", t->name,
                       detail);
        fl_incident_add(in, now_us, "config-error",
                        "reported, not restarted: a restart cannot fix a configuration");
        close_incident(t, "config-error");
        publish_step(t, "config-error", NULL, 0, detail, 0, 0);
        const fl_failure_t *f = fd->cur_failure;
        publish_alert(t, true, f ? fl_sev_name(f->severity) : "critical", "configuration-error",
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
                                           HLB_TYPE_MSGPACK, body, len, &o, on_stop_done, t);
            hlb_map_destroy(&args);
        }
        break;
    }
    case FL_EFF_CONFIG_CLEARED:
        hlb_log_fields(LOG_NOTICE, m, "Configuration error in %s cleared (%s)", t->name, detail);
        fl_incident_add(in, now_us, "config-cleared", "%s", detail);
        close_incident(t, "config-cleared");
        publish_step(t, "config-cleared", NULL, 0, detail, 0, e->duration_ms);
        if (t->alert_active)
            publish_alert(t, false, "critical", "configuration-error", "cleared");
        break;
    case FL_EFF_SUPPRESSED:
        hlb_log_fields(LOG_INFO, m, "no recovery of %s: the orchestrator is %s", t->name,
                       lc_word(fd, "not seen yet"));
        fl_incident_add(in, now_us, "suppressed", "no recovery while the orchestrator is %s",
                        lc_word(fd, "not seen yet"));
        close_incident(t, "suppressed");
        publish_step(t, "suppressed", NULL, 0, lc_word(fd, "no lifecycle"),
                     0, 0);
        break;
    case FL_EFF_ABANDONED:
        hlb_log_fields(LOG_INFO, m, "recovery of %s abandoned: the orchestrator is %s", t->name,
                       lc_word(fd, "gone"));
        fl_incident_add(in, now_us, "abandoned", "the orchestrator is %s",
                        lc_word(fd, "gone"));
        close_incident(t, "abandoned");
        publish_step(t, "abandoned", NULL, e->attempt, detail, 0, 0);
        break;
    case FL_EFF_BUDGET_RESTORED:
        hlb_log_fields(LOG_INFO, m, "%s stable: its recovery budget is whole again", t->name);
        publish_step(t, "budget-restored", NULL, e->attempt, detail, 0, 0);
        break;
    case FL_EFF_REARMED:
        hlb_log_fields(LOG_NOTICE, m, "recovery of %s rearmed (%s)", t->name, detail);
        fl_incident_add(in, now_us, "rearmed", "%s", detail);
        publish_step(t, "rearmed", NULL, 0, detail, 0, 0);
        if (t->alert_active)
            publish_alert(t, false, "critical", "rearmed", detail);
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
static void flush(target_t *t)
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
static void decision_text(const target_t *t, hlb_buf_t *b)
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
                           lc_word(t->fd, "not seen yet"));
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

/* ---- detection callbacks ---- */

static void on_failure(const fl_failure_t *f, void *arg)
{
    fl_daemon_t *fd = arg;
    uint64_t now_us = hlb_now_us();
    fd->detected++;
    tkind_t kind = strcmp(f->target, "network") == 0 ? T_NETWORK
                   : hlb_has_prefix(f->target, "resource:") ? T_COMMAND : T_SERVICE;
    target_t *t = target_get(fd, f->target, kind, f->command);
    if (!t)
        return;
    bool act = t->policy && (f->recover || f->config) &&
               (kind != T_COMMAND || t->command);

    /* the incident: the one in progress (the policy notes the new evidence
     * in it), or a new one */
    fl_incident_t *in = incident_of(t);
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
        decision_text(t, &decision);
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
    publish(fd, "failure", fl_ftype_name(f->type), &m.base);

    hlb_map_t *lf = fields(t, NULL, 0);
    hlb_map_str(lf, "type", fl_ftype_name(f->type));
    hlb_map_str(lf, "pattern", f->pattern ? f->pattern : "");
    hlb_map_str(lf, "severity", fl_sev_name(f->severity));
    hlb_log_fields(f->severity == FL_SEV_CRITICAL ? LOG_WARNING : LOG_NOTICE, lf,
                   "%s%s of %s: %s -> %s", fl_ftype_name(f->type),
                   f->reasserted ? " (still)" : "", f->target, f->evidence, decision.data);
    hlb_map_destroy(&lf);

    if (act) {
        flush(t);
        fd->cur_failure = NULL;
    } else {
        publish_step(t, "reported", NULL, 0, decision.data, 0, 0);
        if (opened) {
            fl_incident_add(in, now_us, "reported", "%s", decision.data);
            close_incident(t, "reported");
            t->incident = 0;
        } else { /* reported only, but during an incident of its policy */
            fl_incident_add(in, now_us, "failure-again", "%s (%s)", f->evidence, decision.data);
        }
        /* what nobody will fix automatically, and matters, needs a person */
        if (f->config || (f->severity == FL_SEV_CRITICAL && kind != T_SERVICE))
            publish_alert(t, true, fl_sev_name(f->severity),
                          f->config ? "configuration-error" : fl_ftype_name(f->type),
                          f->evidence);
    }
    hlb_buf_free(&decision);
    reschedule(fd);
}

static void on_healthy(const char *target, const char *why, void *arg)
{
    fl_daemon_t *fd = arg;
    target_t *t = target_find(fd, target);
    if (!t)
        return;
    if (!t->policy) {
        if (t->alert_active)
            publish_alert(t, false, "critical", "cleared", why);
        return;
    }
    fl_policy_feed(t->policy, FL_EV_HEALTHY, &(fl_input_t){.detail = why}, hlb_mono_ms());
    flush(t);
    reschedule(fd);
}

static void on_config_ok(const char *target, const char *why, void *arg)
{
    fl_daemon_t *fd = arg;
    target_t *t = target_find(fd, target);
    if (!t)
        return;
    if (!t->policy) {
        if (t->alert_active)
            publish_alert(t, false, "critical", "cleared", why);
        return;
    }
    fl_policy_feed(t->policy, FL_EV_CONFIG_OK, &(fl_input_t){.detail = why}, hlb_mono_ms());
    flush(t);
    reschedule(fd);
}

static const fl_detect_ops_t detect_ops = {on_failure, on_healthy, on_config_ok};

static int on_timer(zloop_t *loop, int timer_id, void *arg)
{
    fl_daemon_t *fd = arg;
    fd->timer = -1;
    fd->timer_due = FL_NEVER;
    uint64_t now = hlb_mono_ms();
    fl_detect_tick(fd->det, now);
    for (size_t i = 0; i < fd->ntargets; i++) {
        target_t *t = fd->targets[i];
        if (!t->policy)
            continue;
        fl_policy_tick(t->policy, now);
        flush(t);
    }
    reschedule(fd);
    return 0;
}

/* ---- the gate: recovery only while the orchestrator is up and steady ---- */

static void status_line(fl_daemon_t *fd)
{
    if (!fd->d)
        return;
    size_t open = 0, held = 0;
    for (size_t i = 0; i < fd->ntargets; i++) {
        target_t *t = fd->targets[i];
        if (!t->policy)
            continue;
        fl_state_t s = fl_policy_state(t->policy);
        open += s != FL_ST_IDLE;
        held += s == FL_ST_GAVE_UP || s == FL_ST_HELD || s == FL_ST_CONFIG;
    }
    hlb_buf_t b = {0};
    hlb_buf_printf(&b, "recovery %s; %zu incident%s in progress, %zu waiting for a person",
                   fd->gate_open ? "enabled" : "paused", open, open == 1 ? "" : "s", held);
    if (!fd->status || strcmp(fd->status, b.data) != 0) { /* sd_notify only on change */
        hlb_daemon_status(fd->d, "%s", b.data);
        free(fd->status);
        fd->status = hlb_buf_steal(&b);
    }
    hlb_buf_free(&b);
}

/* The orchestrator's state as we trust it: "unreachable" when its ctl socket
 * is silent, else its last lifecycle.state, else DFLT. */
static const char *lc_word(const fl_daemon_t *fd, const char *dflt)
{
    if (fd->orch_unreachable)
        return "unreachable";
    return fd->lifecycle ? fd->lifecycle : dflt;
}

static bool state_opens(const fl_config_t *c, const char *state)
{
    for (size_t i = 0; state && c->recover_in && c->recover_in[i]; i++)
        if (strcmp(c->recover_in[i], state) == 0)
            return true;
    return false;
}

static void set_gate(fl_daemon_t *fd)
{
    bool open = fd->orch_unreachable ? false
                : fd->lifecycle       ? state_opens(fd->cfg, fd->lifecycle)
                                      : !fd->cfg->require_lifecycle;
    if (open == fd->gate_open)
        return;
    fd->gate_open = open;
    uint64_t now = hlb_mono_ms();
    if (open)
        hlb_info("recovery enabled: the orchestrator is %s", lc_word(fd, "not required"));
    else
        hlb_info("recovery paused: the orchestrator is %s", lc_word(fd, "not seen yet"));
    for (size_t i = 0; i < fd->ntargets; i++) {
        target_t *t = fd->targets[i];
        if (!t->policy)
            continue;
        fl_policy_gate(t->policy, open, now);
        flush(t);
    }
    /* what failed while it was closed is still failing: act on it now */
    if (open)
        fl_detect_reassert(fd->det, NULL, now);
    status_line(fd);
    reschedule(fd);
}

/* ---- events ---- */

static void on_event(hlb_daemon_t *d, const hlb_event_t *ev, void *arg)
{
    fl_daemon_t *fd = arg;
    const fl_config_t *c = fd->cfg;
    if (!hlb_event_from_owner(ev)) /* a forged service./health./lifecycle. must not steer us */
        return;
    uint64_t now = hlb_mono_ms();
    int rc = 0;
    if (hlb_has_prefix(ev->topic, c->topic_lifecycle)) {
        const char *state;
        if ((rc = fl_decode_lifecycle(ev, &state)) == 0 &&
            (!fd->lifecycle || strcmp(fd->lifecycle, state) != 0)) {
            free(fd->lifecycle);
            fd->lifecycle = strdup(state);
            set_gate(fd);
        }
    } else if (hlb_has_prefix(ev->topic, c->topic_service)) {
        fl_unit_obs_t u;
        if ((rc = fl_decode_unit(ev, c->topic_service, &u)) == 0)
            fl_detect_unit(fd->det, &u, now);
    } else if (hlb_has_prefix(ev->topic, c->topic_health)) {
        fl_health_obs_t h;
        if ((rc = fl_decode_health(ev, c->topic_health, &h)) == 0)
            fl_detect_health(fd->det, &h, now);
    } else if (hlb_has_prefix(ev->topic, c->topic_threshold)) {
        fl_threshold_obs_t t;
        if ((rc = fl_decode_threshold(ev, c->topic_threshold, &t)) == 0)
            fl_detect_threshold(fd->det, &t, now);
    } else if (hlb_has_prefix(ev->topic, c->topic_uplink)) {
        fl_uplink_obs_t u;
        if ((rc = fl_decode_uplink(ev, &u)) == 0)
            fl_detect_uplink(fd->det, &u, now);
    }
    if (rc < 0) /* hlb_event_as logged a body of the wrong type */
        hlb_debug("%s: nothing hl-failure can use in it", ev->topic);
    status_line(fd);
    reschedule(fd);
}

/* ---- active checks ---- */

static int on_check_timer(zloop_t *loop, int timer_id, void *arg);

static void on_check_done(const hlb_proc_result_t *r, void *arg)
{
    check_run_t *cr = arg;
    cr->cmd = NULL;
    char buf[600];
    cmd_summary(r, buf, sizeof buf);
    fl_detect_check(cr->fd->det, cr->k, hlb_proc_ok(r), buf, hlb_mono_ms());
    reschedule(cr->fd);
}

static void check_start(check_run_t *cr)
{
    if (cr->cmd) /* still running: a slow check does not pile up */
        return;
    hlb_proc_opts_t o = cmd_opts(cr->k->argv, cr->k->timeout_ms);
    cr->cmd = hlb_proc_start(hlb_daemon_reactor(cr->fd->d), &o, on_check_done, cr);
}

static int on_check_timer(zloop_t *loop, int timer_id, void *arg)
{
    check_start(arg);
    return 0;
}

static void checks_stop(fl_daemon_t *fd)
{
    for (size_t i = 0; i < fd->nchecks; i++) {
        if (fd->checks[i].timer >= 0)
            zloop_timer_end(fd->loop, fd->checks[i].timer);
        hlb_proc_cancel(&fd->checks[i].cmd);
    }
    free(fd->checks);
    fd->checks = NULL;
    fd->nchecks = 0;
}

static void checks_start(fl_daemon_t *fd)
{
    fd->checks = calloc(fd->cfg->nchecks ? fd->cfg->nchecks : 1, sizeof *fd->checks);
    if (!fd->checks)
        return;
    fd->nchecks = fd->cfg->nchecks;
    for (size_t i = 0; i < fd->nchecks; i++) {
        check_run_t *cr = &fd->checks[i];
        cr->k = &fd->cfg->checks[i];
        cr->fd = fd;
        cr->timer = zloop_timer(fd->loop, (size_t)cr->k->interval_ms, 0, on_check_timer, cr);
        check_start(cr); /* a first result at once */
    }
}

static void checks_run_now(fl_daemon_t *fd, fl_ftype_t type)
{
    for (size_t i = 0; i < fd->nchecks; i++)
        if (fd->checks[i].k->type == type)
            check_start(&fd->checks[i]);
}

/* ---- methods ---- */

static void fill_target(fl_daemon_t *fd, target_t *t, Hl__TargetStatus *s)
{
    hl__target_status__init(s);
    s->target = t->name;
    s->state = (char *)(t->policy ? fl_state_name(fl_policy_state(t->policy)) : "report-only");
    s->healthy = fl_detect_is_healthy(fd->det, t->name);
    s->incident = t->incident;
    if (!t->policy)
        return;
    const fl_policy_cfg_t *pc = fl_policy_cfg(t->policy);
    uint64_t now = hlb_mono_ms();
    s->attempts = (uint32_t)fl_policy_attempts(t->policy);
    s->max_attempts = (uint32_t)pc->max_attempts;
    s->recoveries = (uint32_t)fl_policy_recoveries(t->policy, now);
    s->flap_max = (uint32_t)pc->flap_max;
    s->next_action = (char *)fl_policy_next_action(t->policy);
    uint64_t due = fl_policy_due_ms(t->policy);
    if (due != FL_NEVER)
        s->due_us = hlb_now_us() + (due > now ? (due - now) * 1000 : 0);
}

static void m_failures(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    fl_daemon_t *fd = arg;
    int64_t limit = 50;
    char *target = NULL;
    bool only_open = false;
    if (req->map) {
        int rc = hlb_mpview_int(req->map, "limit", &limit);
        if (rc == -EINVAL || (rc == 0 && limit < 1)) {
            hlb_reply_error(reply, EINVAL, "limit= must be a positive number");
            return;
        }
        target = hlb_mpview_str(req->map, "target");
        hlb_mpview_bool(req->map, "open", &only_open);
    }
    size_t n = fl_incidents_count(fd->inc);
    Hl__Incident *incs = calloc(n ? n : 1, sizeof *incs);
    Hl__Incident **iptrs = calloc(n ? n : 1, sizeof *iptrs);
    Hl__IncidentEntry *ents = calloc(n ? n * FL_INCIDENT_MAX_ENTRIES : 1, sizeof *ents);
    Hl__IncidentEntry **eptrs = calloc(n ? n * FL_INCIDENT_MAX_ENTRIES : 1, sizeof *eptrs);
    Hl__TargetStatus *ts = calloc(fd->ntargets ? fd->ntargets : 1, sizeof *ts);
    Hl__TargetStatus **tptrs = calloc(fd->ntargets ? fd->ntargets : 1, sizeof *tptrs);
    if (!incs || !iptrs || !ents || !eptrs || !ts || !tptrs) {
        hlb_reply_error(reply, ENOMEM, "out of memory");
        goto out;
    }
    /* the newest LIMIT that match, oldest first */
    size_t first = n, count = 0;
    while (first > 0 && count < (size_t)limit) {
        fl_incident_t *in = fl_incidents_at(fd->inc, first - 1);
        if ((!target || strcmp(target, in->target) == 0) &&
            (!only_open || fl_incident_is_open(in)))
            count++;
        first--;
    }
    size_t k = 0, e = 0;
    for (size_t i = first; i < n; i++) {
        fl_incident_t *in = fl_incidents_at(fd->inc, i);
        if ((target && strcmp(target, in->target) != 0) || (only_open && !fl_incident_is_open(in)))
            continue;
        Hl__Incident *o = &incs[k];
        hl__incident__init(o);
        o->id = in->id;
        o->target = in->target;
        o->type = in->type;
        o->severity = in->severity;
        o->pattern = in->pattern;
        o->evidence = in->evidence;
        o->detected_us = in->detected_us;
        o->ended_us = in->ended_us;
        o->outcome = in->outcome;
        o->ttr_ms = in->ttr_ms;
        o->attempts = in->attempts;
        o->folded = in->folded;
        o->timeline = &eptrs[e];
        for (size_t j = 0; j < in->nentries; j++, e++) {
            hl__incident_entry__init(&ents[e]);
            ents[e].ts_us = in->entries[j].ts_us;
            ents[e].what = in->entries[j].what;
            ents[e].detail = in->entries[j].detail;
            eptrs[e] = &ents[e];
            o->n_timeline++;
        }
        iptrs[k++] = o;
    }
    size_t nt = 0;
    for (size_t i = 0; i < fd->ntargets; i++) {
        if (target && strcmp(target, fd->targets[i]->name) != 0)
            continue;
        fill_target(fd, fd->targets[i], &ts[nt]);
        tptrs[nt] = &ts[nt];
        nt++;
    }
    Hl__FailureReport r = HL__FAILURE_REPORT__INIT;
    r.n_incidents = k;
    r.incidents = iptrs;
    r.n_targets = nt;
    r.targets = tptrs;
    r.lifecycle = (char *)lc_word(fd, "");
    r.recovery_enabled = fd->gate_open;
    r.detected = fd->detected;
    r.actions = fd->actions;
    hlb_reply_msg(reply, &r.base);
out:
    free(incs);
    free(iptrs);
    free(ents);
    free(eptrs);
    free(ts);
    free(tptrs);
    free(target);
}

static void m_rearm(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    fl_daemon_t *fd = arg;
    char *name = NULL;
    if (req->map) {
        name = hlb_mpview_str(req->map, "target");
        if (!name)
            name = hlb_mpview_str(req->map, "service");
    }
    if (!name || !*name) {
        hlb_reply_error(reply, EINVAL, "target= is required (a service name, or network)");
        free(name);
        return;
    }
    target_t *t = target_find(fd, name);
    if (!t || !t->policy) {
        hlb_buf_t known = {0};
        for (size_t i = 0; i < fd->ntargets; i++)
            if (fd->targets[i]->policy)
                hlb_buf_printf(&known, "%s%s", known.len ? ", " : "", fd->targets[i]->name);
        hlb_reply_error(reply, ENOENT, "%s has no recovery policy to rearm%s%s%s", name,
                        known.len ? " (known: " : "", known.len ? known.data : "",
                        known.len ? ")" : "");
        hlb_buf_free(&known);
        free(name);
        return;
    }
    char why[128];
    snprintf(why, sizeof why, "rearmed by uid %ld (pid %ld)", (long)req->uid, (long)req->pid);
    uint64_t now = hlb_mono_ms();
    fl_policy_feed(t->policy, FL_EV_REARM, &(fl_input_t){.detail = why}, now);
    flush(t);
    /* still failing: the fresh budget applies at once */
    fl_detect_reassert(fd->det, t->name, now);
    Hl__TargetStatus s;
    fill_target(fd, t, &s);
    hlb_reply_msg(reply, &s.base);
    status_line(fd);
    reschedule(fd);
    free(name);
}

const hlb_method_t fl_daemon_methods[] = {
    {"failures", m_failures, 0,
     "[limit=N] [target=NAME] [open=true]: recent incidents as timelines, and each target's state"},
    {"rearm", m_rearm, HLB_METHOD_ADMIN,
     "target=NAME: recovery of NAME starts afresh after a give-up, flap hold or config error"},
    {NULL, NULL, 0, NULL},
};

/* ---- lifecycle of the daemon ---- */

fl_daemon_t *fl_daemon_new(void)
{
    fl_daemon_t *fd = calloc(1, sizeof *fd);
    if (fd)
        fd->timer = -1;
    return fd;
}

void fl_daemon_destroy(fl_daemon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_daemon_t *fd = *self_p;
    for (size_t i = 0; i < fd->ntargets; i++)
        target_free(fd->targets[i]);
    free(fd->targets);
    fl_detect_destroy(&fd->det);
    fl_incidents_destroy(&fd->inc);
    fl_config_destroy(&fd->cfg);
    free(fd->lifecycle);
    free(fd->status);
    free(fd->checks);
    free(fd);
    *self_p = NULL;
}

int fl_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                        bool check_only, hlb_diag_t *diag, void *arg)
{
    fl_daemon_t *fd = arg;
    fl_config_t *c = fl_config_parse(section, diag);
    if (!c)
        return -EINVAL;
    if (check_only) {
        fl_config_destroy(&c);
        return 0;
    }
    fl_config_t *old = fd->cfg;
    fd->cfg = c;
    if (!old || !fd->loop) { /* the first: start() builds the rest */
        fl_config_destroy(&old);
        return 0;
    }
    /* a reload: everything that points into the old config moves over */
    fl_detect_set_config(fd->det, c);
    fl_incidents_set_max(fd->inc, (size_t)c->max_incidents);
    for (size_t i = 0; i < fd->ntargets; i++) {
        target_t *t = fd->targets[i];
        fl_policy_cfg_t pc;
        if (policy_cfg_for(fd, t->name, t->kind, t->command, &pc)) {
            if (t->policy)
                fl_policy_set_cfg(t->policy, &pc);
            else if ((t->policy = fl_policy_new(t->name, &pc, on_effect, t)))
                fl_policy_gate(t->policy, fd->gate_open, hlb_mono_ms());
        } else if (t->policy && fl_policy_state(t->policy) == FL_ST_IDLE && !t->call && !t->cmd) {
            fl_policy_destroy(&t->policy); /* no longer recovered */
        }
        if (t->kind == T_SERVICE) {
            const fl_service_cfg_t *sc = fl_config_service(c, t->name);
            if (sc && (!t->unit || strcmp(t->unit, sc->unit) != 0)) {
                free(t->unit);
                t->unit = strdup(sc->unit);
            }
        }
    }
    bool same_checks = old->nchecks == c->nchecks;
    for (size_t i = 0; same_checks && i < c->nchecks; i++)
        same_checks = strcmp(old->checks[i].name, c->checks[i].name) == 0 &&
                      hlb_strv_eq(old->checks[i].argv, c->checks[i].argv) &&
                      old->checks[i].interval_ms == c->checks[i].interval_ms;
    if (same_checks) {
        for (size_t i = 0; i < fd->nchecks; i++)
            fd->checks[i].k = &c->checks[i];
    } else {
        checks_stop(fd);
        checks_start(fd);
    }
    const char *topics[] = {c->topic_service, c->topic_health, c->topic_threshold,
                            c->topic_uplink, c->topic_lifecycle};
    for (size_t i = 0; fd->sub && i < sizeof topics / sizeof topics[0]; i++)
        hlb_sub_subscribe(fd->sub, topics[i]); /* old prefixes are ignored by on_event */
    fl_config_destroy(&old);
    set_gate(fd);
    status_line(fd);
    reschedule(fd);
    return 0;
}

/* Liveness probe interval and deadline: a kill -9 of the orchestrator is
 * known within about 7 s. */
#define ORCH_PROBE_INTERVAL_MS 5000
#define ORCH_PROBE_TIMEOUT_MS 2000

static void on_liveness(bool reachable, const char *detail, void *arg)
{
    fl_daemon_t *fd = arg;
    if (fd->orch_unreachable == !reachable)
        return;
    fd->orch_unreachable = !reachable;
    if (reachable)
        hlb_info("%s %s again", fd->cfg->orchestrator, detail);
    else
        hlb_warn("%s is down: %s; recovery waits for it", fd->cfg->orchestrator, detail);
    set_gate(fd);
    status_line(fd);
}

int fl_daemon_start(hlb_daemon_t *d, void *arg)
{
    fl_daemon_t *fd = arg;
    fd->d = d;
    fd->loop = hlb_daemon_loop(d);
    fd->gate_open = !fd->cfg->require_lifecycle;
    fd->det = fl_detect_new(fd->cfg, &detect_ops, fd);
    fd->inc = fl_incidents_new((size_t)fd->cfg->max_incidents);
    if (!fd->det || !fd->inc)
        return -ENOMEM;
    const fl_config_t *c = fd->cfg;
    const char *const prefixes[] = {c->topic_service, c->topic_health, c->topic_threshold,
                                    c->topic_uplink, c->topic_lifecycle, NULL};
    fd->sub = hlb_daemon_subscribe(d, prefixes, on_event, fd);
    if (!fd->sub) {
        hlb_err("cannot subscribe to the bus");
        return -EIO;
    }
    checks_start(fd);
    if (fd->cfg->require_lifecycle)
        fd->live = fl_liveness_new(fd->loop, hlb_daemon_runtime_dir(d), c->orchestrator,
                                   ORCH_PROBE_INTERVAL_MS, ORCH_PROBE_TIMEOUT_MS, on_liveness, fd);
    status_line(fd);
    hlb_info("watching %s*, %s*, %s*, %s* and %s; recovery through %s.%s; %s", c->topic_service,
             c->topic_health, c->topic_threshold, c->topic_uplink, c->topic_lifecycle,
             c->orchestrator, c->recover_method,
             fd->gate_open ? "recovery enabled" : "recovery waits for the orchestrator's ready");
    return 0;
}

void fl_daemon_stop(hlb_daemon_t *d, void *arg)
{
    fl_daemon_t *fd = arg;
    if (fd->timer >= 0)
        zloop_timer_end(fd->loop, fd->timer);
    fd->timer = -1;
    checks_stop(fd);
    fl_liveness_destroy(&fd->live);
    for (size_t i = 0; i < fd->ntargets; i++) {
        hlb_acall_cancel(&fd->targets[i]->call);
        hlb_acall_cancel(&fd->targets[i]->stop_call);
        hlb_proc_cancel(&fd->targets[i]->cmd);
    }
    hlb_proc_shutdown();
    hlb_acall_shutdown();
    fd->d = NULL;
}
