/* The graceful shutdown (spec 1.4): pre-shutdown hooks (lifecycle.shutdown,
 * acknowledged by the daemons that keep state), application services, then
 * infrastructure services (the phases in reverse), cleanup of temporary
 * files and configured commands, a tar.gz archive of state, logs and config
 * with retention, and the final instance state. The steps are a table; each
 * ends with step_done(), which records it and runs the next.
 *
 * tar runs as a transient systemd unit rather than a child of ours: systemd
 * forks and execs it (no shell), it runs outside our sandbox and our loop,
 * with its own timeout and its output in the journal, and we learn its exit
 * status from its job, like any other unit. */
#include "orch.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <hlbus/str.h>
#include <hlbus/strv.h>
#include "bk_store.h"
#include "fsclean.h"
#include <hlbus/pbfield.h>

typedef void (sd_run_fn)(shutdown_t *s);

static void run_hooks(shutdown_t *s);
static void run_stop_apps(shutdown_t *s);
static void run_stop_infra(shutdown_t *s);
static void run_cleanup(shutdown_t *s);
static void run_archive(shutdown_t *s);
static void run_state(shutdown_t *s);

static const struct {
    const char *name;
    sd_run_fn *run;
} sd_plan[] = {
    {"pre-shutdown", run_hooks},
    {"stop-applications", run_stop_apps},
    {"stop-infrastructure", run_stop_infra},
    {"cleanup", run_cleanup},
    {"archive", run_archive},
    {"instance-state", run_state},
};
#define SD_STEPS (sizeof sd_plan / sizeof sd_plan[0])

typedef struct strv {
    char **v;
    size_t n;
} strv_t;

static void strv_push(strv_t *s, const char *x)
{
    if (hlb_strv_push(&s->v, x) == 0)
        s->n++;
}

static void strv_clear(strv_t *s)
{
    hlb_strv_free(s->v);
    s->v = NULL;
    s->n = 0;
}

struct shutdown {
    orch_t *o;
    orch_cfg_t *cfg;
    uint64_t id;
    char *reason;
    bool running, done;
    size_t at;
    uint64_t step_started_us;
    uint64_t started_us;
    int timer;
    hlb_deferred_t **waiters;
    size_t n_waiters;
    /* pre-shutdown */
    strv_t expect, acked, missing; /* expect: expect_ack less the daemons not running */
    /* stopping: groups of units, one phase each, last phase first */
    int *groups;        /* phase indexes, -1 for the "manage" units */
    size_t n_groups, group_next, group_pending;
    size_t stopped_before, failed_before;
    strv_t stopped, stop_failed;
    /* cleanup */
    size_t cmd_next;
    char *cmd_unit;
    uint64_t removed_temp;
    /* archive */
    char *archive_final, *archive_unit; /* archive_final: the backup's id */
    char **archive_before;              /* the directory's names before the run */
    uint64_t archive_bytes;
    strv_t pruned;
    char *archive_path;
    /* the report */
    Hl__ShutdownStep **steps;
    size_t n_steps;
    const char *outcome;
    Hl__ShutdownReport *final; /* kept for requests after the end */
};

static void step_begin(shutdown_t *s);

/* ---- notices and steps ---- */

static void notice(shutdown_t *s, const char *step, uint64_t deadline_us, char **expect,
                   size_t n_expect)
{
    Hl__ShutdownNotice m = HL__SHUTDOWN_NOTICE__INIT;
    m.id = s->id;
    m.step = (char *) step;
    m.deadline_us = deadline_us;
    m.expect_ack = expect;
    m.n_expect_ack = n_expect;
    m.reason = hlb_pb_str(s->reason);
    m.ts_us = hlb_now_us();
    hlb_pub_send(s->o->pub, "lifecycle.shutdown", &m.base);
}

static void cancel_timer(shutdown_t *s)
{
    if (s->timer >= 0) {
        zloop_timer_end(s->o->loop, s->timer);
        s->timer = -1;
    }
}

