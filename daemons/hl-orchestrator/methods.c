/* The ctl methods. Read-only ones (services, phases) need only access to
 * the socket; the rest change something and are HLB_METHOD_ADMIN: the
 * server lets only root and the admin group through, from the caller's
 * SO_PEERCRED credentials. Long ones answer when done (deferred replies). */
#include "orch.h"
#include "journal.h"
#include <errno.h>
#include <string.h>
#include <hlbus/pbfield.h>

struct pending_job {
    pending_job_t *next;
    orch_t *o;
    hlb_deferred_t *def;
    const char *action;
    char *unit;
    char *result;
    uint64_t started_us;
};

/* KEY of a typed request: hl.UnitRequest, hl.RecoveryRequest or
 * hl.ShutdownRequest (proto/orchestrator.proto), read through their structs. */
static const char *typed_arg(const ProtobufCMessage *m, const char *key)
{
    if (m->descriptor == &hl__unit_request__descriptor) {
        const Hl__UnitRequest *r = (const Hl__UnitRequest *) m;
        return !strcmp(key, "unit") ? r->unit : !strcmp(key, "reason") ? r->reason : NULL;
    }
    if (m->descriptor == &hl__recovery_request__descriptor) {
        const Hl__RecoveryRequest *r = (const Hl__RecoveryRequest *) m;
        return !strcmp(key, "unit")     ? r->unit
               : !strcmp(key, "type")   ? r->type
               : !strcmp(key, "reason") ? r->reason
                                        : NULL;
    }
    if (m->descriptor == &hl__shutdown_request__descriptor)
        return !strcmp(key, "reason") ? ((const Hl__ShutdownRequest *) m)->reason : NULL;
    return NULL;
}

/* A string argument from a msgpack map (hlctl call's KEY=VALUE) or from one
 * of this daemon's request messages. */
static char *arg_str(const hlb_request_t *req, const char *key)
{
    if (req->map)
        return hlb_mpview_str(req->map, key);
    const char *s = req->args ? typed_arg(req->args, key) : NULL;
    return s && *s ? strdup(s) : NULL;
}

/* The unit argument, normalized and checked; NULL after an error reply. */
static char *managed_unit(orch_t *o, hlb_request_t *req, hlb_reply_t *reply)
{
    char *raw = arg_str(req, "unit");
    if (!raw) {
        hlb_reply_error(reply, EINVAL, "unit= is required (e.g. unit=hl-daemon)");
        return NULL;
    }
    char *unit = orch_normalize_unit(raw);
    if (!unit) {
        hlb_reply_error(reply, EINVAL, "'%.64s' is not a unit name", raw);
        free(raw);
        return NULL;
    }
    free(raw);
    if (!orch_cfg_manages(o->cfg, unit)) {
        hlb_reply_error(reply, ENOENT,
                        "%s is not managed by hl-orchestrator (only the units of its phases "
                        "and of 'manage:' are)", unit);
        free(unit);
        return NULL;
    }
    return unit;
}

static void m_services(hlb_request_t *req, hlb_reply_t *reply, void *arg);
static void m_phases(hlb_request_t *req, hlb_reply_t *reply, void *arg);

typedef struct svc_acc {
    orch_t *o;
    Hl__ServiceState *buf;
    Hl__ServiceState **ptrs;
    char **names;
    size_t n, cap;
} svc_acc_t;

static void svc_add(sdm_unit_t *u, void *arg)
{
    svc_acc_t *a = arg;
    if (a->n >= a->cap || !u->known)
        return;
    units_fill(a->o, u, &a->buf[a->n]);
    a->names[a->n] = sdm_unit_short(u->name);
    a->buf[a->n].service = hlb_pb_str(a->names[a->n]);
    a->ptrs[a->n] = &a->buf[a->n];
    a->n++;
}

static void count_one(sdm_unit_t *u, void *arg)
{
    (*(size_t *) arg)++;
}

static void m_services(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    orch_t *o = arg;
    size_t n = 0;
    if (o->sdm)
        sdm_each(o->sdm, count_one, &n);
    svc_acc_t a = {.o = o, .cap = n};
    a.buf = calloc(n ? n : 1, sizeof *a.buf);
    a.ptrs = calloc(n ? n : 1, sizeof *a.ptrs);
    a.names = calloc(n ? n : 1, sizeof *a.names);
    if (!a.buf || !a.ptrs || !a.names) {
        hlb_reply_error(reply, ENOMEM, "out of memory");
    } else {
        if (o->sdm)
            sdm_each(o->sdm, svc_add, &a);
        Hl__ServiceList m = HL__SERVICE_LIST__INIT;
        m.n_services = a.n;
        m.services = a.ptrs;
        hlb_reply_msg(reply, &m.base);
    }
    for (size_t i = 0; i < a.n; i++)
        free(a.names[i]);
    free(a.buf);
    free(a.ptrs);
    free(a.names);
}

