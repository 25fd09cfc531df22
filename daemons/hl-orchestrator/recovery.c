/* Recovery actions (spec 2.2.2), as requests: restart, reset (stop, clear
 * the state directory and stale pid/lock files, start) and rebuild. A
 * rebuild runs the configured rebuild command while the service is stopped;
 * without one (the spec's hl-rebuild-service is a site's own script) it is
 * built in: what reset does, then systemd's own record of the unit is
 * rebuilt too (reset-failed: its failed state and start-limit counter
 * forgotten; daemon-reload: its unit file and drop-ins read again), then
 * start. So the default ladder restart -> reset -> rebuild has three rungs
 * that work, and the third reaches what the second cannot.
 * Each plan is a row of steps; each step waits for its systemd job or call.
 * The outcome is the reply and is published as recovery.<name>. */
#include "orch.h"
#include <errno.h>
#include <string.h>
#include "fsclean.h"
#include <hlbus/pbfield.h>

typedef enum {
    RS_RESTART,
    RS_STOP,
    RS_CLEAR,
    RS_REBUILD,
    RS_RESET_FAILED,
    RS_RELOAD,
    RS_START,
    RS_END
} rstep_t;
static const char *const rstep_names[] = {"restart",      "stop",          "clear", "rebuild",
                                          "reset-failed", "daemon-reload", "start", "end"};

typedef struct plan {
    const char *type;
    rstep_t steps[7];
} plan_t;

static const plan_t plans[] = {
    {"restart", {RS_RESTART, RS_END}},
    {"reset", {RS_STOP, RS_CLEAR, RS_START, RS_END}},
    {"rebuild", {RS_STOP, RS_REBUILD, RS_START, RS_END}},
};
/* The rebuild when no rebuild_command is configured. */
static const plan_t builtin_rebuild = {
    "rebuild", {RS_STOP, RS_CLEAR, RS_RESET_FAILED, RS_RELOAD, RS_START, RS_END}};

struct recovery {
    recovery_t *next;
    orch_t *o;
    char *unit;
    char *type;
    char *reason;
    const rstep_t *steps;
    size_t at;
    hlb_deferred_t *def;
    uint32_t uid, pid;
    uint64_t started_us;
    char **log;
    size_t n_log;
    uint64_t removed;
    char *error;
    Hl__UnitFailure *failure;
    char *transient;
    int timer;
    /* what failed first, for the report built when the action ends */
    char *fail_unit, *fail_reason, *fail_job;
};

static void step_run(recovery_t *r);

