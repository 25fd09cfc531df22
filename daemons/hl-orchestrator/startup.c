/* The phased startup (spec 1.2.2): each phase starts its units, waits until
 * they are up and, where hl-health runs, healthy, runs its checks, and only
 * then does the next phase begin. Units are judged by the state systemd
 * reports, never by our own memory of what we asked for, so an orchestrator
 * restarted halfway picks up where the last one was: what is up stays up,
 * what is starting is waited for, and nothing is started twice.
 *
 * The phase machine is a table (ph_table); step() derives at most one event
 * from the current state of the units and dispatches it. */
#include "orch.h"
#include <errno.h>
#include <string.h>
#include <hlbus/notify.h>
#include <hlbus/pbfield.h>

typedef enum { PH_PENDING, PH_STARTING, PH_HEALTH, PH_CHECKS, PH_DONE, PH_FAILED } ph_state_t;
_Static_assert(PH_PENDING + 1 == HL__PHASE_STATE__PHASE_PENDING &&
                   PH_FAILED + 1 == HL__PHASE_STATE__PHASE_FAILED,
               "ph_state_t follows proto/orchestrator.proto's PhaseState");

typedef enum { EV_ENTER, EV_UNITS_UP, EV_HEALTHY, EV_CHECKS_OK, EV_FAIL, EV_TIMEOUT } ph_event_t;

typedef enum { PU_WAITING, PU_STARTING, PU_UP, PU_FAILED, PU_SKIPPED } pu_state_t;
static const char *const pu_names[] = {"waiting", "starting", "up", "failed", "skipped"};

typedef struct phase phase_t;

typedef struct ph_unit {
    startup_t *s;
    phase_t *p;
    const orch_unit_cfg_t *cfg;
    pu_state_t st;
    bool started;      /* this run issued its start job */
    bool was_up;       /* seen up during this run */
    bool job_pending;
    bool by_dependency;  /* RefuseManualStart=yes: waited for, never started */
    char *job_result;
    char *job_error;
} ph_unit_t;

struct phase {
    startup_t *s;
    const orch_phase_cfg_t *cfg;
    size_t index;
    ph_state_t st;
    uint64_t started_us;
    uint64_t finished_us;
    ph_unit_t *units;
    size_t check_next;
    bool check_running;
    char *check_unit;
    char *check_result;
    char *check_state;     /* how the check's unit ended, for the report */
    bool failing;          /* a failure report is being completed */
    Hl__UnitFailure *failure;
};

struct startup {
    orch_t *o;
    orch_cfg_t *cfg;
    phase_t *phases;
    size_t n;
    size_t cur;
    int phase_timer;
    int total_timer;
    uint64_t began_us;
    uint64_t finished_us;
    bool begun, finished, failed, aborted;
    bool in_eval, eval_again;
};

typedef void (ph_action_fn)(startup_t *s, phase_t *p);

static void act_enter(startup_t *s, phase_t *p);
static void act_health(startup_t *s, phase_t *p);
static void act_checks(startup_t *s, phase_t *p);
static void act_done(startup_t *s, phase_t *p);
static void act_failed(startup_t *s, phase_t *p);
static void act_timeout(startup_t *s, phase_t *p);

static const struct {
    ph_state_t from;
    ph_event_t ev;
    ph_state_t to;
    ph_action_fn *act;
} ph_table[] = {
    {PH_PENDING, EV_ENTER, PH_STARTING, act_enter},
    {PH_STARTING, EV_UNITS_UP, PH_HEALTH, act_health},
    {PH_STARTING, EV_FAIL, PH_FAILED, act_failed},
    {PH_STARTING, EV_TIMEOUT, PH_FAILED, act_timeout},
    {PH_HEALTH, EV_HEALTHY, PH_CHECKS, act_checks},
    {PH_HEALTH, EV_FAIL, PH_FAILED, act_failed},
    {PH_HEALTH, EV_TIMEOUT, PH_FAILED, act_timeout},
    {PH_CHECKS, EV_CHECKS_OK, PH_DONE, act_done},
    {PH_CHECKS, EV_FAIL, PH_FAILED, act_failed},
    {PH_CHECKS, EV_TIMEOUT, PH_FAILED, act_timeout},
};