static void m_phases(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    orch_t *o = arg;
    Hl__PhaseList m;
    if (o->startup) {
        startup_list(o->startup, &m);
        hlb_reply_msg(reply, &m.base);
        startup_list_free(&m);
    } else {
        Hl__LifecycleState lc;
        orch_lifecycle_fill(o, &lc);
        hl__phase_list__init(&m);
        m.lifecycle = &lc;
        hlb_reply_msg(reply, &m.base);
    }
}

/* ---- start, stop, restart ---- */

static void pending_unlink(orch_t *o, pending_job_t *pj)
{
    for (pending_job_t **pp = &o->jobs; *pp; pp = &(*pp)->next)
        if (*pp == pj) {
            *pp = pj->next;
            return;
        }
}

static void job_reply(pending_job_t *pj, sdm_unit_t *u, const char *result, Hl__UnitFailure *f)
{
    orch_t *o = pj->o;
    hlb_reply_t *reply = hlb_deferred_reply(pj->def);
    Hl__UnitJob j = HL__UNIT_JOB__INIT;
    Hl__ServiceState st;
    char *service = sdm_unit_short(u->name);
    units_fill(o, u, &st);
    st.service = hlb_pb_str(service);
    j.unit = u->name;
    j.action = (char *) pj->action;
    j.job_result = (char *) result;
    j.state = &st;
    j.duration_us = hlb_now_us() - pj->started_us;
    j.failure = f;
    if (f) {
        hlb_warn("%s", f->summary);
        hlb_reply_error(reply, EIO, "%s", f->summary);
    } else {
        hlb_info("%s %s: done in %.1f ms", pj->action, u->name, (double) j.duration_us / 1e3);
    }
    hlb_reply_msg(reply, &j.base);
    hlb_deferred_send(&pj->def);
    if (f)
        hl__unit_failure__free_unpacked(f, NULL);
    free(service);
    free(pj->unit);
    free(pj->result);
    free(pj);
}

static void on_job_report(Hl__UnitFailure *f, void *arg)
{
    pending_job_t *pj = arg;
    pending_unlink(pj->o, pj);
    sdm_unit_t *u = pj->o->sdm ? sdm_unit(pj->o->sdm, pj->unit) : NULL;
    if (!u) { /* cannot happen: watched units are never forgotten */
        hlb_reply_error(hlb_deferred_reply(pj->def), EIO, "%s", f && f->summary ? f->summary : "failed");
        hlb_deferred_send(&pj->def);
        if (f)
            hl__unit_failure__free_unpacked(f, NULL);
        free(pj->unit);
        free(pj->result);
        free(pj);
        return;
    }
    job_reply(pj, u, pj->result, f);
}

static void on_job_done(sdm_t *m, sdm_unit_t *u, const char *result, const char *error,
                        void *arg)
{
    pending_job_t *pj = arg;
    orch_t *o = pj->o;
    bool ok = !strcmp(result, "done");
    /* A start that "succeeded" into a unit that is not up is no success. */
    if (ok && strcmp(pj->action, "stop") != 0 && !units_is_active(u) &&
        strcmp(u->result, "success") != 0)
        ok = false;
    if (ok) {
        pending_unlink(o, pj);
        job_reply(pj, u, result, NULL);
        return;
    }
    /* The report quotes the journal: it is sent once that has caught up. */
    char *state = units_describe(u);
    hlb_buf_t b = {0};
    hlb_buf_printf(&b, "%s %s: job %s%s%s%s; %s", pj->action, u->name, result, error ? " (" : "",
                   error ? error : "", error ? ")" : "", state ? state : "");
    pj->result = strdup(result);
    units_failure_async(o, u->name, strcmp(result, "done") ? "job-failed" : "unit-failed", b.data,
                        result, NULL, on_job_report, pj);
    hlb_buf_free(&b);
    free(state);
}