static void step_done(shutdown_t *s, const char *outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void step_done(shutdown_t *s, const char *outcome, const char *fmt, ...)
{
    cancel_timer(s);
    hlb_buf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    hlb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    Hl__ShutdownStep *st = calloc(1, sizeof *st);
    Hl__ShutdownStep **v = realloc(s->steps, (s->n_steps + 1) * sizeof *v);
    if (v)
        s->steps = v;
    if (st && v) {
        hl__shutdown_step__init(st);
        st->name = strdup(sd_plan[s->at].name);
        st->outcome = strdup(outcome);
        st->detail = hlb_buf_steal(&b);
        st->started_us = s->step_started_us;
        st->finished_us = hlb_now_us();
        s->steps[s->n_steps++] = st;
        hlb_info("shutdown: %s: %s%s%s", st->name, st->outcome, st->detail && *st->detail ? ": " : "",
                 st->detail ? st->detail : "");
    } else {
        free(st);
    }
    hlb_buf_free(&b);
    if (strcmp(outcome, "ok") && strcmp(outcome, "skipped"))
        s->outcome = "partial";
    s->at++;
    step_begin(s);
}

/* ---- pre-shutdown: lifecycle.shutdown and acknowledgements ---- */

static void hooks_check(shutdown_t *s)
{
    for (size_t i = 0; i < s->expect.n; i++)
        if (!hlb_strv_contains(s->acked.v, s->expect.v[i]))
            return;
    step_done(s, "ok", "%zu acknowledgement%s", s->acked.n, s->acked.n == 1 ? "" : "s");
}

static int on_hooks_timeout(zloop_t *loop, int timer_id, void *arg)
{
    shutdown_t *s = arg;
    s->timer = -1;
    for (size_t i = 0; i < s->expect.n; i++)
        if (!hlb_strv_contains(s->acked.v, s->expect.v[i]))
            strv_push(&s->missing, s->expect.v[i]);
    hlb_buf_t b = {0};
    for (size_t i = 0; i < s->missing.n; i++)
        hlb_buf_printf(&b, "%s%s", i ? ", " : "", s->missing.v[i]);
    hlb_warn("shutdown: no acknowledgement from %s within %lld ms; going on", b.data,
             (long long) s->cfg->ack_timeout_ms);
    step_done(s, "partial", "no acknowledgement from %s", b.data ? b.data : "?");
    hlb_buf_free(&b);
    return 0;
}

/* A daemon of expect_ack is awaited unless systemd says its unit is not
 * running (stopped, failed, or not installed: hl-logs on a VM without it):
 * nobody would answer, and the shutdown would sit out ack_timeout for it. A
 * unit systemd has not told us about is awaited. */
static bool ack_awaited(shutdown_t *s, const char *daemon)
{
    char *unit = hlb_strdupf("%s.service", daemon);
    sdm_unit_t *u = unit && s->o->sdm ? sdm_unit(s->o->sdm, unit) : NULL;
    bool awaited = !u || !u->known || units_is_active(u);
    if (!awaited)
        hlb_info("shutdown: %s is not running (%s): its acknowledgement is not awaited", daemon,
                 strcmp(u->load_state, "loaded") ? u->load_state : u->active_state);
    free(unit);
    return awaited;
}

static void run_hooks(shutdown_t *s)
{
    for (char **e = s->cfg->expect_ack; e && *e; e++)
        if (ack_awaited(s, *e))
            strv_push(&s->expect, *e);
    uint64_t deadline = hlb_now_us() + (uint64_t) s->cfg->ack_timeout_ms * 1000ULL;
    notice(s, "pre-shutdown", deadline, s->expect.v, s->expect.n);
    if (s->expect.n == 0) {
        step_done(s, "ok", "no acknowledgement expected");
        return;
    }
    s->timer = zloop_timer(s->o->loop, (size_t) s->cfg->ack_timeout_ms, 1, on_hooks_timeout, s);
}

void shutdown_ack(orch_t *o, const hlb_event_t *ev)
{
    shutdown_t *s = o->shutdown;
    uint64_t id = 0;
    bool ok = true;
    char *daemon = NULL, *detail = NULL;
    const Hl__ShutdownAck *a = hlb_event_as(ev, &hl__shutdown_ack__descriptor);
    if (!a)
        return; /* not an hl.ShutdownAck (hlb_event_as said why) */
    id = a->id;
    ok = a->ok;
    daemon = a->daemon && *a->daemon ? strdup(a->daemon) : NULL;
    detail = a->detail && *a->detail ? strdup(a->detail) : NULL;
    if (!daemon)
        daemon = strdup(ev->topic + strlen("lifecycle.ack."));
    /* Only an answer to this shutdown's notice counts: the bus replays old
     * acknowledgements from its last-value cache. */
    if (s && s->running && id == s->id && daemon && hlb_name_valid(daemon) &&
        !hlb_strv_contains(s->acked.v, daemon)) {
        strv_push(&s->acked, daemon);
        if (ok)
            hlb_info("shutdown: %s acknowledged%s%s", daemon, detail ? ": " : "", detail ? detail : "");
        else
            hlb_warn("shutdown: %s could not save its state: %s", daemon, detail ? detail : "?");
        if (s->at == 0)
            hooks_check(s);
    }
    free(daemon);
    free(detail);
}

/* ---- stopping units ---- */

static void stop_group_next(shutdown_t *s);

static void on_stop_job(sdm_t *m, sdm_unit_t *u, const char *result, const char *error,
                        void *arg)
{
    shutdown_t *s = arg;
    if (!strcmp(result, "done")) {
        strv_push(&s->stopped, u->name);
    } else {
        hlb_buf_t b = {0};
        hlb_buf_printf(&b, "%s (%s%s%s)", u->name, result, error ? ": " : "", error ? error : "");
        strv_push(&s->stop_failed, b.data);
        hlb_warn("shutdown: stopping %s: %s", u->name, result);
        hlb_buf_free(&b);
    }
    if (s->group_pending > 0 && --s->group_pending == 0)
        stop_group_next(s);
}

static int on_stop_timeout(zloop_t *loop, int timer_id, void *arg)
{
    shutdown_t *s = arg;
    s->timer = -1;
    sdm_cancel_callbacks(s->o->sdm, s);
    strv_push(&s->stop_failed, "(timeout: some units did not stop in time)");
    hlb_warn("shutdown: units still stopping after %lld ms; going on",
             (long long) s->cfg->stop_timeout_ms);
    s->group_pending = 0;
    stop_group_next(s);
    return 0;
}

/* Stops UNIT unless it is already down; returns whether a job was queued. */
static bool stop_one(shutdown_t *s, const char *unit)
{
    sdm_unit_t *u = sdm_unit(s->o->sdm, unit);
    if (!u || !u->known || strcmp(u->load_state, "loaded") != 0)
        return false;
    if ((!strcmp(u->active_state, "inactive") || !strcmp(u->active_state, "failed")) && !u->job_id)
        return false;
    /* A unit that already has a job queued is being stopped by a bigger
     * transaction, such as the system's own shutdown, which orders it after
     * us (we are After= it): merging with "ignore-dependencies" lets it run
     * now, in our order, instead of waiting for our stop job forever. */
    const char *mode = u->job_id ? "ignore-dependencies" : "replace";
    int r = sdm_job(s->o->sdm, "StopUnit", unit, mode, on_stop_job, s);
    if (r < 0) {
        hlb_buf_t b = {0};
        hlb_buf_printf(&b, "%s (%s)", unit, strerror(-r));
        strv_push(&s->stop_failed, b.data);
        hlb_buf_free(&b);
        return false;
    }
    hlb_info("shutdown: stopping %s%s", unit, u->job_id ? " (merged with a queued job)" : "");
    return true;
}

/* The groups, in order: the "manage" units (-1), then the phases from the
 * last to the second: the applications; then the first phase: the
 * infrastructure. Each group's units are stopped together. */
static void stop_group_next(shutdown_t *s)
{
    cancel_timer(s);
    while (s->group_next < s->n_groups) {
        int g = s->groups[s->group_next++];
        size_t queued = 0;
        if (g < 0) {
            for (char **v = s->cfg->manage; v && *v; v++)
                queued += stop_one(s, *v);
        } else {
            const orch_phase_cfg_t *p = &s->cfg->phases[g];
            for (size_t k = p->n_units; k-- > 0;)
                queued += stop_one(s, p->units[k].unit);
        }
        if (queued) {
            s->group_pending = queued;
            s->timer = zloop_timer(s->o->loop, (size_t) s->cfg->stop_timeout_ms, 1,
                                   on_stop_timeout, s);
            return;
        }
    }
    size_t failed = s->stop_failed.n - s->failed_before;
    step_done(s, failed ? "partial" : "ok", "%zu unit%s stopped%s", s->stopped.n - s->stopped_before,
              s->stopped.n - s->stopped_before == 1 ? "" : "s", failed ? ", some did not stop" : "");
}

static void stop_groups(shutdown_t *s, bool infra)
{
    if (!s->groups) {
        step_done(s, "failed", "out of memory");
        return;
    }
    s->n_groups = 0;
    s->group_next = 0;
    s->stopped_before = s->stopped.n;
    s->failed_before = s->stop_failed.n;
    if (infra) {
        if (s->cfg->n_phases > 0)
            s->groups[s->n_groups++] = 0;
    } else {
        s->groups[s->n_groups++] = -1;
        for (size_t i = s->cfg->n_phases; i-- > 1;)
            s->groups[s->n_groups++] = (int) i;
    }
    stop_group_next(s);
}

static void run_stop_apps(shutdown_t *s)
{
    notice(s, "stop-applications", 0, NULL, 0);
    stop_groups(s, false);
}

static void run_stop_infra(shutdown_t *s)
{
    notice(s, "stop-infrastructure", 0, NULL, 0);
    stop_groups(s, true);
}

/* ---- cleanup ---- */

static void cleanup_next(shutdown_t *s);

static void on_cmd_job(sdm_t *m, sdm_unit_t *u, const char *result, const char *error,
                       void *arg)
{
    shutdown_t *s = arg;
    cancel_timer(s);
    const orch_cmd_t *c = &s->cfg->cleanup_cmds[s->cmd_next];
    if (strcmp(result, "done") != 0) {
        hlb_buf_t b = {0};
        hlb_buf_printf(&b, "`%s` %s", c->text, result);
        hlb_warn("shutdown: cleanup command %s", b.data);
        hlb_buf_free(&b);
        s->outcome = "partial";
    }
    s->cmd_next++;
    cleanup_next(s);
}

static int on_cmd_timeout(zloop_t *loop, int timer_id, void *arg)
{
    shutdown_t *s = arg;
    s->timer = -1;
    sdm_cancel_callbacks(s->o->sdm, s);
    hlb_warn("shutdown: cleanup command `%s` timed out", s->cfg->cleanup_cmds[s->cmd_next].text);
    s->outcome = "partial";
    s->cmd_next++;
    cleanup_next(s);
    return 0;
}

static void cleanup_next(shutdown_t *s)
{
    while (s->cmd_next < s->cfg->n_cleanup_cmds) {
        const orch_cmd_t *c = &s->cfg->cleanup_cmds[s->cmd_next];
        free(s->cmd_unit);
        s->cmd_unit = orch_transient_name(s->o, "cleanup");
        int r = s->cmd_unit ? sdm_run(s->o->sdm, s->cmd_unit, "hl-orchestrator shutdown cleanup",
                                      c->argv, (uint64_t) s->cfg->cleanup_timeout_ms * 1000ULL,
                                      on_cmd_job, s)
                            : -ENOMEM;
        if (r == 0) {
            s->timer = zloop_timer(s->o->loop, (size_t) s->cfg->cleanup_timeout_ms + 10000, 1,
                                   on_cmd_timeout, s);
            return;
        }
        hlb_warn("shutdown: cannot run `%s`: %s", c->text, strerror(-r));
        s->outcome = "partial";
        s->cmd_next++;
    }
    step_done(s, "ok", "%llu temporary entr%s removed, %zu command%s run",
              (unsigned long long) s->removed_temp, s->removed_temp == 1 ? "y" : "ies",
              s->cfg->n_cleanup_cmds, s->cfg->n_cleanup_cmds == 1 ? "" : "s");
}

static void run_cleanup(shutdown_t *s)
{
    notice(s, "cleanup", 0, NULL, 0);
    fsc_stats_t st = {0};
    int errors = 0;
    for (char **d = s->cfg->temp_dirs; d && *d; d++)
        if (fsc_remove_matching(*d, s->cfg->temp_pattern, &st) < 0)
            errors++;
    s->removed_temp = st.removed;
    if (st.errors || errors) {
        hlb_warn("shutdown: temporary files not all removed:\n%s", st.log.data ? st.log.data : "");
        s->outcome = "partial";
    }
    fsc_stats_free(&st);
    s->cmd_next = 0;
    cleanup_next(s);
}

/* ---- archive ---- */

/* The archive is written by hl-backup, the program of the periodic backups
 * (docs/backup.md): the same scan, tar invocation, manifest, verification
 * by a restore, commit by rename and retention. It runs as a transient unit
 * of its own (as tar did before), given this config's archive settings on
 * its command line: a full backup named hl-state-<time>, kept by its own
 * count and age (hl-backup's periodic ones have theirs). */

/* The names in DIR (the archives, and the leftovers of interrupted runs),
 * to tell afterwards what the run pruned. */
static char **dir_names(const char *dir)
{
    char **v = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        bool archive = l > 7 && !strcmp(de->d_name + l - 7, ".tar.gz");
        bool part = l > 5 && !strcmp(de->d_name + l - 5, ".part");
        if ((archive || part) && strcmp(de->d_name, "hl-state-latest.tar.gz"))
            hlb_strv_push(&v, de->d_name);
    }
    closedir(d);
    return v;
}