static void publish_phase(startup_t *s, phase_t *p);
static bool dispatch(startup_t *s, phase_t *p, ph_event_t ev);

/* ---- unit judgement ---- */

static sdm_unit_t *unit_of(startup_t *s, const ph_unit_t *pu)
{
    return s->o->sdm ? sdm_unit(s->o->sdm, pu->cfg->unit) : NULL;
}

static bool job_failed(const ph_unit_t *pu)
{
    return pu->job_result && strcmp(pu->job_result, "done") && strcmp(pu->job_result, "lost");
}

/* What the unit's state means for the phase; *WHY names a failure. */
static pu_state_t judge(startup_t *s, ph_unit_t *pu, const char **why)
{
    sdm_unit_t *u = unit_of(s, pu);
    *why = NULL;
    if (!u || !u->known)
        return pu->st == PU_SKIPPED ? PU_SKIPPED : PU_WAITING;
    if (!strcmp(u->load_state, "not-found") || !strcmp(u->load_state, "masked")) {
        if (pu->cfg->optional)
            return PU_SKIPPED;
        *why = !strcmp(u->load_state, "masked") ? "masked" : "not-found";
        return PU_FAILED;
    }
    if (strcmp(u->load_state, "loaded") != 0) {
        *why = "unit-failed"; /* bad-setting, error: the unit file is broken */
        return PU_FAILED;
    }
    if (pu->job_pending)
        return PU_STARTING;
    if (job_failed(pu)) {
        *why = "job-failed";
        return PU_FAILED;
    }
    const char *as = u->active_state;
    if (units_is_active(u))
        return PU_UP;
    if (!strcmp(as, "activating")) {
        /* EX_CONFIG will not fix itself by restarting: say so now rather
         * than after the timeout. */
        if (!strcmp(u->sub_state, "auto-restart") && u->exec_code == 1 && u->exec_status == 78) {
            *why = "config-error";
            return PU_FAILED;
        }
        return PU_STARTING;
    }
    bool ours_done = pu->started && pu->job_result && !strcmp(pu->job_result, "done");
    if (!strcmp(as, "failed")) {
        if (pu->started || pu->was_up) {
            *why = "unit-failed";
            return PU_FAILED;
        }
        return PU_WAITING; /* failed before this run: start it again */
    }
    /* inactive or deactivating */
    if (ours_done && (!*u->result || !strcmp(u->result, "success")))
        return PU_UP; /* a oneshot that ran, or a unit whose condition was not met */
    if (pu->was_up || ours_done) {
        *why = "stopped";
        return PU_FAILED;
    }
    return u->job_id ? PU_STARTING : PU_WAITING;
}

static void on_start_job(sdm_t *m, sdm_unit_t *u, const char *result, const char *error, void *arg)
{
    ph_unit_t *pu = arg;
    pu->job_pending = false;
    /* A unit that refuses manual starts (network.target, for one) comes up
     * through its dependencies: wait for it instead. */
    if (!strcmp(result, "bus-error") && error &&
        strstr(error, "[org.freedesktop.systemd1.OnlyByDependency]")) {
        hlb_info("%s may only be started by dependency: waiting for it", u->name);
        pu->by_dependency = true;
        pu->started = false;
        startup_poke(pu->s);
        return;
    }
    free(pu->job_result);
    free(pu->job_error);
    pu->job_result = strdup(result);
    pu->job_error = error ? strdup(error) : NULL;
    if (strcmp(result, "done") != 0)
        hlb_warn("start job of %s ended: %s%s%s", u->name, result, error ? ": " : "",
                 error ? error : "");
    if (!strcmp(result, "lost"))
        pu->started = false; /* judged by its state again; restarted if need be */
    startup_poke(pu->s);
}