static void m_job(hlb_request_t *req, hlb_reply_t *reply, orch_t *o, const char *method,
                  const char *action)
{
    char *unit = managed_unit(o, req, reply);
    if (!unit)
        return;
    if (strcmp(action, "stop") != 0 && (o->lc == LC_SHUTTING_DOWN || o->lc == LC_STOPPED)) {
        hlb_reply_error(reply, ESHUTDOWN, "refused: the instance is %s", orch_lc_name(o->lc));
        free(unit);
        return;
    }
    pending_job_t *pj = calloc(1, sizeof *pj);
    if (!pj) {
        hlb_reply_error(reply, ENOMEM, "out of memory");
        free(unit);
        return;
    }
    pj->o = o;
    pj->action = action;
    pj->unit = unit;
    pj->started_us = hlb_now_us();
    int r = o->sdm ? sdm_job(o->sdm, method, unit, "replace", on_job_done, pj) : -ENOTCONN;
    if (r < 0) {
        hlb_reply_error(reply, r == -ENOTCONN ? EAGAIN : -r, "cannot %s %s: %s", action, unit,
                        r == -ENOTCONN ? "not connected to systemd (yet)" : strerror(-r));
        free(unit);
        free(pj);
        return;
    }
    hlb_info("%s %s requested by uid %ld (pid %ld)", action, unit, (long) req->uid, (long) req->pid);
    pj->def = hlb_request_defer(req, reply);
    pj->next = o->jobs;
    o->jobs = pj;
}

static void m_start(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    m_job(req, reply, arg, "StartUnit", "start");
}

static void m_stop(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    m_job(req, reply, arg, "StopUnit", "stop");
}

static void m_restart(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    m_job(req, reply, arg, "RestartUnit", "restart");
}

static void m_reload_unit(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    m_job(req, reply, arg, "ReloadUnit", "reload");
}

void methods_cancel_all(orch_t *o, const char *why)
{
    while (o->jobs) {
        pending_job_t *pj = o->jobs;
        o->jobs = pj->next;
        if (o->sdm)
            sdm_cancel_callbacks(o->sdm, pj);
        units_failure_cancel(o, pj);
        hlb_reply_error(hlb_deferred_reply(pj->def), ECANCELED, "%s", why);
        hlb_deferred_send(&pj->def);
        free(pj->unit);
        free(pj->result);
        free(pj);
    }
}

/* ---- journal ---- */

/* A managed unit's last journal lines, for admins only (HLB_METHOD_ADMIN:
 * root or admin_group by SO_PEERCRED). They used to ride in failure reports
 * on the bus, which every watcher reads; a journal can hold what only root
 * should see (a token in a command line, a crash's environment). Only the
 * units hl-orchestrator manages: it is not a general journal reader. */
static void m_journal(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    orch_t *o = arg;
    char *unit = managed_unit(o, req, reply);
    if (!unit)
        return;
    int64_t n = o->cfg->journal_lines > 0 ? o->cfg->journal_lines : 20;
    if (req->map && hlb_mpview_has(req->map, "lines") &&
        (hlb_mpview_int(req->map, "lines", &n) < 0 || n < 1 || n > 1000)) {
        hlb_reply_error(reply, EINVAL, "lines= is 1..1000");
        free(unit);
        return;
    }
    char **lines = journal_tail(unit, (size_t) n, o->cfg->user_manager);
    if (!lines) {
        hlb_reply_error(reply, EIO, "cannot read the journal of %s", unit);
        free(unit);
        return;
    }
    Hl__JournalExcerpt m = HL__JOURNAL_EXCERPT__INIT;
    m.unit = unit;
    m.n_lines = hlb_strv_len(lines);
    m.lines = lines;
    hlb_reply_msg(reply, &m.base);
    hlb_strv_free(lines);
    free(unit);
}

/* ---- daemon-reload ---- */

/* systemd's daemon-reload through the one daemon that talks to systemd, for
 * `hlctl dev apply` (a changed dev-server.yaml means new generator output):
 * answers once the reload is done and the phases' members are read again,
 * so that a unit the generator added is managed, and can be started, when
 * the reply comes. */
typedef struct pending_reload {
    orch_t *o;
    hlb_deferred_t *def;
} pending_reload_t;