static void archive_end(shutdown_t *s, const char *outcome, const char *detail)
{
    hlb_strv_free(s->archive_before);
    s->archive_before = NULL;
    step_done(s, outcome, "%s", detail);
}

static void on_tar_job(sdm_t *m, sdm_unit_t *u, const char *result, const char *error, void *arg)
{
    shutdown_t *s = arg;
    cancel_timer(s);
    bool ok = !strcmp(result, "done");
    bool exited = !ok && u->exec_code == 1;
    /* hl-backup's status 1: written and verified, some files changed while
     * they were read (the archive and its manifest hold what was read). */
    bool partial = exited && u->exec_status == 1;
    if (!ok && !partial) {
        char *st = units_describe(u);
        hlb_buf_t b = {0};
        const char *why = !exited ? "" : u->exec_status == 2 ? " (the archive did not verify: kept as bad, not latest)"
                                       : u->exec_status == 75 ? " (another backup holds the lock)"
                                                              : "";
        hlb_buf_printf(&b, "hl-backup (%s) %s%s: %s", u->name, result, why, st ? st : "");
        hlb_err("shutdown: %s", b.data);
        archive_end(s, "failed", b.data);
        hlb_buf_free(&b);
        free(st);
        return;
    }
    free(s->archive_path);
    s->archive_path = hlb_strdupf("%s/%s.tar.gz", s->cfg->archive_dir, s->archive_final);
    struct stat sb;
    if (!s->archive_path || lstat(s->archive_path, &sb) < 0) {
        archive_end(s, "failed", "hl-backup ended, but its archive is not there");
        return;
    }
    s->archive_bytes = (uint64_t) sb.st_size;
    char **after = dir_names(s->cfg->archive_dir);
    for (char **p = s->archive_before; p && *p; p++)
        if (!hlb_strv_contains(after, *p))
            strv_push(&s->pruned, *p);
    hlb_strv_free(after);
    hlb_buf_t b = {0};
    hlb_buf_printf(&b, "%s (%llu bytes, verified)%s, %zu old archive%s pruned", s->archive_path,
                   (unsigned long long) s->archive_bytes,
                   partial ? ", some files changed while read" : "", s->pruned.n,
                   s->pruned.n == 1 ? "" : "s");
    archive_end(s, partial ? "partial" : "ok", b.data ? b.data : "");
    hlb_buf_free(&b);
}