static void start_unit(startup_t *s, ph_unit_t *pu)
{
    int r = sdm_job(s->o->sdm, "StartUnit", pu->cfg->unit, s->cfg->job_mode, on_start_job, pu);
    if (r < 0) {
        if (r != -ENOTCONN)
            hlb_warn("cannot start %s: %s", pu->cfg->unit, strerror(-r));
        return; /* not connected: retried when systemd is back */
    }
    hlb_info("phase %s: starting %s", pu->p->cfg->name, pu->cfg->unit);
    pu->started = true;
    pu->job_pending = true;
    free(pu->job_result);
    pu->job_result = NULL;
}

/* ---- failure reports ---- */

static void set_failure(startup_t *s, phase_t *p, const char *unit, const char *reason,
                        const char *summary, const char *job_result)
{
    if (p->failure)
        hl__unit_failure__free_unpacked(p->failure, NULL);
    p->failure = units_failure(s->o, unit, reason, summary, job_result, p->cfg->name);
}

static void on_fail_report(Hl__UnitFailure *f, void *arg)
{
    phase_t *p = arg;
    if (p->failure)
        hl__unit_failure__free_unpacked(p->failure, NULL);
    p->failure = f;
    p->failing = false;
    dispatch(p->s, p, EV_FAIL);
}

/* The failure is certain; its report waits (briefly) for the journal to
 * hold the unit's last words, then the phase fails. */
static bool begin_fail(startup_t *s, phase_t *p, const char *unit, const char *reason,
                       const char *summary, const char *job_result)
{
    p->failing = true;
    hlb_debug("phase %s fails: %s", p->cfg->name, summary);
    units_failure_async(s->o, unit, reason, summary, job_result, p->cfg->name, on_fail_report, p);
    return false;
}

static bool fail_unit(startup_t *s, phase_t *p, ph_unit_t *pu, const char *why)
{
    sdm_unit_t *u = unit_of(s, pu);
    char *state = u ? units_describe(u) : strdup("unknown");
    hlb_buf_t b = {0};
    if (!strcmp(why, "not-found"))
        hlb_buf_printf(&b, "%s is not installed (LoadState=not-found)", pu->cfg->unit);
    else if (!strcmp(why, "masked"))
        hlb_buf_printf(&b, "%s is masked", pu->cfg->unit);
    else if (!strcmp(why, "job-failed"))
        hlb_buf_printf(&b, "%s failed to start: the start job ended '%s'%s%s; %s", pu->cfg->unit,
                       pu->job_result, pu->job_error ? " (" : "", pu->job_error ? pu->job_error : "",
                       state);
    else if (!strcmp(why, "config-error"))
        hlb_buf_printf(&b, "%s exits with a configuration error (status 78, EX_CONFIG); %s",
                       pu->cfg->unit, state);
    else if (!strcmp(why, "stopped"))
        hlb_buf_printf(&b, "%s stopped during the startup: %s", pu->cfg->unit, state);
    else
        hlb_buf_printf(&b, "%s failed: %s", pu->cfg->unit, state ? state : "");
    free(state);
    begin_fail(s, p, pu->cfg->unit, why, b.data ? b.data : "", pu->job_result);
    hlb_buf_free(&b);
    return false;
}

/* An optional unit that fails is reported and left behind: only required
 * units stop the startup (an optional docker that will not start must not
 * keep hl-daemon and Claude Code down). The warning goes on the bus as a
 * log event; hl-health reports the unit's health and hl-metrics alerts on
 * it. Returns the state the phase goes on with. */
static pu_state_t optional_failed(startup_t *s, ph_unit_t *pu, const char *why)
{
    if (pu->st != PU_SKIPPED) {
        sdm_unit_t *u = unit_of(s, pu);
        char *state = u ? units_describe(u) : NULL;
        hlb_warn("phase %s: optional unit %s failed (%s): %s; the startup goes on without it",
                 pu->p->cfg->name, pu->cfg->unit, why ? why : "failed", state ? state : "");
        free(state);
    }
    return PU_SKIPPED;
}

/* ---- evaluation ---- */

static void cancel_timer(startup_t *s, int *t)
{
    if (*t >= 0) {
        zloop_timer_end(s->o->loop, *t);
        *t = -1;
    }
}