static void on_daemon_reloaded(sdm_t *m, const char *value, const char *error, void *arg)
{
    (void) m;
    (void) value;
    pending_reload_t *pr = arg;
    hlb_deferred_t *def = pr->def;
    orch_t *o = pr->o;
    free(pr);
    hlb_reply_t *reply = hlb_deferred_reply(def);
    if (error) {
        hlb_reply_error(reply, EIO, "daemon-reload failed: %s", error);
    } else {
        hlb_diag_t diag = {0};
        if (orch_reread_members(o, &diag) < 0)
            hlb_reply_error(reply, EINVAL, "reloaded, but the phases cannot be read: %s",
                            diag.text ? diag.text : "error");
        else
            hlb_info("systemd reloaded on request; phase members read again");
        hlb_diag_free(&diag);
    }
    hlb_deferred_send(&def);
}

static void m_daemon_reload(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    orch_t *o = arg;
    if (!o->sdm) {
        hlb_reply_error(reply, EAGAIN, "not connected to systemd (yet)");
        return;
    }
    pending_reload_t *pr = calloc(1, sizeof *pr);
    if (!pr) {
        hlb_reply_error(reply, ENOMEM, "out of memory");
        return;
    }
    pr->o = o;
    pr->def = hlb_request_defer(req, reply);
    int r = sdm_daemon_reload(o->sdm, on_daemon_reloaded, pr);
    if (r < 0) {
        hlb_reply_error(hlb_deferred_reply(pr->def), r == -ENOTCONN ? EAGAIN : -r,
                        "cannot reload systemd: %s",
                        r == -ENOTCONN ? "not connected to systemd (yet)" : strerror(-r));
        hlb_deferred_send(&pr->def);
        free(pr);
        return;
    }
    hlb_info("daemon-reload requested by uid %ld (pid %ld)", (long) req->uid, (long) req->pid);
}

/* ---- recover, shutdown ---- */

static void m_recover(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    orch_t *o = arg;
    char *unit = managed_unit(o, req, reply);
    if (!unit)
        return;
    char *type = arg_str(req, "type");
    char *reason = arg_str(req, "reason");
    recovery_start(o, unit, type ? type : "restart", reason, req, reply);
    free(unit);
    free(type);
    free(reason);
}

static void m_shutdown(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    orch_t *o = arg;
    char *reason = arg_str(req, "reason");
    char *who = NULL;
    if (asprintf(&who, "%s (uid %ld, pid %ld)", reason ? reason : "requested", (long) req->uid,
                 (long) req->pid) < 0)
        who = NULL;
    char *only = arg_str(req, "only_at_system_shutdown");
    hlb_deferred_t *def = hlb_request_defer(req, reply);
    if (only && (!strcmp(only, "1") || !strcmp(only, "true")))
        unitstop_request(o, who ? who : "requested", def);
    else
        shutdown_request(o, who ? who : "requested", def);
    free(only);
    free(who);
    free(reason);
}

const hlb_method_t orch_methods[] = {
    {"services", m_services, 0, "the state of every unit it watches, as service.* reports it"},
    {"phases", m_phases, 0, "the startup phases, their units and the lifecycle state"},
    {"start", m_start, HLB_METHOD_ADMIN, "unit=NAME: start a managed unit; answers when its job ends"},
    {"stop", m_stop, HLB_METHOD_ADMIN, "unit=NAME: stop a managed unit; answers when its job ends"},
    {"restart", m_restart, HLB_METHOD_ADMIN, "unit=NAME: restart a managed unit; answers when done"},
    {"recover", m_recover, HLB_METHOD_ADMIN,
     "unit=NAME type=restart|reset|rebuild [reason=TEXT]: a recovery action (spec 2.2.2)"},
    {"daemon-reload", m_daemon_reload, HLB_METHOD_ADMIN,
     "systemd's daemon-reload (generators run again), then the phases' members read again"},
    {"reload-unit", m_reload_unit, HLB_METHOD_ADMIN,
     "unit=NAME: reload a managed unit (its ExecReload=); answers when its job ends"},
    {"journal", m_journal, HLB_METHOD_ADMIN,
     "unit=NAME [lines=N]: a managed unit's last journal lines (default journal_lines)"},
    {"shutdown", m_shutdown, HLB_METHOD_ADMIN,
     "[reason=TEXT] [only_at_system_shutdown=1]: the graceful shutdown (spec 1.4); answers "
     "with its report when done. With only_at_system_shutdown=1 (the unit's ExecStop=) only "
     "while the system shuts down; otherwise nothing stops (outcome skipped)"},
    {NULL, NULL, 0, NULL},
};