static int on_tar_timeout(zloop_t *loop, int timer_id, void *arg)
{
    shutdown_t *s = arg;
    s->timer = -1;
    sdm_cancel_callbacks(s->o->sdm, s);
    archive_end(s, "failed", "hl-backup did not finish in time");
    return 0;
}

/* hl-backup's command line for this config's archive, writing ID. */
static char **backup_argv(const orch_cfg_t *c, const char *id)
{
    char **v = NULL;
    int r = 0;
    r |= hlb_strv_push(&v, c->backup);
    /* Everything comes from here: hl-backup's own section (its periodic
     * backups) does not change the shutdown archive, nor can an error in
     * it stop one. */
    r |= hlb_strv_push(&v, "--config=/dev/null");
    char *opt = hlb_strdupf("--dir=%s", c->archive_dir);
    r |= opt ? hlb_strv_push(&v, opt) : -1;
    free(opt);
    size_t paths = 0;
    for (char **p = c->archive_paths; p && *p; p++) {
        struct stat sb;
        if (lstat(*p, &sb) < 0)
            continue;
        opt = hlb_strdupf("--path=%s", *p);
        r |= opt ? hlb_strv_push(&v, opt) : -1;
        free(opt);
        paths++;
    }
    for (char **p = c->archive_exclude; p && *p; p++) {
        opt = hlb_strdupf("--exclude=%s", *p);
        r |= opt ? hlb_strv_push(&v, opt) : -1;
        free(opt);
    }
    opt = hlb_strdupf("--keep=%lld", (long long) c->archive_keep);
    r |= opt ? hlb_strv_push(&v, opt) : -1;
    free(opt);
    opt = hlb_strdupf("--max-age=%lldms", (long long) c->archive_max_age_ms);
    r |= opt ? hlb_strv_push(&v, opt) : -1;
    free(opt);
    opt = hlb_strdupf("--tar=%s", c->tar);
    r |= opt ? hlb_strv_push(&v, opt) : -1;
    free(opt);
    opt = hlb_strdupf("--name=%s", id);
    r |= opt ? hlb_strv_push(&v, opt) : -1;
    free(opt);
    /* a periodic backup in progress finishes first (half the step's time) */
    opt = hlb_strdupf("--wait=%lldms", (long long) c->archive_timeout_ms / 2);
    r |= opt ? hlb_strv_push(&v, opt) : -1;
    free(opt);
    r |= hlb_strv_push(&v, "--full");
    r |= hlb_strv_push(&v, "--reason=shutdown");
    r |= hlb_strv_push(&v, "create");
    if (r < 0 || !paths) {
        hlb_strv_free(v);
        return NULL;
    }
    return v;
}