/* Gated units of phases up to and including P that are not healthy. */
static ph_unit_t *first_unhealthy(startup_t *s, phase_t *p)
{
    if (!health_gating(s->o))
        return NULL;
    for (size_t i = 0; i <= p->index; i++)
        for (size_t k = 0; k < s->phases[i].cfg->n_units; k++) {
            ph_unit_t *pu = &s->phases[i].units[k];
            if (!pu->cfg->health || pu->st == PU_SKIPPED)
                continue;
            sdm_unit_t *u = unit_of(s, pu);
            uint64_t since = u ? u->active_enter_us : 0;
            if (!health_ok(s->o, pu->cfg->health, since))
                return pu;
        }
    return NULL;
}

static bool dispatch(startup_t *s, phase_t *p, ph_event_t ev)
{
    for (size_t i = 0; i < sizeof ph_table / sizeof ph_table[0]; i++)
        if (ph_table[i].from == p->st && ph_table[i].ev == ev) {
            p->st = ph_table[i].to;
            ph_table[i].act(s, p);
            publish_phase(s, p);
            return true;
        }
    return false;
}

/* One event from the units' state, or none. */
static bool step(startup_t *s)
{
    if (!s->begun || s->finished || s->aborted || s->cur >= s->n)
        return false;
    phase_t *p = &s->phases[s->cur];
    if (p->failing)
        return false;
    if (p->st == PH_PENDING)
        return dispatch(s, p, EV_ENTER);
    if (!s->o->sdm || !sdm_is_ready(s->o->sdm))
        return false; /* judged again when systemd answers */

    /* Units of earlier phases must stay up. */
    for (size_t i = 0; i < s->cur; i++)
        for (size_t k = 0; k < s->phases[i].cfg->n_units; k++) {
            ph_unit_t *pu = &s->phases[i].units[k];
            const char *why;
            pu_state_t st = judge(s, pu, &why);
            if (st == PU_FAILED && pu->cfg->optional) {
                pu->st = optional_failed(s, pu, why);
                continue;
            }
            if (st == PU_FAILED) {
                pu->st = st;
                return fail_unit(s, p, pu, why);
            }
        }
    bool all_up = true;
    for (size_t k = 0; k < p->cfg->n_units; k++) {
        ph_unit_t *pu = &p->units[k];
        const char *why;
        pu_state_t st = judge(s, pu, &why);
        if (st == PU_WAITING && p->st == PH_STARTING && !pu->job_pending && !pu->by_dependency) {
            start_unit(s, pu);
            st = PU_STARTING;
        }
        if (st == PU_FAILED && pu->cfg->optional)
            st = optional_failed(s, pu, why);
        if (st == PU_UP)
            pu->was_up = true;
        if (st != pu->st)
            hlb_debug("phase %s: %s %s → %s", p->cfg->name, pu->cfg->unit, pu_names[pu->st],
                      pu_names[st]);
        pu->st = st;
        if (st == PU_FAILED)
            return fail_unit(s, p, pu, why);
        if (st != PU_UP && st != PU_SKIPPED)
            all_up = false;
    }
    switch (p->st) {
    case PH_STARTING:
        return all_up ? dispatch(s, p, EV_UNITS_UP) : false;
    case PH_HEALTH:
        if (!all_up) /* one went back to starting (auto-restart): keep waiting */
            return false;
        return first_unhealthy(s, p) ? false : dispatch(s, p, EV_HEALTHY);
    case PH_CHECKS:
        if (p->check_running)
            return false;
        if (p->check_result) {
            if (strcmp(p->check_result, "done") != 0) {
                const orch_cmd_t *c = &p->cfg->checks[p->check_next];
                hlb_buf_t b = {0};
                hlb_buf_printf(&b, "check `%s` did not pass: %s", c->text,
                               p->check_state ? p->check_state : p->check_result);
                begin_fail(s, p, p->check_unit, "check-failed", b.data, p->check_result);
                hlb_buf_free(&b);
                return false;
            }
            free(p->check_result);
            p->check_result = NULL;
            p->check_next++;
        }
        if (p->check_next >= p->cfg->n_checks)
            return dispatch(s, p, EV_CHECKS_OK);
        act_checks(s, p);
        return !p->check_running; /* it could not be run: judged next step */
    default:
        return false;
    }
}

