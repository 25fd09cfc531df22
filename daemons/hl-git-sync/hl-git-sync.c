/* hl-git-sync's daemon side: see hl-git-sync.h. */
#include "hl-git-sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hlbus/clock.h>
#include <hlbus/proc.h>

#include "gitsync.pb-c.h"
#include "gs_config.h"
#include "gs_sync.h"

struct gitsync {
    hlb_daemon_t *d;
    gs_conf_t first;
    bool have_first;
    gs_t *engine;
    char *topic;
    bool ready;
    hlb_timer_t ready_timer;
};

const char gitsync_help[] =
    "Config section 'hl-git-sync' (see hl-git-sync.yaml.example): repo_url, workspace,\n"
    "interval, branch, owner, filter, depth, push, push_branch, token_file or\n"
    "token_credential, keep_snapshots, snapshot_max_age, retry_min, retry_max.\n"
    "Environment: HL_REPO_URL, HL_WORKSPACE (default /home/hluser/workspace),\n"
    "HL_SYNC_INTERVAL (seconds, default 60) fill what the config leaves out.\n"
    "Bus: git.<repo> (state), git.<repo>.synced|conflict|error (events).\n"
    "Methods: git (status), sync, resume, log. hlctl git status|sync|resume|log.";

gitsync_t *gitsync_app(void)
{
    return calloc(1, sizeof(gitsync_t));
}

void gitsync_app_free(gitsync_t *app)
{
    if (!app)
        return;
    gs_conf_free(&app->first);
    free(app->topic);
    free(app);
}

int gitsync_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                      bool check_only, hlb_diag_t *diag, void *arg)
{
    gitsync_t *app = arg;
    gs_conf_t c = {0};
    int rc = gs_conf_parse(section, &c, diag);
    if (rc < 0 || check_only) {
        gs_conf_free(&c);
        return rc;
    }
    if (!app->engine) {
        gs_conf_free(&app->first);
        app->first = c;
        app->have_first = true;
        return 0;
    }
    char err[512];
    if (gs_configure(app->engine, &c, err, sizeof err) < 0) {
        hlb_diag_add(diag, section, "%s", err);
        gs_conf_free(&c);
        return -EINVAL;
    }
    return 0;
}

static char *dup_or_empty(const char *s)
{
    return (char *)(s ? s : "");
}

/* The message of git.<repo> and of the "git" method; it points into ST. */
static void fill_status(Hl__GitStatus *mp, const gs_status_t *st)
{
    Hl__GitStatus m = HL__GIT_STATUS__INIT;
    m.repo = dup_or_empty(st->repo);
    m.workspace = dup_or_empty(st->workspace);
    m.remote = dup_or_empty(st->remote);
    m.branch = dup_or_empty(st->branch);
    m.upstream = dup_or_empty(st->upstream);
    m.state = (Hl__GitState)st->state;
    m.detail = dup_or_empty(st->detail);
    m.head = dup_or_empty(st->head);
    m.upstream_head = dup_or_empty(st->upstream_head);
    m.ahead = st->ahead;
    m.behind = st->behind;
    m.dirty = st->dirty;
    m.dirty_files = st->dirty_files;
    size_t n = 0;
    while (st->conflict_files && st->conflict_files[n])
        n++;
    m.conflict_files = st->conflict_files;
    m.n_conflict_files = n;
    m.paused = st->paused;
    m.error = dup_or_empty(st->error);
    m.retryable = st->retryable;
    m.last_sync_us = st->last_sync_us;
    m.last_attempt_us = st->last_attempt_us;
    m.next_sync_us = st->next_sync_us;
    m.syncs = st->syncs;
    m.failures = st->failures;
    m.updates = st->updates;
    m.conflicts = st->conflicts;
    m.last_duration_us = st->last_duration_us;
    m.last_snapshot = dup_or_empty(st->last_snapshot);
    m.snapshots = st->snapshots;
    m.push_branch = dup_or_empty(st->push_branch);
    m.pushed_head = dup_or_empty(st->pushed_head);
    m.stale_locks_removed = st->stale_locks_removed;
    m.recoveries = st->recoveries;
    m.cloned = st->cloned;
    m.running = st->running;
    *mp = m;
}

static void on_state(gs_t *g, const gs_status_t *st, void *arg)
{
    gitsync_t *app = arg;
    Hl__GitStatus m;
    fill_status(&m, st);
    if (!app->topic && asprintf(&app->topic, "git.%s", st->repo) < 0)
        app->topic = NULL;
    if (app->topic)
        hlb_pub_send(hlb_daemon_pub(app->d), app->topic, &m.base);
    hlb_daemon_status(app->d, "%s: %s: %s", st->repo,
                      hlb_pb_enum_word(&hl__git_state__descriptor, st->state), st->detail);
}

static void on_event(gs_t *g, const gs_event_t *ev, void *arg)
{
    gitsync_t *app = arg;
    const gs_status_t *st = gs_status(g);
    Hl__GitEvent m = HL__GIT_EVENT__INIT;
    m.repo = dup_or_empty(st->repo);
    m.kind = dup_or_empty(ev->kind);
    m.branch = dup_or_empty(ev->branch);
    m.detail = dup_or_empty(ev->detail);
    size_t n = 0;
    while (ev->files && ev->files[n])
        n++;
    m.files = (char **)ev->files;
    m.n_files = n;
    m.head_before = dup_or_empty(ev->head_before);
    m.head_after = dup_or_empty(ev->head_after);
    m.snapshot = dup_or_empty(ev->snapshot);
    m.duration_us = ev->duration_us;
    m.git_message = dup_or_empty(ev->git_message);
    m.ts_us = hlb_now_us();
    char *topic;
    if (asprintf(&topic, "git.%s.%s", st->repo, ev->kind) < 0)
        return;
    hlb_pub_send(hlb_daemon_pub(app->d), topic, &m.base);
    free(topic);
}