static void run_archive(shutdown_t *s)
{
    notice(s, "archive", 0, NULL, 0);
    if (!s->cfg->archive) {
        step_done(s, "skipped", "archive.enabled is false");
        return;
    }
    int r = hlb_mkdir_p(s->cfg->archive_dir, 0750);
    if (r < 0) {
        step_done(s, "failed", "cannot create %s: %s", s->cfg->archive_dir, strerror(-r));
        return;
    }
    free(s->archive_final);
    /* hl-backup's naming: hl-state-<UTC time>, the next second's if taken */
    s->archive_final = bk_store_new_id(s->cfg->archive_dir, BK_PREFIX_STATE, hlb_now_us());
    if (!s->archive_final) {
        step_done(s, "failed", "out of memory");
        return;
    }
    char **argv = backup_argv(s->cfg, s->archive_final);
    if (!argv) {
        step_done(s, "skipped", "none of the archive paths exists");
        return;
    }
    hlb_strv_free(s->archive_before);
    s->archive_before = dir_names(s->cfg->archive_dir);
    free(s->archive_unit);
    s->archive_unit = orch_transient_name(s->o, "archive");
    r = s->archive_unit ? sdm_run(s->o->sdm, s->archive_unit, "hl-orchestrator state archive (hl-backup)",
                                  argv, (uint64_t) s->cfg->archive_timeout_ms * 1000ULL, on_tar_job, s)
                        : -ENOMEM;
    hlb_strv_free(argv);
    if (r < 0) {
        step_done(s, "failed", "cannot run hl-backup: %s", strerror(-r));
        return;
    }
    s->timer = zloop_timer(s->o->loop, (size_t) s->cfg->archive_timeout_ms + 10000, 1,
                           on_tar_timeout, s);
}