void startup_poke(startup_t *s)
{
    if (!s)
        return;
    if (s->in_eval) {
        s->eval_again = true;
        return;
    }
    s->in_eval = true;
    do {
        s->eval_again = false;
        while (step(s))
            ;
    } while (s->eval_again);
    s->in_eval = false;
}

/* ---- actions ---- */

static int on_phase_timer(zloop_t *loop, int timer_id, void *arg)
{
    startup_t *s = arg;
    s->phase_timer = -1;
    if (s->finished || s->aborted || s->cur >= s->n || s->phases[s->cur].failing)
        return 0;
    dispatch(s, &s->phases[s->cur], EV_TIMEOUT);
    startup_poke(s);
    return 0;
}

static int on_total_timer(zloop_t *loop, int timer_id, void *arg)
{
    startup_t *s = arg;
    s->total_timer = -1;
    if (s->finished || s->aborted || s->cur >= s->n || s->phases[s->cur].failing)
        return 0;
    hlb_err("the startup did not finish within %lld ms", (long long) s->cfg->startup_timeout_ms);
    dispatch(s, &s->phases[s->cur], EV_TIMEOUT);
    startup_poke(s);
    return 0;
}

static void act_enter(startup_t *s, phase_t *p)
{
    p->started_us = hlb_now_us();
    s->o->lc_phase = (uint32_t) p->index + 1;
    s->o->lc_phase_name = p->cfg->name;
    cancel_timer(s, &s->phase_timer);
    s->phase_timer = zloop_timer(s->o->loop, (size_t) p->cfg->timeout_ms, 1, on_phase_timer, s);
    /* TimeoutStartSec= of our unit covers the default 300 s; a longer
     * configured phase extends it rather than being killed by it. */
    hlb_notifyf("EXTEND_TIMEOUT_USEC=%llu", (unsigned long long) (p->cfg->timeout_ms + 30000) * 1000ULL);
    orch_set_lifecycle(s->o, LC_STARTING, "phase %zu/%zu (%s): starting %zu unit%s", p->index + 1,
                       s->n, p->cfg->name, p->cfg->n_units, p->cfg->n_units == 1 ? "" : "s");
    hlb_info("phase %zu/%zu (%s) begins", p->index + 1, s->n, p->cfg->name);
}

static void act_health(startup_t *s, phase_t *p)
{
    ph_unit_t *pu = first_unhealthy(s, p);
    if (pu)
        orch_set_lifecycle(s->o, LC_STARTING, "phase %zu/%zu (%s): waiting for health.%s",
                           p->index + 1, s->n, p->cfg->name, pu->cfg->health);
}

static void on_check_job(sdm_t *m, sdm_unit_t *u, const char *result, const char *error,
                         void *arg)
{
    phase_t *p = arg;
    p->check_running = false;
    free(p->check_result);
    p->check_result = strdup(result ? result : "bus-error");
    free(p->check_state);
    p->check_state = units_describe(u); /* the record goes when this returns */
    startup_poke(p->s);
}

static void act_checks(startup_t *s, phase_t *p)
{
    if (p->check_running || p->check_next >= p->cfg->n_checks)
        return;
    const orch_cmd_t *c = &p->cfg->checks[p->check_next];
    free(p->check_unit);
    p->check_unit = orch_transient_name(s->o, "check");
    char *desc = NULL;
    if (asprintf(&desc, "hl-orchestrator phase %s check: %s", p->cfg->name, c->text) < 0)
        desc = NULL;
    int r = p->check_unit ? sdm_run(s->o->sdm, p->check_unit, desc ? desc : "hl check", c->argv,
                                    (uint64_t) p->cfg->check_timeout_ms * 1000ULL, on_check_job, p)
                          : -ENOMEM;
    free(desc);
    if (r < 0) {
        free(p->check_result);
        p->check_result = strdup("bus-error");
        hlb_warn("cannot run check `%s`: %s", c->text, strerror(-r));
        return;
    }
    p->check_running = true;
    orch_set_lifecycle(s->o, LC_STARTING, "phase %zu/%zu (%s): check `%s`", p->index + 1, s->n,
                       p->cfg->name, c->text);
}