static void become_ready(gitsync_t *app)
{
    if (app->ready)
        return;
    app->ready = true;
    hlb_timer_stop(hlb_daemon_reactor(app->d), &app->ready_timer);
    hlb_daemon_ready(app->d);
}

/* READY=1 after the first cycle (the clone, or the adoption of what is
 * there): the orchestrator's phase then includes the repository's setup. */
static void on_idle(gs_t *g, void *arg)
{
    (void)g;
    become_ready(arg);
}

static void on_ready_timeout(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    gitsync_t *app = arg;
    hlb_log(LOG_NOTICE, "the first clone takes longer than ready_timeout: ready, cloning on");
    become_ready(app);
}

int gitsync_start(hlb_daemon_t *d, void *arg)
{
    gitsync_t *app = arg;
    app->d = d;
    if (!app->have_first)
        return -1;
    if (mkdir(app->first.state_dir, 0750) < 0 && errno != EEXIST) {
        hlb_err("cannot create the state directory %s: %s", app->first.state_dir,
                strerror(errno));
        return -1;
    }
    static const gs_hooks_t hooks = {.state = on_state, .event = on_event, .idle = on_idle};
    app->engine = gs_new(hlb_daemon_reactor(d), &hooks, app);
    if (!app->engine) {
        hlb_err("out of memory");
        return -1;
    }
    hlb_timer_init(&app->ready_timer, on_ready_timeout, app);
    hlb_timer_after_ms(hlb_daemon_reactor(d), &app->ready_timer, app->first.ready_timeout_ms);
    char err[512];
    if (gs_configure(app->engine, &app->first, err, sizeof err) < 0) {
        hlb_err("%s", err);
        return -1;
    }
    app->have_first = false;
    return 0;
}

void gitsync_stop(hlb_daemon_t *d, void *arg)
{
    gitsync_t *app = arg;
    hlb_timer_stop(hlb_daemon_reactor(d), &app->ready_timer);
    if (app->engine) {
        gs_hold(app->engine);
        gs_cancel(app->engine);
    }
    gs_destroy(&app->engine);
}

/* ---- methods ---- */

static void m_git(hlb_request_t *req, hlb_reply_t *reply, void *arg);

static Hl__GitEvent *logged_event(const gs_logged_t *l, const char *repo)
{
    Hl__GitEvent *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    hl__git_event__init(e);
    e->repo = (char *)repo;
    e->kind = (char *)l->kind;
    e->branch = (char *)l->branch;
    e->detail = (char *)l->detail;
    size_t n = 0;
    while (l->files && l->files[n])
        n++;
    e->files = l->files;
    e->n_files = n;
    e->head_before = (char *)l->head_before;
    e->head_after = (char *)l->head_after;
    e->snapshot = (char *)l->snapshot;
    e->duration_us = l->duration_us;
    e->git_message = (char *)l->git_message;
    e->ts_us = l->ts_us;
    return e;
}

static void m_log(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    gitsync_t *app = arg;
    const gs_logged_t *log;
    size_t start, n = gs_log(app->engine, &log, &start);
    const gs_snapref_t *snaps;
    size_t ns = gs_snapshots(app->engine, &snaps);
    Hl__GitLog m = HL__GIT_LOG__INIT;
    m.events = calloc(n + 1, sizeof *m.events);
    m.snapshots = calloc(ns + 1, sizeof *m.snapshots);
    if (!m.events || !m.snapshots) {
        free(m.events);
        free(m.snapshots);
        hlb_reply_error(reply, ENOMEM, "out of memory");
        return;
    }
    /* the ring, oldest first */
    const char *repo = gs_status(app->engine)->repo;
    for (size_t i = 0; i < n; i++) {
        const gs_logged_t *l = &log[(start + i) % GS_LOG_MAX];
        if (l->ts_us && (m.events[m.n_events] = logged_event(l, repo)))
            m.n_events++;
    }
    for (size_t i = 0; i < ns; i++) {
        Hl__GitSnapshot *s = calloc(1, sizeof *s);
        if (!s)
            break;
        hl__git_snapshot__init(s);
        s->ref = (char *)snaps[i].ref;
        s->commit = (char *)snaps[i].commit;
        s->ts_us = snaps[i].ts_us;
        m.snapshots[m.n_snapshots++] = s;
    }
    hlb_reply_msg(reply, &m.base);
    for (size_t i = 0; i < m.n_events; i++)
        free(m.events[i]);
    for (size_t i = 0; i < m.n_snapshots; i++)
        free(m.snapshots[i]);
    free(m.events);
    free(m.snapshots);
}

static void m_sync(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    gitsync_t *app = arg;
    gs_sync_now(app->engine);
    m_git(req, reply, arg);
}

static void m_resume(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    gitsync_t *app = arg;
    if (gs_resume(app->engine) == -EALREADY) {
        hlb_reply_error(reply, EALREADY, "not paused: nothing to resume");
        return;
    }
    m_git(req, reply, arg);
}

static void m_git(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    gitsync_t *app = arg;
    Hl__GitStatus m;
    fill_status(&m, gs_status(app->engine));
    hlb_reply_msg(reply, &m.base);
}

const hlb_method_t gitsync_methods[] = {
    {"git", m_git, 0, "the repository's sync state (as git.<repo>)"},
    {"sync", m_sync, HLB_METHOD_ADMIN, "sync now (or right after the cycle that runs)"},
    {"resume", m_resume, HLB_METHOD_ADMIN, "lift the pause a conflict set, and sync"},
    {"log", m_log, 0, "recent sync events and the snapshot refs"},
    {NULL, NULL, 0, NULL},
};