/* ---- instance state ---- */

static int write_instance_state(shutdown_t *s, const char *state)
{
    Hl__InstanceState m = HL__INSTANCE_STATE__INIT;
    m.state = (char *) state;
    m.ts_us = hlb_now_us();
    m.shutdown_id = s->id;
    m.outcome = (char *) (s->done || !strcmp(state, "stopped") ? s->outcome : "");
    m.archive = hlb_pb_str(s->archive_path);
    m.reason = hlb_pb_str(s->reason);
    hlb_pub_send(s->o->pub, "lifecycle.instance", &m.base);

    const char *path = s->cfg->instance_state;
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        hlb_mkdir_p(dir, 0755);
    }
    free(dir);
    hlb_buf_t b = {0};
    hlb_json_proto(&b, &m.base);
    hlb_buf_puts(&b, "\n");
    char *tmp = NULL;
    int r = 0;
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return -ENOMEM;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    errno = 0;
    if (fd < 0 || write(fd, b.data, b.len) != (ssize_t) b.len || fsync(fd) < 0)
        r = errno ? -errno : -EIO;
    if (fd >= 0)
        close(fd);
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        hlb_warn("cannot write %s: %s", path, strerror(-r));
    }
    free(tmp);
    hlb_buf_free(&b);
    return r;
}