static void act_done(startup_t *s, phase_t *p)
{
    p->finished_us = hlb_now_us();
    cancel_timer(s, &s->phase_timer);
    hlb_info("phase %zu/%zu (%s) done in %.1f s", p->index + 1, s->n, p->cfg->name,
             (double) (p->finished_us - p->started_us) / 1e6);
    if (p->index + 1 < s->n) {
        s->cur++;
        return; /* the next step enters it */
    }
    s->finished = true;
    s->finished_us = p->finished_us;
    cancel_timer(s, &s->total_timer);
    s->o->ready_us = s->finished_us;
    orch_note_boot(s->o);
    if (s->o->boot_us && s->o->boot_us <= s->finished_us)
        orch_set_lifecycle(s->o, LC_READY, "ready: %zu phases in %.2f s, %.2f s after boot", s->n,
                           (double) (s->finished_us - s->began_us) / 1e6,
                           (double) (s->finished_us - s->o->boot_us) / 1e6);
    else
        orch_set_lifecycle(s->o, LC_READY, "ready: %zu phases in %.2f s", s->n,
                           (double) (s->finished_us - s->began_us) / 1e6);
    s->o->ready = true;
    hlb_daemon_ready(s->o->d);
}

static void act_failed(startup_t *s, phase_t *p)
{
    p->finished_us = hlb_now_us();
    cancel_timer(s, &s->phase_timer);
    cancel_timer(s, &s->total_timer);
    s->finished = true;
    s->failed = true;
    s->finished_us = p->finished_us;
    Hl__UnitFailure *f = p->failure;
    orch_set_lifecycle(s->o, LC_FAILED, "failed in phase %zu/%zu (%s): %s", p->index + 1, s->n,
                       p->cfg->name, f && f->summary ? f->summary : "unknown");
    /* No journal lines in the log: it is published on the bus (log.*). */
    hlb_err("startup failed in phase %zu/%zu (%s): %s [%s]; admins: hlctl journal %s",
            p->index + 1, s->n, p->cfg->name, f && f->summary ? f->summary : "unknown",
            f && f->reason ? f->reason : "", f && f->unit ? f->unit : "UNIT");
    /* Exit status 3: the unit's RestartPreventExitStatus=, so systemd records
     * the failure instead of starting the sequence over and over. */
    hlb_daemon_quit(s->o->d, 3);
}

static void act_timeout(startup_t *s, phase_t *p)
{
    /* Blame the first unit that is not where it should be. */
    const char *unit = NULL, *reason = "timeout";
    hlb_buf_t b = {0};
    ph_unit_t *pu = NULL;
    for (size_t k = 0; k < p->cfg->n_units && !unit; k++)
        if (p->units[k].st != PU_UP && p->units[k].st != PU_SKIPPED)
            pu = &p->units[k], unit = pu->cfg->unit;
    if (pu) {
        sdm_unit_t *u = unit_of(s, pu);
        char *st = u ? units_describe(u) : NULL;
        hlb_buf_printf(&b, "%s did not come up within %lld ms: %s", unit,
                       (long long) p->cfg->timeout_ms, st ? st : "no state from systemd");
        free(st);
    } else if ((pu = first_unhealthy(s, p))) {
        unit = pu->cfg->unit;
        reason = "unhealthy";
        const health_t *h = health_get(s->o, pu->cfg->health);
        if (h)
            hlb_buf_printf(&b, "%s: health.%s is %s, not healthy, after %lld ms", unit,
                           pu->cfg->health, h->state, (long long) p->cfg->timeout_ms);
        else
            hlb_buf_printf(&b, "%s: no health.%s report from hl-health within %lld ms", unit,
                           pu->cfg->health, (long long) p->cfg->timeout_ms);
    } else if (p->check_running && p->check_unit) {
        unit = p->check_unit;
        hlb_buf_printf(&b, "check `%s` still running after %lld ms",
                       p->cfg->checks[p->check_next].text, (long long) p->cfg->timeout_ms);
    } else {
        unit = "";
        hlb_buf_printf(&b, "phase %s timed out after %lld ms", p->cfg->name,
                       (long long) p->cfg->timeout_ms);
    }
    set_failure(s, p, unit, reason, b.data, pu ? pu->job_result : NULL);
    hlb_buf_free(&b);
    act_failed(s, p);
}