static void log_step(recovery_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_step(recovery_t *r, const char *fmt, ...)
{
    hlb_buf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    hlb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char **v = realloc(r->log, (r->n_log + 2) * sizeof *v);
    if (!v) {
        hlb_buf_free(&b);
        return;
    }
    r->log = v;
    r->log[r->n_log++] = hlb_buf_steal(&b);
    r->log[r->n_log] = NULL;
}

static void fail_step(recovery_t *r, const char *reason, const char *job_result, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
static void fail_step(recovery_t *r, const char *reason, const char *job_result, const char *fmt,
                      ...)
{
    hlb_buf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    hlb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    log_step(r, "%s", b.data ? b.data : "failed");
    if (!r->error) {
        r->error = hlb_buf_steal(&b);
        const char *unit = r->steps[r->at] == RS_REBUILD && r->transient ? r->transient : r->unit;
        r->fail_unit = strdup(unit);
        r->fail_reason = strdup(reason);
        r->fail_job = job_result ? strdup(job_result) : NULL;
    }
    hlb_buf_free(&b);
}

static void publish(recovery_t *r, const char *outcome)
{
    orch_t *o = r->o;
    Hl__RecoveryOutcome m = HL__RECOVERY_OUTCOME__INIT;
    Hl__ServiceState st;
    char *service = sdm_unit_short(r->unit);
    sdm_unit_t *u = o->sdm ? sdm_unit(o->sdm, r->unit) : NULL;
    m.unit = r->unit;
    m.type = r->type;
    m.outcome = (char *) outcome;
    m.error = hlb_pb_str(r->error);
    m.n_steps = r->n_log;
    m.steps = r->log;
    if (u) {
        units_fill(o, u, &st);
        st.service = hlb_pb_str(service);
        m.state = &st;
    }
    m.failure = r->failure;
    m.caller_uid = r->uid;
    m.caller_pid = r->pid;
    m.reason = hlb_pb_str(r->reason);
    m.started_us = r->started_us;
    m.finished_us = strcmp(outcome, "running") ? hlb_now_us() : 0;
    m.removed = r->removed;
    char *topic = NULL;
    if (service && asprintf(&topic, "recovery.%s", service) >= 0)
        hlb_pub_send(o->pub, topic, &m.base);
    if (r->def && strcmp(outcome, "running") != 0) {
        hlb_reply_t *reply = hlb_deferred_reply(r->def);
        if (r->error)
            hlb_reply_error(reply, EIO, "%s %s failed: %s", r->type, r->unit, r->error);
        hlb_reply_msg(reply, &m.base);
        hlb_deferred_send(&r->def);
    }
    free(topic);
    free(service);
}

static void recovery_free(recovery_t *r)
{
    if (r->timer >= 0)
        zloop_timer_end(r->o->loop, r->timer);
    if (r->o->sdm)
        sdm_cancel_callbacks(r->o->sdm, r);
    free(r->unit);
    free(r->type);
    free(r->reason);
    hlb_strv_free(r->log);
    free(r->error);
    free(r->transient);
    free(r->fail_unit);
    free(r->fail_reason);
    free(r->fail_job);
    units_failure_cancel(r->o, r);
    if (r->failure)
        hl__unit_failure__free_unpacked(r->failure, NULL);
    free(r);
}

static void unlink_recovery(orch_t *o, recovery_t *r)
{
    for (recovery_t **pp = &o->recoveries; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            return;
        }
}

static void finish_report(recovery_t *r);

static void on_failure_report(Hl__UnitFailure *f, void *arg)
{
    recovery_t *r = arg;
    r->failure = f;
    finish_report(r);
}

static void finish(recovery_t *r)
{
    /* A failure report quotes the journal: wait for it to catch up. */
    if (r->error && r->fail_unit && !r->failure) {
        units_failure_async(r->o, r->fail_unit, r->fail_reason, r->error, r->fail_job, NULL,
                            on_failure_report, r);
        return;
    }
    finish_report(r);
}

static void finish_report(recovery_t *r)
{
    const char *outcome = r->error ? "failed" : "ok";
    /* The spec's recovery log lines (5.2.1), through the logging path. */
    if (r->error)
        hlb_err("Failed to recover %s (%s): %s", r->unit, r->type, r->error);
    else
        hlb_info("Successfully recovered %s (%s) in %.1f s", r->unit, r->type,
                 (double) (hlb_now_us() - r->started_us) / 1e6);
    publish(r, outcome);
    unlink_recovery(r->o, r);
    recovery_free(r);
}

static void next_step(recovery_t *r)
{
    if (r->timer >= 0) {
        zloop_timer_end(r->o->loop, r->timer);
        r->timer = -1;
    }
    /* After a failed stop nothing else is attempted; after a failed clear or
     * rebuild the service is still started again, so as not to leave it
     * down, but the outcome stays "failed". */
    if (r->error && r->steps[r->at] == RS_STOP) {
        finish(r);
        return;
    }
    r->at++;
    step_run(r);
}

static void on_job(sdm_t *m, sdm_unit_t *u, const char *result, const char *error, void *arg)
{
    recovery_t *r = arg;
    rstep_t st = r->steps[r->at];
    bool ok = !strcmp(result, "done");
    if (ok && (st == RS_START || st == RS_RESTART) && !units_is_active(u) &&
        strcmp(u->result, "success") != 0)
        ok = false;
    if (ok && st == RS_RELOAD) {
        log_step(r, "daemon-reload: done (%s is %s)", u->name, u->load_state);
    } else if (ok) {
        log_step(r, "%s %s: done", rstep_names[st], u->name);
    } else {
        char *state = units_describe(u);
        const char *reason = st == RS_REBUILD                             ? "check-failed"
                             : st == RS_RESET_FAILED || st == RS_RELOAD ? "rebuild-failed"
                                                                          : "job-failed";
        fail_step(r, reason, result,
                  "%s %s: %s%s%s; %s", rstep_names[st], u->name, result, error ? ": " : "",
                  error ? error : "", state ? state : "");
        free(state);
    }
    next_step(r);
}

static int on_timeout(zloop_t *loop, int timer_id, void *arg)
{
    recovery_t *r = arg;
    r->timer = -1;
    sdm_cancel_callbacks(r->o->sdm, r);
    fail_step(r, "timeout", NULL, "%s %s: no result within the recovery timeout",
              rstep_names[r->steps[r->at]], r->unit);
    next_step(r);
    return 0;
}

static void arm(recovery_t *r, int64_t ms)
{
    r->timer = zloop_timer(r->o->loop, (size_t) ms, 1, on_timeout, r);
}

static void do_clear(recovery_t *r)
{
    orch_t *o = r->o;
    char *service = sdm_unit_short(r->unit);
    fsc_stats_t st = {0};
    int rc = service ? fsc_clear_beneath(o->cfg->state_root, service, &st) : -ENOMEM;
    uint64_t in_dir = st.removed;
    if (rc < 0) {
        /* The first note says it best ("... is a symbolic link: not following it"). */
        char *why = st.log.data ? strndup(st.log.data, strcspn(st.log.data, "\n")) : NULL;
        fail_step(r, "reset-failed", NULL, "clear %s/%s: %s", o->cfg->state_root,
                  service ? service : "?", why && *why ? why : strerror(-rc));
        free(why);
    }
    else
        log_step(r, "clear %s/%s: %llu entr%s removed", o->cfg->state_root, service,
                 (unsigned long long) in_dir, in_dir == 1 ? "y" : "ies");
    for (char **p = o->cfg->stale_files; p && *p; p++) {
        char *path = orch_expand(*p, r->unit, o->cfg->state_root);
        if (!path)
            continue;
        int e = fsc_remove_stale(path, r->unit, &st);
        if (e < 0 && e != -EBUSY)
            fail_step(r, "reset-failed", NULL, "stale file %s: %s", path, strerror(-e));
        free(path);
    }
    if (st.removed > in_dir)
        log_step(r, "stale pid/lock files: %llu removed",
                 (unsigned long long) (st.removed - in_dir));
    if (st.log.data && *st.log.data)
        hlb_info("reset %s:\n%s", r->unit, st.log.data);
    r->removed = st.removed;
    fsc_stats_free(&st);
    free(service);
    next_step(r);
}

static void do_rebuild(recovery_t *r)
{
    orch_t *o = r->o;
    const orch_cmd_t *c = &o->cfg->rebuild;
    size_t n = hlb_strv_len(c->argv);
    char **argv = calloc(n + 1, sizeof *argv);
    int rc = argv ? 0 : -ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!(argv[i] = orch_expand(c->argv[i], r->unit, o->cfg->state_root)))
            rc = -ENOMEM;
    free(r->transient);
    r->transient = orch_transient_name(o, "rebuild");
    char *desc = NULL;
    if (asprintf(&desc, "hl-orchestrator: rebuild %s", r->unit) < 0)
        desc = NULL;
    if (rc == 0 && r->transient)
        rc = sdm_run(o->sdm, r->transient, desc ? desc : "rebuild", argv,
                     (uint64_t) o->cfg->rebuild_timeout_ms * 1000ULL, on_job, r);
    free(desc);
    if (rc == 0) {
        log_step(r, "rebuild: running `%s` as %s", c->text, r->transient);
        arm(r, o->cfg->rebuild_timeout_ms + 10000);
    } else {
        fail_step(r, "rebuild-failed", NULL, "rebuild: cannot run `%s`: %s", c->text, strerror(-rc));
    }
    hlb_strv_free(argv);
    if (rc != 0)
        next_step(r);
}

static void step_run(recovery_t *r)
{
    orch_t *o = r->o;
    static const char *const methods[] = {
        [RS_RESTART] = "RestartUnit", [RS_STOP] = "StopUnit", [RS_START] = "StartUnit"};
    rstep_t st = r->steps[r->at];
    switch (st) {
    case RS_END:
        finish(r);
        return;
    case RS_CLEAR:
        do_clear(r);
        return;
    case RS_REBUILD:
        do_rebuild(r);
        return;
    default:
        break;
    }
    int rc = st == RS_RESET_FAILED ? sdm_manager_call(o->sdm, "ResetFailedUnit", r->unit, on_job, r)
             : st == RS_RELOAD     ? sdm_manager_call(o->sdm, "Reload", r->unit, on_job, r)
                                   : sdm_job(o->sdm, methods[st], r->unit, "replace", on_job, r);
    if (rc < 0) {
        fail_step(r, "bus-error", NULL, "%s %s: %s", rstep_names[st], r->unit,
                  rc == -ENOTCONN ? "not connected to systemd" : strerror(-rc));
        next_step(r);
        return;
    }
    arm(r, o->cfg->recovery_timeout_ms);
}

void recovery_start(orch_t *o, const char *unit, const char *type, const char *reason,
                    hlb_request_t *req, hlb_reply_t *reply)
{
    size_t plan = sizeof plans / sizeof plans[0];
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++)
        if (!strcmp(plans[i].type, type))
            plan = i;
    const char *refusal = NULL;
    int code = 0;
    if (plan == sizeof plans / sizeof plans[0])
        code = EINVAL, refusal = "type must be restart, reset or rebuild";
    else if (o->lc == LC_SHUTTING_DOWN || o->lc == LC_STOPPED)
        code = ESHUTDOWN, refusal = "the instance is shutting down";
    else if (!o->sdm || !sdm_is_ready(o->sdm))
        code = EAGAIN, refusal = "not connected to systemd (yet)";
    for (recovery_t *x = o->recoveries; x && !refusal; x = x->next)
        if (!strcmp(x->unit, unit))
            code = EBUSY, refusal = "a recovery of this unit is already running";
    if (refusal) {
        if (reply)
            hlb_reply_error(reply, code, "recover %s (%s): %s", unit, type, refusal);
        return;
    }
    recovery_t *r = calloc(1, sizeof *r);
    if (!r) {
        if (reply)
            hlb_reply_error(reply, ENOMEM, "out of memory");
        return;
    }
    r->o = o;
    r->unit = strdup(unit);
    r->type = strdup(type);
    r->reason = reason ? strdup(reason) : NULL;
    /* A configured rebuild command wins over the built-in rebuild. */
    r->steps = !strcmp(type, "rebuild") && !o->cfg->rebuild.argv ? builtin_rebuild.steps
                                                                  : plans[plan].steps;
    r->timer = -1;
    r->started_us = hlb_now_us();
    if (req) {
        r->uid = (uint32_t) req->uid;
        r->pid = (uint32_t) req->pid;
        r->def = hlb_request_defer(req, reply);
    }
    if (r->steps == builtin_rebuild.steps)
        log_step(r, "rebuild: built in (no recovery.rebuild_command): stop, clear, reset-failed, "
                    "daemon-reload, start");
    r->next = o->recoveries;
    o->recoveries = r;
    hlb_info("Attempting to recover %s: %s (requested by uid %u%s%s)", unit, type, r->uid,
             reason ? ": " : "", reason ? reason : "");
    publish(r, "running");
    step_run(r);
}

void recovery_cancel_all(orch_t *o, const char *why)
{
    while (o->recoveries) {
        recovery_t *r = o->recoveries;
        o->recoveries = r->next;
        if (r->def) {
            hlb_reply_error(hlb_deferred_reply(r->def), ECANCELED, "%s", why);
            hlb_deferred_send(&r->def);
        }
        recovery_free(r);
    }
}