static void finish(shutdown_t *s);

static void run_state(shutdown_t *s)
{
    int r = write_instance_state(s, "stopped");
    if (r < 0)
        step_done(s, "failed", "%s: %s", s->cfg->instance_state, strerror(-r));
    else
        step_done(s, "ok", "%s", s->cfg->instance_state);
}

/* ---- the report ---- */

static void report_fill(shutdown_t *s, Hl__ShutdownReport *m)
{
    hl__shutdown_report__init(m);
    m->id = s->id;
    m->outcome = (char *) s->outcome;
    m->steps = s->steps;
    m->n_steps = s->n_steps;
    m->acked = s->acked.v;
    m->n_acked = s->acked.n;
    m->missing_acks = s->missing.v;
    m->n_missing_acks = s->missing.n;
    m->stopped = s->stopped.v;
    m->n_stopped = s->stopped.n;
    m->stop_failed = s->stop_failed.v;
    m->n_stop_failed = s->stop_failed.n;
    m->removed_temp = s->removed_temp;
    m->archive = hlb_pb_str(s->archive_path);
    m->archive_bytes = s->archive_bytes;
    m->pruned = s->pruned.v;
    m->n_pruned = s->pruned.n;
    m->started_us = s->started_us;
    m->finished_us = s->done ? hlb_now_us() : 0;
    m->reason = hlb_pb_str(s->reason);
}

static void answer(hlb_deferred_t **def, const Hl__ShutdownReport *r)
{
    hlb_reply_msg(hlb_deferred_reply(*def), &r->base);
    hlb_deferred_send(def);
}

static void finish(shutdown_t *s)
{
    s->done = true;
    s->running = false;
    notice(s, "done", 0, NULL, 0);
    Hl__ShutdownReport m;
    report_fill(s, &m);
    s->final = (Hl__ShutdownReport *) orch_proto_copy(&m.base);
    orch_set_lifecycle(s->o, LC_STOPPED, "stopped: shutdown %s in %.1f s%s%s", s->outcome,
                       (double) (hlb_now_us() - s->started_us) / 1e6,
                       s->archive_path ? ", archive " : "", s->archive_path ? s->archive_path : "");
    for (size_t i = 0; i < s->n_waiters; i++)
        answer(&s->waiters[i], s->final ? s->final : &m);
    s->n_waiters = 0;
    /* Done: the daemon exits, so that a crash can never bring the services
     * back behind the person who shut them down; `systemctl start
     * hl-orchestrator` does, on purpose. A startup cut short by the shutdown
     * never sent READY=1: exit status 3 fails that start without a restart. */
    if (!s->o->ready)
        hlb_warn("the startup was interrupted by the shutdown");
    hlb_daemon_quit(s->o->d, s->o->ready ? 0 : 3);
}