/* ---- lifecycle.phase ---- */

static void phase_fill(startup_t *s, phase_t *p, Hl__PhaseStatus *m, Hl__PhaseUnit *ub,
                       Hl__PhaseUnit **up, char **checks)
{
    hl__phase_status__init(m);
    m->index = (uint32_t) p->index + 1;
    m->count = (uint32_t) s->n;
    m->name = p->cfg->name;
    m->state = (Hl__PhaseState) (p->st + 1); /* the proto counts from 1 (0: unspecified) */
    m->started_us = p->started_us;
    m->finished_us = p->finished_us;
    m->timeout_ms = (uint64_t) p->cfg->timeout_ms;
    m->ts_us = hlb_now_us();
    bool gating = health_gating(s->o);
    for (size_t k = 0; k < p->cfg->n_units; k++) {
        ph_unit_t *pu = &p->units[k];
        sdm_unit_t *u = unit_of(s, pu);
        hl__phase_unit__init(&ub[k]);
        ub[k].unit = pu->cfg->unit;
        ub[k].state = (char *) pu_names[pu->st];
        ub[k].active_state = hlb_pb_str(u ? u->active_state : "");
        ub[k].sub_state = hlb_pb_str(u ? u->sub_state : "");
        ub[k].optional = pu->cfg->optional;
        ub[k].started = pu->started;
        if (pu->cfg->health) {
            const health_t *h = health_get(s->o, pu->cfg->health);
            ub[k].health = hlb_pb_str(h ? h->state : "unknown");
            if (gating && pu->st == PU_UP && u && health_ok(s->o, pu->cfg->health, u->active_enter_us))
                ub[k].state = hlb_pb_str("healthy");
        } else {
            ub[k].health = hlb_pb_str("");
        }
        up[k] = &ub[k];
    }
    m->n_units = p->cfg->n_units;
    m->units = up;
    for (size_t k = 0; k < p->cfg->n_checks; k++)
        checks[k] = p->cfg->checks[k].text;
    m->n_checks = p->cfg->n_checks;
    m->checks = checks;
    m->failure = p->failure;
}

static void publish_phase(startup_t *s, phase_t *p)
{
    size_t nu = p->cfg->n_units ? p->cfg->n_units : 1;
    size_t nc = p->cfg->n_checks ? p->cfg->n_checks : 1;
    Hl__PhaseUnit *ub = calloc(nu, sizeof *ub);
    Hl__PhaseUnit **up = calloc(nu, sizeof *up);
    char **checks = calloc(nc, sizeof *checks);
    if (ub && up && checks) {
        Hl__PhaseStatus m;
        phase_fill(s, p, &m, ub, up, checks);
        hlb_pub_send(s->o->pub, "lifecycle.phase", &m.base);
    }
    free(ub);
    free(up);
    free(checks);
}