static void step_begin(shutdown_t *s)
{
    if (s->at >= SD_STEPS) {
        finish(s);
        return;
    }
    s->step_started_us = hlb_now_us();
    sd_plan[s->at].run(s);
}

/* ---- life ---- */

shutdown_t *shutdown_new(orch_t *o)
{
    shutdown_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->o = o;
    s->timer = -1;
    s->outcome = "ok";
    return s;
}

static void add_waiter(shutdown_t *s, hlb_deferred_t *def)
{
    hlb_deferred_t **v = realloc(s->waiters, (s->n_waiters + 1) * sizeof *v);
    if (!v) {
        hlb_reply_error(hlb_deferred_reply(def), ENOMEM, "out of memory");
        hlb_deferred_send(&def);
        return;
    }
    s->waiters = v;
    s->waiters[s->n_waiters++] = def;
}

void shutdown_request(orch_t *o, const char *reason, hlb_deferred_t *def)
{
    if (!o->shutdown)
        o->shutdown = shutdown_new(o);
    shutdown_t *s = o->shutdown;
    if (!s) {
        if (def) {
            hlb_reply_error(hlb_deferred_reply(def), ENOMEM, "out of memory");
            hlb_deferred_send(&def);
        }
        return;
    }
    if (s->done) {
        if (def)
            answer(&def, s->final);
        return;
    }
    if (def)
        add_waiter(s, def);
    if (s->running) {
        hlb_info("shutdown requested again (%s): joining the running one", reason);
        return;
    }
    s->running = true;
    s->cfg = orch_cfg_ref(o->cfg);
    s->groups = calloc(s->cfg->n_phases + 1, sizeof *s->groups);
    s->started_us = hlb_now_us();
    s->id = s->started_us;
    s->reason = strdup(reason ? reason : "");
    hlb_info("graceful shutdown begins: %s", reason);
    if (o->startup && !startup_finished(o->startup)) {
        hlb_warn("shutdown during the startup: the startup stops here");
        startup_abort(o->startup);
    }
    recovery_cancel_all(o, "the instance is shutting down");
    orch_set_lifecycle(o, LC_SHUTTING_DOWN, "shutting down: %s", s->reason);
    write_instance_state(s, "stopping");
    s->at = 0;
    step_begin(s);
}

void shutdown_poke(shutdown_t *s)
{
    (void) s; /* progress is driven by jobs; nothing to re-evaluate */
}

void shutdown_cancel(shutdown_t *s, const char *why)
{
    cancel_timer(s);
    if (s->o->sdm)
        sdm_cancel_callbacks(s->o->sdm, s);
    for (size_t i = 0; i < s->n_waiters; i++) {
        hlb_reply_error(hlb_deferred_reply(s->waiters[i]), ECANCELED, "%s", why);
        hlb_deferred_send(&s->waiters[i]);
    }
    s->n_waiters = 0;
}

void shutdown_destroy(shutdown_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    shutdown_t *s = *self_p;
    shutdown_cancel(s, "hl-orchestrator is stopping");
    free(s->waiters);
    free(s->groups);
    free(s->reason);
    strv_clear(&s->expect);
    strv_clear(&s->acked);
    strv_clear(&s->missing);
    strv_clear(&s->stopped);
    strv_clear(&s->stop_failed);
    strv_clear(&s->pruned);
    free(s->cmd_unit);
    hlb_strv_free(s->archive_before);
    free(s->archive_final);
    free(s->archive_unit);
    free(s->archive_path);
    for (size_t i = 0; i < s->n_steps; i++)
        hl__shutdown_step__free_unpacked(s->steps[i], NULL);
    free(s->steps);
    if (s->final)
        hl__shutdown_report__free_unpacked(s->final, NULL);
    orch_cfg_destroy(&s->cfg);
    free(s);
    *self_p = NULL;
}