void startup_list(startup_t *s, Hl__PhaseList *out)
{
    hl__phase_list__init(out);
    Hl__LifecycleState *lc = calloc(1, sizeof *lc);
    if (lc) {
        orch_lifecycle_fill(s->o, lc);
        out->lifecycle = lc;
    }
    out->phases = calloc(s->n ? s->n : 1, sizeof *out->phases);
    if (!out->phases)
        return;
    for (size_t i = 0; i < s->n; i++) {
        phase_t *p = &s->phases[i];
        size_t nu = p->cfg->n_units ? p->cfg->n_units : 1;
        size_t nc = p->cfg->n_checks ? p->cfg->n_checks : 1;
        Hl__PhaseStatus *m = calloc(1, sizeof *m);
        Hl__PhaseUnit *ub = calloc(nu, sizeof *ub);
        Hl__PhaseUnit **up = calloc(nu, sizeof *up);
        char **checks = calloc(nc, sizeof *checks);
        if (!m || !ub || !up || !checks) {
            free(m);
            free(ub);
            free(up);
            free(checks);
            break;
        }
        phase_fill(s, p, m, ub, up, checks);
        if (!p->cfg->n_units)
            free(ub); /* startup_list_free finds it through units[0] */
        out->phases[out->n_phases++] = m;
    }
}

void startup_list_free(Hl__PhaseList *out)
{
    for (size_t i = 0; i < out->n_phases; i++) {
        Hl__PhaseStatus *m = out->phases[i];
        free(m->n_units ? m->units[0] : NULL);
        free(m->units);
        free(m->checks);
        free(m);
    }
    free(out->phases);
    free(out->lifecycle);
}

/* ---- life ---- */

startup_t *startup_new(orch_t *o)
{
    startup_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->o = o;
    s->cfg = orch_cfg_ref(o->cfg);
    s->n = s->cfg->n_phases;
    s->phase_timer = -1;
    s->total_timer = -1;
    s->phases = calloc(s->n ? s->n : 1, sizeof *s->phases);
    if (!s->phases) {
        startup_destroy(&s);
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++) {
        phase_t *p = &s->phases[i];
        p->s = s;
        p->cfg = &s->cfg->phases[i];
        p->index = i;
        p->units = calloc(p->cfg->n_units ? p->cfg->n_units : 1, sizeof *p->units);
        if (!p->units) {
            startup_destroy(&s);
            return NULL;
        }
        for (size_t k = 0; k < p->cfg->n_units; k++) {
            p->units[k].s = s;
            p->units[k].p = p;
            p->units[k].cfg = &p->cfg->units[k];
        }
    }
    return s;
}

void startup_begin(startup_t *s)
{
    if (s->begun)
        return;
    s->begun = true;
    s->began_us = hlb_now_us();
    s->o->startup_began_us = s->began_us;
    orch_note_boot(s->o);
    s->total_timer = zloop_timer(s->o->loop, (size_t) s->cfg->startup_timeout_ms, 1,
                                 on_total_timer, s);
    for (size_t i = 0; i < s->n; i++)
        publish_phase(s, &s->phases[i]);
    startup_poke(s);
}

void startup_abort(startup_t *s)
{
    if (!s || s->finished)
        return;
    s->aborted = true;
    cancel_timer(s, &s->phase_timer);
    cancel_timer(s, &s->total_timer);
    if (s->o->sdm)
        for (size_t i = 0; i < s->n; i++) {
            for (size_t k = 0; k < s->phases[i].cfg->n_units; k++)
                sdm_cancel_callbacks(s->o->sdm, &s->phases[i].units[k]);
            sdm_cancel_callbacks(s->o->sdm, &s->phases[i]);
            units_failure_cancel(s->o, &s->phases[i]);
        }
}

bool startup_finished(const startup_t *s)
{
    return !s || s->finished || s->aborted;
}

void startup_destroy(startup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    startup_t *s = *self_p;
    startup_abort(s);
    for (size_t i = 0; s->phases && i < s->n; i++) {
        phase_t *p = &s->phases[i];
        for (size_t k = 0; p->units && k < p->cfg->n_units; k++) {
            free(p->units[k].job_result);
            free(p->units[k].job_error);
        }
        free(p->units);
        free(p->check_unit);
        free(p->check_result);
        free(p->check_state);
        if (p->failure)
            hl__unit_failure__free_unpacked(p->failure, NULL);
    }
    free(s->phases);
    orch_cfg_destroy(&s->cfg);
    free(s);
    *self_p = NULL;
}
