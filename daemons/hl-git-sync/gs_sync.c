/* The sync engine: see gs_sync.h. Each step runs one command and names the
 * step its result goes to; a cycle ends in one of the done_* functions. */
#include "gs_sync.h"

/* Details, refs and messages go into bounded buffers on purpose (a state
 * message has a size): a long branch name or git message is cut, not an
 * error. */
#if defined(__GNUC__) && !defined(__clang__) /* clang has no such warning */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hlbus/clock.h>
#include <hlbus/log.h>
#include <hlbus/proc.h>

#include "gs_repo.h"

#define GS_SNAPLIST_MAX 200
#define GS_PRUNE_PER_CYCLE 20

typedef struct gs_res {
    bool ok;
    int code; /* exit code, or -1 */
    char *out;
    size_t len;
    char what[160];
} gs_res_t;

typedef void(gs_step_fn)(gs_t *g, const gs_res_t *r);

/* One local commit to carry onto the upstream. */
typedef struct {
    char commit[GS_OID_MAX], parent[GS_OID_MAX];
} pick_t;

struct gs {
    hlb_reactor_t *io;
    gs_hooks_t hooks;
    void *arg;
    gs_conf_t conf;
    bool configured, held, running, again;
    hlb_timer_t timer;
    hlb_proc_t *proc;
    gs_step_fn *next;
    uid_t uid;
    gid_t gid;
    bool same_user;
    char *home, *gitdir, *tmp_index, *record_path;
    char *secret; /* the token read for the running command, wiped after */
    bool adopted; /* the existing repository was checked and configured */
    /* hl-git-inspect's findings at the cycle's start */
    bool have_repo, empty;
    char busy[512], held_lock[PATH_MAX], removed[PATH_MAX], op[32];
    unsigned removed_n;
    unsigned fails_in_row;
    uint64_t t0;
    gs_status_t st;
    gs_record_t rec;
    /* the cycle */
    char branch[256], seen[GS_OID_MAX], local[GS_OID_MAX], upstream[GS_OID_MAX];
    char snap[GS_OID_MAX], snap_tree[GS_OID_MAX], snap_ref[GS_STR];
    char tip[GS_OID_MAX], tip_tree[GS_OID_MAX], synth[GS_OID_MAX], work_tree[GS_OID_MAX];
    char now_tree[GS_OID_MAX], recovered[GS_OID_MAX];
    char default_branch[256];
    bool rewritten, merge_mode, published, in_apply, snapshot_taken;
    bool locked;              /* we hold .git/index.lock */
    gs_step_fn *after_index;  /* where the index's installation goes on */
    char wait_msg[GS_STR];
    pick_t *picks;
    size_t npicks, ipick;
    char **author_env; /* GIT_AUTHOR_* for the pick being written */
    char *pick_msg;
    /* log */
    gs_logged_t log[GS_LOG_MAX];
    size_t log_n, log_head;
    gs_snapref_t *snaps;
    size_t nsnaps;
};

/* ---- small helpers ---- */

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static bool is_oid(const char *s, size_t n)
{
    if (n != 40 && n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* The first line of R's output as an object id into DST; false if it is not one. */
static bool take_oid(const gs_res_t *r, char *dst)
{
    if (!r->out)
        return false;
    size_t n = strcspn(r->out, "\n");
    if (!is_oid(r->out, n))
        return false;
    memcpy(dst, r->out, n);
    dst[n] = '\0';
    return true;
}

static void first_line(const gs_res_t *r, char *dst, size_t n)
{
    size_t len = r->out ? strcspn(r->out, "\n") : 0;
    snprintf(dst, n, "%.*s", (int)len, r->out ? r->out : "");
}

void gs_redact(char *s, const char *secret)
{
    if (!s)
        return;
    /* scheme://user:password@host -> scheme://user:***@host; scheme://token@ -> ***@ */
    for (char *p = strstr(s, "://"); p; p = strstr(p + 3, "://")) {
        char *start = p + 3, *end = start + strcspn(start, "@/ \t\n'\"");
        if (*end != '@')
            continue;
        char *colon = memchr(start, ':', (size_t)(end - start));
        char *from = colon ? colon + 1 : start;
        if (end - from >= 3) {
            memcpy(from, "***", 3);
            memmove(from + 3, end, strlen(end) + 1);
        }
    }
    if (secret && *secret) {
        size_t n = strlen(secret);
        for (char *p = strstr(s, secret); p; p = strstr(p, secret)) {
            memcpy(p, "***", n < 3 ? n : 3);
            memmove(p + (n < 3 ? n : 3), p + n, strlen(p + n) + 1);
        }
    }
}

bool gs_retryable(const char *m)
{
    static const char *const never[] = {
        "Authentication failed", "could not read Username", "could not read Password",
        "Permission denied", "403", "401 ", "Repository not found", "does not appear to be a git",
        "not found", "no upstream", "does not exist", "couldn't find remote ref",
        "corrupt", "bad object", "loose object", "invalid object", "unable to parse",
        "not a git repository", "is not a commit",
        /* a push that would need forcing: only a person changes that */
        "non-fast-forward", "fetch first", "[rejected]", NULL};
    /* A full disk is worth waiting for, whatever git was writing
     * ("unable to write loose object file: No space left on device"). */
    static const char *const room[] = {"No space left", "Disk quota exceeded", NULL};
    for (size_t i = 0; room[i]; i++)
        if (strcasestr(m, room[i]))
            return true;
    for (size_t i = 0; never[i]; i++)
        if (strcasestr(m, never[i]))
            return false;
    return true; /* network, timeouts, a full disk, locks: they pass */
}

bool gs_contended(const char *m)
{
    /* Another git process (the agent's fetch, commit, merge) held a lock
     * that our command needed: nothing failed, it is tried again soon. */
    static const char *const lock[] = {"cannot lock ref", "Unable to create", "index.lock",
                                       "Another git process", "unable to lock", NULL};
    /* ...unless the lock could not be made at all: that is an error. */
    static const char *const cannot[] = {"No space left", "Read-only file system",
                                         "Permission denied", "Disk quota", NULL};
    for (size_t i = 0; cannot[i]; i++)
        if (strcasestr(m, cannot[i]))
            return false;
    for (size_t i = 0; lock[i]; i++)
        if (strcasestr(m, lock[i]))
            return true;
    return false;
}

/* ---- publishing ---- */

static void publish(gs_t *g)
{
    if (g->hooks.state)
        g->hooks.state(g, &g->st, g->arg);
}

static void set_detail(gs_t *g, gs_state_t s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_detail(gs_t *g, gs_state_t s, const char *fmt, ...)
{
    g->st.state = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->st.detail, sizeof g->st.detail, fmt, ap);
    va_end(ap);
}

static char **strv_copy(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        c[i] = strdup(v[i]);
    return c;
}

static void emit(gs_t *g, const char *kind, const char *detail, const char *git_message,
                 char *const *files)
{
    gs_event_t ev = {.kind = kind, .branch = g->branch, .detail = detail,
                     .head_before = g->local, .head_after = g->st.head, .snapshot = g->snap_ref,
                     .git_message = git_message ? git_message : "", .files = files,
                     .duration_us = hlb_mono_us() - g->t0};
    gs_logged_t *l = &g->log[g->log_head];
    strv_free(l->files);
    memset(l, 0, sizeof *l);
    snprintf(l->kind, sizeof l->kind, "%s", kind);
    snprintf(l->detail, sizeof l->detail, "%s", detail);
    snprintf(l->branch, sizeof l->branch, "%s", g->branch);
    snprintf(l->head_before, sizeof l->head_before, "%s", g->local);
    snprintf(l->head_after, sizeof l->head_after, "%s", g->st.head);
    snprintf(l->snapshot, sizeof l->snapshot, "%s", g->snap_ref);
    snprintf(l->git_message, sizeof l->git_message, "%s", ev.git_message);
    l->files = files ? strv_copy(files) : NULL;
    l->ts_us = hlb_now_us();
    l->duration_us = ev.duration_us;
    g->log_head = (g->log_head + 1) % GS_LOG_MAX;
    if (g->log_n < GS_LOG_MAX)
        g->log_n++;
    if (g->hooks.event)
        g->hooks.event(g, &ev, g->arg);
}

/* ---- cycle ends ---- */

static void cycle(hlb_reactor_t *io, hlb_timer_t *t, void *arg);

static void schedule(gs_t *g, int64_t ms)
{
    if (g->held)
        return;
    g->st.next_sync_us = hlb_now_us() + (uint64_t)ms * 1000;
    hlb_timer_after_ms(g->io, &g->timer, ms);
}

static void end_cycle(gs_t *g, int64_t next_ms)
{
    g->running = g->st.running = false;
    g->in_apply = false;
    g->st.last_duration_us = hlb_mono_us() - g->t0;
    free(g->picks);
    g->picks = NULL;
    g->npicks = g->ipick = 0;
    if (g->again) {
        g->again = false;
        next_ms = 0;
    }
    schedule(g, next_ms);
    publish(g);
    if (g->hooks.idle)
        g->hooks.idle(g, g->arg);
}

static void done_ok(gs_t *g, gs_state_t s)
{
    g->fails_in_row = 0;
    g->st.error[0] = '\0';
    g->st.retryable = false;
    g->st.syncs++;
    g->st.last_sync_us = hlb_now_us();
    g->st.state = s;
    end_cycle(g, g->conf.interval_ms);
}

static void done_wait(gs_t *g, const char *why)
{
    set_detail(g, GS_WAITING, "%s", why);
    hlb_log(LOG_INFO, "%s: waiting: %s", g->conf.name, why);
    end_cycle(g, g->conf.busy_retry_ms);
}

/* An error: retried with capped, jittered back-off when RETRY, otherwise
 * checked again only every retry_max (a token may be fixed, a config
 * reloaded) so nothing loops. */
static void done_err(gs_t *g, bool retry, const char *what, const char *git_message)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", git_message ? git_message : "");
    gs_redact(msg, g->secret);
    set_detail(g, GS_ERROR, "%s", what);
    /* WHAT stays in the error until a sync succeeds: a retry's cycle
     * replaces the detail ("syncing"), and a reader must still see why. */
    snprintf(g->st.error, sizeof g->st.error, "%s%s%s", what, *msg ? ": " : "", msg);
    g->st.retryable = retry;
    g->st.failures++;
    g->fails_in_row++;
    int64_t ms = g->conf.retry_max_ms;
    if (retry) {
        unsigned shift = g->fails_in_row > 20 ? 20 : g->fails_in_row - 1;
        int64_t base = g->conf.retry_min_ms << shift;
        if (base > g->conf.retry_max_ms || base <= 0)
            base = g->conf.retry_max_ms;
        ms = base / 2 + (int64_t)(random() % (base / 2 + 1)); /* jitter: half to all of it */
    }
    hlb_log(LOG_WARNING, "%s: %s%s%s (%s in %lld ms)", g->conf.name, what, *msg ? ": " : "", msg,
            retry ? "retry" : "next check", (long long)ms);
    emit(g, "error", what, msg, NULL);
    end_cycle(g, ms);
}

/* An error from git's result R while doing WHAT. */
static void done_git_err(gs_t *g, const gs_res_t *r, const char *what)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", r->out && *r->out ? r->out : r->what);
    /* git's message without its trailing newline, on one line */
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = p[1] ? ' ' : '\0';
    if (gs_contended(buf)) {
        char why[GS_STR];
        snprintf(why, sizeof why, "%s: another git process holds a lock; trying again", what);
        done_wait(g, why);
        return;
    }
    done_err(g, gs_retryable(buf), what, buf);
}

/* ---- running commands ---- */

#define F_NET 0x1     /* fetch/push/clone: credentials, the fetch timeout */
#define F_TMPIDX 0x2  /* GIT_INDEX_FILE = our private index */
#define F_BIG 0x4     /* keep up to 1 MiB of output */
#define F_CLONE 0x8   /* no -C (the workspace may not exist), the clone timeout */
#define F_RAW 0x10    /* not git: argv as given */
#define F_AUTHOR 0x20 /* the pick's GIT_AUTHOR_* */
#define F_NEWIDX 0x40 /* GIT_INDEX_FILE = the agent's next index, being made */

/* The token, read again before every network command: tokens rotate. */
static int read_secret(gs_t *g)
{
    const char *path = NULL;
    char *cpath = NULL;
    if (*g->conf.token_file) {
        path = g->conf.token_file;
    } else if (*g->conf.token_credential) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        if (!dir || asprintf(&cpath, "%s/%s", dir, g->conf.token_credential) < 0)
            return -ENOENT;
        path = cpath;
    } else {
        return 0;
    }
    FILE *f = fopen(path, "re");
    free(cpath);
    if (!f)
        return -errno;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    if (n <= 0) {
        free(line);
        return -ENODATA;
    }
    line[strcspn(line, "\r\n")] = '\0';
    g->secret = line;
    return 0;
}

static void wipe_secret(gs_t *g)
{
    if (g->secret) {
        explicit_bzero(g->secret, strlen(g->secret));
        free(g->secret);
        g->secret = NULL;
    }
}

static void on_proc(const hlb_proc_result_t *pr, void *arg)
{
    gs_t *g = arg;
    g->proc = NULL;
    gs_res_t r = {.ok = hlb_proc_ok(pr), .code = -1};
    if (!pr->error && WIFEXITED(pr->status) && !pr->timed_out)
        r.code = WEXITSTATUS(pr->status);
    /* The output may hold NULs (-z, %x00): kept whole, with its length. */
    r.out = malloc(pr->output_len + 1);
    if (r.out) {
        if (pr->output_len)
            memcpy(r.out, pr->output, pr->output_len);
        r.out[pr->output_len] = '\0';
        r.len = pr->output_len;
    }
    hlb_proc_describe(pr, r.what, sizeof r.what);
    if (r.out)
        gs_redact(r.out, g->secret);
    wipe_secret(g);
    gs_step_fn *next = g->next;
    g->next = NULL;
    next(g, &r);
    free(r.out);
}

/* Runs git (or, with F_RAW, the program A0) with the NULL-terminated
 * arguments, then NEXT with the result. */
static void run(gs_t *g, gs_step_fn *next, unsigned flags, const char *a0, ...)
{
    const char *argv[64];
    size_t n = 0;
    if (flags & F_RAW) {
        argv[n++] = a0;
    } else {
        argv[n++] = g->conf.git;
        if (!(flags & F_CLONE)) {
            argv[n++] = "-C";
            argv[n++] = g->conf.workspace;
        }
        /* Not the owner's hooks, credential helpers or background gc: ours
         * are plumbing steps that must neither hang nor detach. */
        argv[n++] = "-c";
        argv[n++] = "core.hooksPath=/dev/null";
        argv[n++] = "-c";
        argv[n++] = "credential.helper=";
        argv[n++] = "-c";
        argv[n++] = "gc.auto=0";
        argv[n++] = "-c";
        argv[n++] = "maintenance.auto=false";
        argv[n++] = "-c";
        argv[n++] = "core.fsmonitor=false";
        argv[n++] = a0;
    }
    va_list ap;
    va_start(ap, a0);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 63)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;

    char *env[32];
    size_t e = 0;
    char *tmp;
#define ENV(...) (asprintf(&tmp, __VA_ARGS__) >= 0 ? (env[e++] = tmp) : NULL)
    ENV("PATH=/usr/local/bin:/usr/bin:/bin");
    ENV("HOME=%s", g->home ? g->home : "/");
    ENV("LANG=C");
    ENV("LC_ALL=C");
    ENV("GIT_TERMINAL_PROMPT=0");
    /* git status and friends take no optional index.lock of ours. */
    ENV("GIT_OPTIONAL_LOCKS=0");
    ENV("GIT_COMMITTER_NAME=%s", g->conf.identity_name);
    ENV("GIT_COMMITTER_EMAIL=%s", g->conf.identity_email);
    if (flags & F_AUTHOR) {
        for (size_t i = 0; g->author_env && g->author_env[i] && e < 28; i++)
            env[e++] = strdup(g->author_env[i]);
    } else {
        ENV("GIT_AUTHOR_NAME=%s", g->conf.identity_name);
        ENV("GIT_AUTHOR_EMAIL=%s", g->conf.identity_email);
    }
    if (flags & F_TMPIDX)
        ENV("GIT_INDEX_FILE=%s", g->tmp_index);
    if (flags & F_NEWIDX)
        ENV("GIT_INDEX_FILE=%s.new", g->tmp_index);
    int timeout = (int)g->conf.git_timeout_ms;
    if (flags & F_NET) {
        timeout = (int)g->conf.fetch_timeout_ms;
        ENV("GIT_ASKPASS=%s", g->conf.askpass);
        ENV("SSH_ASKPASS=%s", g->conf.askpass);
        ENV("HL_GIT_USERNAME=%s", g->conf.username);
        int rc = read_secret(g);
        if (rc < 0) {
            for (size_t i = 0; i < e; i++)
                free(env[i]);
            wipe_secret(g);
            char what[256];
            snprintf(what, sizeof what, "cannot read the token (%s): %s",
                     *g->conf.token_file ? g->conf.token_file : g->conf.token_credential,
                     strerror(-rc));
            done_err(g, false, what, NULL);
            return;
        }
        /* Only in this git command's environment (and its askpass helper's). */
        if (g->secret)
            ENV("HL_GIT_TOKEN=%s", g->secret);
    }
    if (flags & F_CLONE)
        timeout = (int)g->conf.clone_timeout_ms;
#undef ENV
    env[e] = NULL;

    hlb_proc_opts_t o = HLB_PROC_OPTS_INIT;
    o.argv = (char *const *)argv;
    o.envp = env;
    o.timeout_ms = timeout;
    o.output_max = (flags & F_BIG) ? (1u << 20) : 64u << 10;
    o.keep_tail = (flags & F_NET) != 0; /* git's error is at the end of a progress log */
    if (!g->same_user) {
        o.uid = g->uid;
        o.gid = g->gid;
    }
    hlb_log(LOG_DEBUG, "%s: %s %s", g->conf.name, argv[0], flags & F_RAW ? "" : a0);
    g->next = next;
    g->proc = hlb_proc_start(g->io, &o, on_proc, g);
    for (size_t i = 0; i < e; i++) {
        explicit_bzero(env[i], strlen(env[i]));
        free(env[i]);
    }
    if (!g->proc) {
        g->next = NULL;
        wipe_secret(g);
        done_err(g, true, "cannot start git: out of memory", NULL);
    }
}

/* ---- the record of a sync in flight ---- */

static int save_record(gs_t *g)
{
    int rc = gs_record_save(g->record_path, &g->rec);
    if (rc < 0)
        hlb_log(LOG_ERR, "%s: cannot write %s: %s", g->conf.name, g->record_path, strerror(-rc));
    return rc;
}

static void clear_phase(gs_t *g)
{
    g->rec.phase[0] = '\0';
    save_record(g);
}

/* ---- steps: forward declarations, in cycle order ---- */

static gs_step_fn inspected, clone_wiped, clone_done, clone_configured, adopt_url, adopt_pull_rebase,
    adopt_identity, adopt_email_set, adopt_identity_set, head_ref, detached_fetched, seen_ref, fetched, revs,
    upstream_name, counts, forced_check, snap_index, snap_added, snap_tree, snap_commit,
    snap_ref_done, picks_listed, pick_info, pick_read, pick_synth, pick_merged, pick_committed,
    merge_merged, merge_committed, work_synth, work_merged, applied_tree, applied_ref,
    applied_index, seen_updated, undone, push_default, push_remote_head, pushed, status_done,
    prune_listed, prune_deleted, rec_head, rec_reset, rec_index, rec_added, rec_tree, rec_commit,
    rec_ref, rec_synth, rec_merged, rec_tree_written, rec_ref_moved, rec_saved_only,
    apply_locked, apply_checked, unlocked_wait, index_copied, index_reset, index_installed, rec_locked,
    rec_saved_unlocked;
static void index_follow(gs_t *g);
static void unlock_and_wait(gs_t *g, const char *msg);

static gs_step_fn push_guard, push_guarded;
static void sync_begin(gs_t *g);
static void list_picks(gs_t *g);
static void after_update(gs_t *g);
static void next_pick(gs_t *g);
static void do_push(gs_t *g);
static void do_status(gs_t *g);

/* ---- the cycle ---- */

static void cycle(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    gs_t *g = arg;
    if (g->running || g->held || !g->configured)
        return;
    g->running = g->st.running = true;
    g->t0 = hlb_mono_us();
    g->st.last_attempt_us = hlb_now_us();
    g->st.next_sync_us = 0;
    g->snap_ref[0] = g->snap[0] = g->local[0] = '\0';
    g->snapshot_taken = false;
    gs_record_load(g->record_path, &g->rec);
    g->st.paused = g->rec.paused[0] != '\0';

    /* What is in the workspace, seen as its owner. */
    /* With an interrupted update on record, an index.lock nobody holds is
     * the one we took for it: kept until the update is finished. */
    if (!strcmp(g->rec.phase, "apply"))
        run(g, inspected, F_RAW, g->conf.inspect, "--ours", g->conf.workspace, NULL);
    else
        run(g, inspected, F_RAW, g->conf.inspect, g->conf.workspace, NULL);
}

static void inspected(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot inspect the workspace (hl-git-inspect)");
        return;
    }
    g->have_repo = g->empty = false;
    g->busy[0] = g->held_lock[0] = g->removed[0] = g->op[0] = '\0';
    g->locked = false;
    g->removed_n = 0;
    for (char *line = r->out; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *v = strchr(line, ' ');
        if (v) {
            *v++ = '\0';
            if (!strcmp(line, "repo"))
                g->have_repo = !strcmp(v, "yes");
            else if (!strcmp(line, "empty"))
                g->empty = !strcmp(v, "yes");
            else if (!strcmp(line, "busy"))
                snprintf(g->busy, sizeof g->busy, "%s", v);
            else if (!strcmp(line, "held"))
                snprintf(g->held_lock, sizeof g->held_lock, "%s", v);
            else if (!strcmp(line, "ourlock"))
                g->locked = true;
            else if (!strcmp(line, "op"))
                snprintf(g->op, sizeof g->op, "%s", v);
            else if (!strcmp(line, "removed")) {
                char *sp = strchr(v, ' ');
                g->removed_n = (unsigned)strtoul(v, NULL, 10);
                snprintf(g->removed, sizeof g->removed, "%s", sp ? sp + 1 : "");
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    bool have_repo = g->have_repo;
    if (!strcmp(g->rec.phase, "clone")) {
        /* Our clone was interrupted: what is there is ours, and partial. */
        set_detail(g, GS_CLONING, "removing an interrupted clone");
        publish(g);
        run(g, clone_wiped, F_RAW, "/usr/bin/find", g->conf.workspace, "-mindepth", "1",
            "-delete", NULL);
        return;
    }
    if (!have_repo) {
        g->st.cloned = false;
        if (!*g->conf.repo_url) {
            set_detail(g, GS_UNCONFIGURED, "no repo_url (or HL_REPO_URL) and no repository in %s",
                       g->conf.workspace);
            end_cycle(g, g->conf.interval_ms);
            return;
        }
        if (!g->empty) {
            char what[GS_STR + 64];
            snprintf(what, sizeof what, "%s is not empty and holds no repository: not cloning "
                                        "over it", g->conf.workspace);
            done_err(g, false, what, NULL);
            return;
        }
        clone_wiped(g, &(gs_res_t){.ok = true});
        return;
    }
    g->st.cloned = true;
    if (!g->adopted) {
        run(g, adopt_url, 0, "remote", "get-url", "origin", NULL);
        return;
    }
    sync_begin(g);
}

static void clone_wiped(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot remove the interrupted clone");
        return;
    }
    snprintf(g->rec.phase, sizeof g->rec.phase, "clone");
    if (save_record(g) < 0) {
        done_err(g, true, "cannot write the state file", NULL);
        return;
    }
    set_detail(g, GS_CLONING, "cloning %s", g->st.remote);
    publish(g);
    const char *a[12];
    size_t n = 0;
    char depth[32], filter[300], *branch = NULL;
    if (*g->conf.filter) {
        snprintf(filter, sizeof filter, "--filter=%s", g->conf.filter);
        a[n++] = filter;
    }
    if (g->conf.depth > 0) {
        snprintf(depth, sizeof depth, "--depth=%lld", (long long)g->conf.depth);
        a[n++] = depth;
    }
    if (*g->conf.branch) {
        a[n++] = "--branch";
        a[n++] = g->conf.branch;
        branch = g->conf.branch;
    }
    (void)branch;
    while (n < 4)
        a[n++] = "--quiet";
    run(g, clone_done, F_NET | F_CLONE, "clone", a[0], a[1], a[2], a[3], "--",
        g->conf.repo_url, g->conf.workspace, NULL);
}

static void clone_done(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        /* git removes what it made when it fails; the record goes too. */
        clear_phase(g);
        done_git_err(g, r, "clone failed");
        return;
    }
    run(g, clone_configured, 0, "config", "pull.rebase", "true", NULL);
}

static void clone_configured(gs_t *g, const gs_res_t *r)
{
    clear_phase(g);
    g->st.cloned = true;
    hlb_log(LOG_NOTICE, "%s: cloned %s into %s", g->conf.name, g->st.remote, g->conf.workspace);
    /* The identity of the spec's setup, unless the owner has one. */
    g->adopted = false;
    run(g, adopt_url, 0, "remote", "get-url", "origin", NULL);
}

static void url_norm(char *u)
{
    size_t n = strlen(u);
    while (n && (u[n - 1] == '/' || u[n - 1] == '\n'))
        u[--n] = '\0';
    if (n > 4 && !strcmp(u + n - 4, ".git"))
        u[n - 4] = '\0';
}

static void adopt_url(gs_t *g, const gs_res_t *r)
{
    char have[GS_STR], want[GS_STR], shown[GS_STR];
    first_line(r, have, sizeof have);
    snprintf(shown, sizeof shown, "%s", have);
    if (!r->ok) {
        done_err(g, false, "the workspace's repository has no remote 'origin'", r->out);
        return;
    }
    snprintf(want, sizeof want, "%s", g->conf.repo_url);
    url_norm(have);
    url_norm(want);
    if (*want && strcmp(have, want) != 0) {
        char what[GS_STR * 2 + 80];
        gs_redact(have, NULL);
        gs_redact(want, NULL);
        snprintf(what, sizeof what, "the workspace's repository pulls from %s, not repo_url %s: "
                                    "a configuration error; nothing changed", have, want);
        done_err(g, false, what, NULL);
        return;
    }
    gs_redact(shown, NULL);
    snprintf(g->st.remote, sizeof g->st.remote, "%s", shown);
    run(g, adopt_pull_rebase, 0, "config", "pull.rebase", "true", NULL);
}

static void adopt_pull_rebase(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot configure the repository");
        return;
    }
    /* The spec's identity in the repository's own config, unless it has one. */
    run(g, adopt_identity, 0, "config", "--local", "--get", "user.email", NULL);
}

static void adopt_identity(gs_t *g, const gs_res_t *r)
{
    if (r->ok) { /* the owner's own identity stays */
        adopt_identity_set(g, r);
        return;
    }
    run(g, adopt_email_set, 0, "config", "user.email", g->conf.identity_email, NULL);
}

static void adopt_email_set(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot configure the repository");
        return;
    }
    run(g, adopt_identity_set, 0, "config", "user.name", g->conf.identity_name, NULL);
}

static void adopt_identity_set(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot configure the repository");
        return;
    }
    g->adopted = true;
    sync_begin(g);
}

static void sync_begin(gs_t *g)
{
    char why[PATH_MAX + 64];
    if (*g->busy) {
        done_wait(g, g->busy);
        return;
    }
    if (*g->held_lock) {
        snprintf(why, sizeof why, "%s is held by a running process", g->held_lock);
        done_wait(g, why);
        return;
    }
    if (g->removed_n) {
        g->st.stale_locks_removed += g->removed_n;
        hlb_log(LOG_NOTICE, "%s: removed %u stale lock file(s) (%s): their owner is gone",
                g->conf.name, g->removed_n, g->removed);
    }
    set_detail(g, GS_SYNCING, "syncing");
    if (!strcmp(g->rec.phase, "apply")) {
        /* A sync of ours was interrupted between the tree and the branch. */
        snprintf(g->branch, sizeof g->branch, "%s", g->rec.branch);
        snprintf(g->local, sizeof g->local, "%s", g->rec.old_head);
        char ref[300];
        snprintf(ref, sizeof ref, "refs/heads/%s", g->rec.branch);
        run(g, rec_head, 0, "rev-parse", "-q", "--verify", ref, NULL);
        return;
    }
    if (*g->op) {
        snprintf(why, sizeof why, "the agent's %s is in progress: not touching it", g->op);
        done_wait(g, why);
        return;
    }
    run(g, head_ref, 0, "symbolic-ref", "-q", "HEAD", NULL);
}

static void head_ref(gs_t *g, const gs_res_t *r)
{
    char ref[300];
    first_line(r, ref, sizeof ref);
    if (!r->ok || strncmp(ref, "refs/heads/", 11) != 0) {
        g->branch[0] = '\0';
        run(g, detached_fetched, F_NET, "fetch", "--prune", "--quiet", NULL);
        return;
    }
    snprintf(g->branch, sizeof g->branch, "%s", ref + 11);
    snprintf(g->st.branch, sizeof g->st.branch, "%s", g->branch);
    char seen[320];
    snprintf(seen, sizeof seen, "refs/hl-sync/seen/%s", g->branch);
    run(g, seen_ref, 0, "rev-parse", "-q", "--verify", seen, NULL);
}

static void detached_fetched(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "fetch failed");
        return;
    }
    set_detail(g, GS_DETACHED, "HEAD is not on a branch: fetched, nothing updated");
    done_ok(g, GS_DETACHED);
}

static void seen_ref(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || !take_oid(r, g->seen))
        g->seen[0] = '\0';
    run(g, fetched, F_NET, "fetch", "--prune", "--quiet", NULL);
}

static void fetched(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "fetch failed");
        return;
    }
    run(g, revs, 0, "rev-parse", "HEAD", "@{upstream}", NULL);
}

static void revs(gs_t *g, const gs_res_t *r)
{
    const char *nl = r->out ? strchr(r->out, '\n') : NULL;
    if (!r->ok || !take_oid(r, g->local) || !nl ||
        !take_oid(&(gs_res_t){.out = (char *)nl + 1}, g->upstream)) {
        char what[400];
        snprintf(what, sizeof what, "branch %s has no upstream to sync with (missing on the "
                                    "remote, or none configured)", g->branch);
        done_err(g, false, what, r->out);
        return;
    }
    snprintf(g->st.head, sizeof g->st.head, "%s", g->local);
    snprintf(g->st.upstream_head, sizeof g->st.upstream_head, "%s", g->upstream);
    run(g, upstream_name, 0, "rev-parse", "--abbrev-ref", "@{upstream}", NULL);
}

static void upstream_name(gs_t *g, const gs_res_t *r)
{
    first_line(r, g->st.upstream, sizeof g->st.upstream);
    char range[160];
    snprintf(range, sizeof range, "%s...%s", g->local, g->upstream);
    run(g, counts, 0, "rev-list", "--left-right", "--count", range, NULL);
}

static void counts(gs_t *g, const gs_res_t *r)
{
    unsigned a = 0, b = 0;
    if (!r->ok || sscanf(r->out, "%u %u", &a, &b) != 2) {
        done_git_err(g, r, "cannot compare the branch with its upstream");
        return;
    }
    g->st.ahead = a;
    g->st.behind = b;
    bool paused_here = g->rec.paused[0] && !strcmp(g->rec.paused, g->branch);
    if (b == 0) {
        if (paused_here) { /* the agent merged the upstream itself */
            g->rec.paused[0] = g->rec.conflict[0] = '\0';
            save_record(g);
            g->st.paused = false;
            strv_free(g->st.conflict_files);
            g->st.conflict_files = NULL;
        }
        snprintf(g->tip, sizeof g->tip, "%s", g->local);
        do_push(g);
        return;
    }
    if (paused_here) {
        set_detail(g, GS_CONFLICT, "paused by a conflict with %s: resolve it, then hlctl git "
                                   "resume", g->st.upstream);
        g->st.state = GS_CONFLICT;
        end_cycle(g, g->conf.interval_ms);
        return;
    }
    /* Was the upstream rewritten since we last saw it (a force-push)? */
    g->rewritten = false;
    if (*g->seen && strcmp(g->seen, g->upstream) != 0) {
        run(g, forced_check, 0, "merge-base", "--is-ancestor", g->seen, g->upstream, NULL);
        return;
    }
    forced_check(g, &(gs_res_t){.ok = true, .code = 0});
}

static void forced_check(gs_t *g, const gs_res_t *r)
{
    g->rewritten = r->code == 1;
    if (g->rewritten)
        hlb_log(LOG_WARNING, "%s: %s was rewritten upstream (force-push): %.12s is not an "
                             "ancestor of %.12s; only the commits made here are carried over",
                g->conf.name, g->st.upstream, g->seen, g->upstream);
    /* Snapshot: a private index that starts as a copy of the agent's (so
     * unchanged files are not hashed again), then git add -A. */
    char index[PATH_MAX];
    snprintf(index, sizeof index, "%s/index", g->gitdir);
    if (access(index, F_OK) == 0)
        run(g, snap_index, F_RAW, "/bin/cp", "--preserve=timestamps", index, g->tmp_index, NULL);
    else
        run(g, snap_index, F_TMPIDX, "read-tree", "HEAD", NULL);
}

static void snap_index(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot copy the index for the snapshot");
        return;
    }
    run(g, snap_added, F_TMPIDX, "add", "-A", "--", ".", NULL);
}

static void snap_added(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot snapshot the working tree");
        return;
    }
    run(g, snap_tree, F_TMPIDX, "write-tree", NULL);
}

static void snap_tree(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || !take_oid(r, g->snap_tree)) {
        done_git_err(g, r, "cannot snapshot the working tree");
        return;
    }
    char msg[400];
    snprintf(msg, sizeof msg, "hl-git-sync: working state of %s before syncing with %s",
             g->branch, g->st.upstream);
    run(g, snap_commit, 0, "commit-tree", g->snap_tree, "-p", g->local, "-m", msg, NULL);
}

static void snap_commit(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || !take_oid(r, g->snap)) {
        done_git_err(g, r, "cannot commit the snapshot");
        return;
    }
    snprintf(g->snap_ref, sizeof g->snap_ref, "refs/hl-sync/snapshots/%s/%llu", g->branch,
             (unsigned long long)hlb_now_us());
    run(g, snap_ref_done, 0, "update-ref", "-m", "hl-git-sync snapshot", g->snap_ref, g->snap,
        "", NULL);
}

static void snap_ref_done(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot store the snapshot ref");
        return;
    }
    g->snapshot_taken = true;
    snprintf(g->st.last_snapshot, sizeof g->st.last_snapshot, "%s", g->snap_ref);
    g->published = false;
    if (g->conf.push) {
        /* Commits already pushed are never rewritten (the push is never
         * forced): with them on the branch, the upstream is merged in. */
        char *pb = gs_conf_push_branch(&g->conf, g->branch);
        char ref[300];
        snprintf(ref, sizeof ref, "refs/remotes/origin/%s", pb ? pb : "");
        free(pb);
        run(g, push_guard, 0, "rev-parse", "-q", "--verify", ref, NULL);
        return;
    }
    list_picks(g);
}

static void push_guard(gs_t *g, const gs_res_t *r)
{
    char pushed[GS_OID_MAX];
    if (!r->ok || !take_oid(r, pushed)) {
        list_picks(g);
        return;
    }
    run(g, push_guarded, 0, "merge-base", "--is-ancestor", pushed, g->local, NULL);
}

static void push_guarded(gs_t *g, const gs_res_t *r)
{
    g->published = r->code == 0;
    list_picks(g);
}

static void list_picks(gs_t *g)
{
    /* The commits made here: on the branch, not on the upstream (nor on
     * what the upstream was before a force-push). */
    char not_up[80], not_seen[80];
    snprintf(not_up, sizeof not_up, "^%s", g->upstream);
    snprintf(not_seen, sizeof not_seen, "^%s", *g->seen ? g->seen : g->upstream);
    run(g, picks_listed, F_BIG, "rev-list", "--reverse", "--topo-order", "--parents", g->local,
        not_up, not_seen, NULL);
}

static void picks_listed(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot list the local commits");
        return;
    }
    if (r->len >= (1u << 20) - 1) {
        done_err(g, false, "too many local commits to carry over (over 10,000)", NULL);
        return;
    }
    size_t cap = 16;
    g->picks = calloc(cap, sizeof *g->picks);
    g->npicks = g->ipick = 0;
    g->merge_mode = false;
    for (char *line = r->out; line && *line && g->picks;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char c[GS_OID_MAX] = "", p[GS_OID_MAX] = "", p2[GS_OID_MAX] = "";
        int k = sscanf(line, "%71s %71s %71s", c, p, p2);
        if (k >= 3)
            g->merge_mode = true;
        if (k >= 2) {
            if (g->npicks == cap) {
                pick_t *np = realloc(g->picks, (cap *= 2) * sizeof *np);
                if (!np)
                    break;
                g->picks = np;
            }
            snprintf(g->picks[g->npicks].commit, GS_OID_MAX, "%s", c);
            snprintf(g->picks[g->npicks].parent, GS_OID_MAX, "%s", p);
            g->npicks++;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (!g->picks) {
        done_err(g, true, "out of memory", NULL);
        return;
    }
    snprintf(g->tip, sizeof g->tip, "%s", g->upstream);
    char tree[80];
    snprintf(tree, sizeof tree, "%s^{tree}", g->upstream);
    if (g->published && g->npicks)
        g->merge_mode = true;
    if (g->merge_mode) {
        /* Local merges: carried by one merge of the branch with the
         * upstream, as `git pull --no-rebase` would. */
        run(g, merge_merged, F_BIG, "merge-tree", "--write-tree", "--name-only", "--no-messages",
            g->local, g->upstream, NULL);
        return;
    }
    run(g, pick_info, 0, "rev-parse", tree, NULL);
}

/* Conflicts from merge-tree's output: the tree, then one file per line
 * (--name-only), up to an empty line. */
static void conflict(gs_t *g, const gs_res_t *r, const char *what)
{
    char **files = calloc(65, sizeof *files);
    size_t n = 0;
    const char *line = r->out ? strchr(r->out, '\n') : NULL;
    while (files && line && *++line && *line != '\n' && n < 64) {
        size_t len = strcspn(line, "\n");
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strlen(files[i]) == len && !strncmp(files[i], line, len);
        if (!dup)
            files[n++] = strndup(line, len);
        line += len;
        if (!*line)
            break;
    }
    strv_free(g->st.conflict_files);
    g->st.conflict_files = files;
    /* Paused, across restarts, until resumed or resolved. */
    snprintf(g->rec.paused, sizeof g->rec.paused, "%s", g->branch);
    size_t off = 0;
    g->rec.conflict[0] = '\0';
    for (size_t i = 0; files && i < n && off < sizeof g->rec.conflict; i++)
        off += (size_t)snprintf(g->rec.conflict + off, sizeof g->rec.conflict - off, "%s%s",
                                i ? "\x1f" : "", files[i]);
    save_record(g);
    g->st.paused = true;
    g->st.conflicts++;
    char detail[GS_STR];
    snprintf(detail, sizeof detail, "%s conflict with %s in %zu file(s); the working tree is as "
                                    "it was; paused until hlctl git resume", what,
             g->st.upstream, n);
    set_detail(g, GS_CONFLICT, "%s", detail);
    hlb_log(LOG_WARNING, "%s: %s", g->conf.name, detail);
    g->st.head[0] = '\0';
    snprintf(g->st.head, sizeof g->st.head, "%s", g->local);
    emit(g, "conflict", detail, NULL, files);
    g->st.state = GS_CONFLICT;
    end_cycle(g, g->conf.interval_ms);
}

static void pick_info(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || !take_oid(r, g->tip_tree)) {
        done_git_err(g, r, "cannot read the upstream's tree");
        return;
    }
    next_pick(g);
}

static void next_pick(gs_t *g)
{
    if (g->ipick == g->npicks) {
        /* The uncommitted work, the snapshot, goes the same way. */
        run(g, work_synth, 0, "commit-tree", g->tip_tree, "-p", g->local, "-m", "hl-git-sync: base",
            NULL);
        return;
    }
    run(g, pick_read, 0, "show", "-s", "--date=raw", "--format=%an%x00%ae%x00%ad%x00%B",
        g->picks[g->ipick].commit, NULL);
}

/* The commit's author and message (name NUL email NUL date NUL message),
 * kept for its rebased copy; then the synthetic base: the new tip's tree
 * with the commit's parent as parent, so that merge-tree's merge base is
 * that parent and the merge is the cherry-pick of the commit. */
static void pick_read(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot read a local commit");
        return;
    }
    const char *f[4] = {0};
    const char *p = r->out, *end = r->out + r->len;
    for (int i = 0; i < 4 && p; i++) {
        f[i] = p;
        if (i < 3) {
            p = memchr(p, '\0', (size_t)(end - p));
            p = p && p < end ? p + 1 : NULL;
        }
    }
    if (!f[3]) {
        done_err(g, false, "cannot read a local commit's author", NULL);
        return;
    }
    strv_free(g->author_env);
    g->author_env = calloc(4, sizeof *g->author_env);
    if (g->author_env) {
        if (asprintf(&g->author_env[0], "GIT_AUTHOR_NAME=%s", f[0]) < 0)
            g->author_env[0] = NULL;
        else if (asprintf(&g->author_env[1], "GIT_AUTHOR_EMAIL=%s", f[1]) < 0)
            g->author_env[1] = NULL;
        else if (asprintf(&g->author_env[2], "GIT_AUTHOR_DATE=@%s", f[2]) < 0)
            g->author_env[2] = NULL;
    }
    free(g->pick_msg);
    g->pick_msg = strndup(f[3], (size_t)(end - f[3]));
    if (g->pick_msg) {
        size_t n = strlen(g->pick_msg);
        while (n && g->pick_msg[n - 1] == '\n')
            g->pick_msg[--n] = '\0';
    }
    run(g, pick_synth, 0, "commit-tree", g->tip_tree, "-p", g->picks[g->ipick].parent, "-m",
        "hl-git-sync: base", NULL);
}

static void pick_synth(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || !take_oid(r, g->synth)) {
        done_git_err(g, r, "cannot rebase a local commit");
        return;
    }
    run(g, pick_merged, F_BIG, "merge-tree", "--write-tree", "--name-only", "--no-messages",
        g->synth, g->picks[g->ipick].commit, NULL);
}

static void pick_merged(gs_t *g, const gs_res_t *r)
{
    if (r->code == 1) {
        conflict(g, r, "local commit");
        return;
    }
    char tree[GS_OID_MAX];
    if (!r->ok || !take_oid(r, tree)) {
        done_git_err(g, r, "cannot rebase a local commit");
        return;
    }
    if (!strcmp(tree, g->tip_tree)) { /* already upstream: dropped, as rebase does */
        g->ipick++;
        next_pick(g);
        return;
    }
    snprintf(g->tip_tree, sizeof g->tip_tree, "%s", tree);
    run(g, pick_committed, F_AUTHOR, "commit-tree", tree, "-p", g->tip, "-m",
        g->pick_msg ? g->pick_msg : "", NULL);
}

static void pick_committed(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || !take_oid(r, g->tip)) {
        done_git_err(g, r, "cannot write a rebased commit");
        return;
    }
    g->ipick++;
    next_pick(g);
}

static void merge_merged(gs_t *g, const gs_res_t *r)
{
    if (r->code == 1) {
        conflict(g, r, "merge");
        return;
    }
    if (!r->ok || !take_oid(r, g->tip_tree)) {
        done_git_err(g, r, "cannot merge the upstream");
        return;
    }
    char msg[400];
    snprintf(msg, sizeof msg, "Merge %s into %s (hl-git-sync)", g->st.upstream, g->branch);
    run(g, merge_committed, 0, "commit-tree", g->tip_tree, "-p", g->local, "-p", g->upstream,
        "-m", msg, NULL);
}

static void merge_committed(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || !take_oid(r, g->tip)) {
        done_git_err(g, r, "cannot write the merge");
        return;
    }
    run(g, work_synth, 0, "commit-tree", g->tip_tree, "-p", g->local, "-m", "hl-git-sync: base",
        NULL);
}

/* The uncommitted work: the snapshot S (parent L) carried onto the new tip
 * by a three-way merge whose base is L: a synthetic commit with the new
 * tip's tree and parent L makes L the merge base. */
static void work_synth(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || !take_oid(r, g->synth)) {
        done_git_err(g, r, "cannot carry the uncommitted work");
        return;
    }
    run(g, work_merged, F_BIG, "merge-tree", "--write-tree", "--name-only", "--no-messages",
        g->synth, g->snap, NULL);
}

static void work_merged(gs_t *g, const gs_res_t *r)
{
    if (r->code == 1) {
        conflict(g, r, "uncommitted work");
        return;
    }
    if (!r->ok || !take_oid(r, g->work_tree)) {
        done_git_err(g, r, "cannot carry the uncommitted work");
        return;
    }
    /* The record first: from here a SIGKILL is finished at the next start. */
    snprintf(g->rec.phase, sizeof g->rec.phase, "apply");
    snprintf(g->rec.branch, sizeof g->rec.branch, "%s", g->branch);
    snprintf(g->rec.old_head, sizeof g->rec.old_head, "%s", g->local);
    snprintf(g->rec.new_head, sizeof g->rec.new_head, "%s", g->tip);
    snprintf(g->rec.snapshot, sizeof g->rec.snapshot, "%s", g->snap);
    snprintf(g->rec.snap_tree, sizeof g->rec.snap_tree, "%s", g->snap_tree);
    snprintf(g->rec.work_tree, sizeof g->rec.work_tree, "%s", g->work_tree);
    if (save_record(g) < 0) {
        g->rec.phase[0] = '\0';
        done_err(g, true, "cannot write the state file", NULL);
        return;
    }
    g->in_apply = true;
    /* The index lock, as git takes it, for the whole update: the agent's
     * git add/commit wait instead of committing a tree half-way updated. */
    run(g, apply_locked, F_RAW, g->conf.inspect, "--lock", g->conf.workspace, NULL);
}

static void apply_locked(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || strncmp(r->out, "locked", 6) != 0) {
        clear_phase(g);
        g->in_apply = false;
        if (!r->ok)
            done_git_err(g, r, "cannot take the index lock");
        else
            done_wait(g, "the index is locked by another git process; trying again");
        return;
    }
    g->locked = true;
    /* Did the agent commit between the snapshot and the lock? Then the plan
     * is stale: the next cycle makes a new one. */
    char ref[300];
    snprintf(ref, sizeof ref, "refs/heads/%s", g->branch);
    run(g, apply_checked, 0, "rev-parse", "-q", "--verify", ref, NULL);
}

static void apply_checked(gs_t *g, const gs_res_t *r)
{
    char head[GS_OID_MAX] = "";
    if (!r->ok || !take_oid(r, head) || strcmp(head, g->local) != 0) {
        unlock_and_wait(g, "the branch moved while syncing; trying again");
        return;
    }
    /* Two trees, our private index (the snapshot, with fresh stat data):
     * a file the agent changed since the snapshot makes it refuse. */
    run(g, applied_tree, F_TMPIDX, "read-tree", "-m", "-u", g->snap_tree, g->work_tree, NULL);
}

/* Drops the index lock and ends the cycle waiting, with MSG. */
static void unlocked_wait(gs_t *g, const gs_res_t *r)
{
    if (r->ok)
        g->locked = false;
    clear_phase(g);
    g->in_apply = false;
    done_wait(g, g->wait_msg);
}

static void unlock_and_wait(gs_t *g, const char *msg)
{
    snprintf(g->wait_msg, sizeof g->wait_msg, "%s", msg);
    run(g, unlocked_wait, F_RAW, g->conf.inspect, "--unlock", g->conf.workspace, NULL);
}

static void applied_tree(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        unlock_and_wait(g, "the working tree changed while syncing; trying again");
        return;
    }
    char ref[300], msg[400];
    snprintf(ref, sizeof ref, "refs/heads/%s", g->branch);
    snprintf(msg, sizeof msg, "hl-git-sync: %s onto %s", g->merge_mode ? "merged" : "rebased",
             g->st.upstream);
    run(g, applied_ref, 0, "update-ref", "-m", msg, ref, g->tip, g->local, NULL);
}

static void applied_ref(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        /* The branch moved under us: put the tree back. */
        run(g, undone, F_TMPIDX, "read-tree", "-m", "-u", g->work_tree, g->snap_tree, NULL);
        return;
    }
    snprintf(g->st.head, sizeof g->st.head, "%s", g->tip);
    g->after_index = applied_index;
    index_follow(g);
}

static void undone(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        g->in_apply = false;
        done_git_err(g, r, "the branch moved while syncing and the tree could not be put back; "
                           "the state before is in the snapshot ref");
        return;
    }
    unlock_and_wait(g, "the branch moved while syncing; trying again");
}

/* The agent's index follows the branch: made as a copy (stat data kept for
 * what did not change) reset to the new head, then renamed over the index
 * and the lock dropped in one step. Staged changes stay in the tree,
 * unstaged. On failure the lock and the record stay: the next cycle
 * finishes it (the agent must not commit an index of the old head). */
static void index_follow(gs_t *g)
{
    char index[PATH_MAX], next[PATH_MAX];
    snprintf(index, sizeof index, "%s/index", g->gitdir);
    snprintf(next, sizeof next, "%s.new", g->tmp_index);
    if (access(index, F_OK) != 0) {
        index_copied(g, &(gs_res_t){.ok = true});
        return;
    }
    run(g, index_copied, F_RAW, "/bin/cp", "--preserve=timestamps", index, next, NULL);
}

static void index_copied(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot copy the index");
        return;
    }
    run(g, index_reset, F_NEWIDX, "reset", "-q", NULL);
}

static void index_reset(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot make the new index");
        return;
    }
    char next[PATH_MAX];
    snprintf(next, sizeof next, "%s.new", g->tmp_index);
    run(g, index_installed, F_RAW, g->conf.inspect, "--install-index", g->conf.workspace, next,
        NULL);
}

static void index_installed(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot install the new index");
        return;
    }
    g->locked = false;
    g->after_index(g, r);
}

static void applied_index(gs_t *g, const gs_res_t *r)
{
    clear_phase(g);
    g->in_apply = false;
    g->st.updates++;
    char detail[GS_STR];
    snprintf(detail, sizeof detail, "%s up to date with %s (%u new upstream commit(s)%s%s)",
             g->branch, g->st.upstream, g->st.behind,
             g->npicks ? (g->merge_mode ? ", local commits merged" : ", local commits rebased")
                       : "",
             g->rewritten ? "; the upstream was rewritten (force-push)" : "");
    set_detail(g, GS_SYNCED, "%s", detail);
    emit(g, "synced", detail, NULL, NULL);
    after_update(g);
}

static void after_update(gs_t *g)
{
    char seen[320];
    snprintf(seen, sizeof seen, "refs/hl-sync/seen/%s", g->branch);
    run(g, seen_updated, 0, "update-ref", seen, g->upstream, NULL);
}

static void seen_updated(gs_t *g, const gs_res_t *r)
{
    if (!r->ok)
        hlb_log(LOG_WARNING, "%s: cannot store the upstream seen: %s", g->conf.name, r->out);
    g->st.behind = 0;
    g->st.ahead = (unsigned)g->npicks;
    do_push(g);
}

/* ---- push ---- */

static void do_push(gs_t *g)
{
    if (!g->conf.push || g->st.ahead == 0) {
        do_status(g);
        return;
    }
    run(g, push_default, 0, "symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD", NULL);
}

static void push_default(gs_t *g, const gs_res_t *r)
{
    char def[256] = "";
    first_line(r, def, sizeof def);
    const char *slash = strchr(def, '/');
    snprintf(g->default_branch, sizeof g->default_branch, "%s", slash ? slash + 1 : "main");
    char *pb = gs_conf_push_branch(&g->conf, g->branch);
    if (!pb) {
        done_err(g, true, "out of memory", NULL);
        return;
    }
    snprintf(g->st.push_branch, sizeof g->st.push_branch, "%s", pb);
    free(pb);
    if (!g->conf.push_default_branch && !strcmp(g->st.push_branch, g->default_branch)) {
        char what[400];
        snprintf(what, sizeof what, "push_branch %s is the remote's default branch: not pushed "
                                    "(set push_default_branch to allow it)", g->st.push_branch);
        done_err(g, false, what, NULL);
        return;
    }
    char ref[300];
    snprintf(ref, sizeof ref, "refs/remotes/origin/%s", g->st.push_branch);
    run(g, push_remote_head, 0, "rev-parse", "-q", "--verify", ref, NULL);
}

static void push_remote_head(gs_t *g, const gs_res_t *r)
{
    char have[GS_OID_MAX] = "";
    if (r->ok)
        take_oid(r, have);
    if (!strcmp(have, g->tip)) {
        snprintf(g->st.pushed_head, sizeof g->st.pushed_head, "%s", g->tip);
        do_status(g);
        return;
    }
    static char spec[600];
    snprintf(spec, sizeof spec, "%s:refs/heads/%s", g->tip, g->st.push_branch);
    /* Never forced: a refusal is reported, not overridden. */
    run(g, pushed, F_NET, "push", "--quiet", "--porcelain", "origin", spec, NULL);
}

static void pushed(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "push refused");
        return;
    }
    snprintf(g->st.pushed_head, sizeof g->st.pushed_head, "%s", g->tip);
    do_status(g);
}

/* ---- status and pruning ---- */

static void do_status(gs_t *g)
{
    run(g, status_done, 0, "status", "--porcelain", "-z", "--untracked-files=normal",
        "--ignore-submodules=dirty", NULL);
}

static void status_done(gs_t *g, const gs_res_t *r)
{
    if (r->ok) {
        /* NUL-terminated entries "XY path"; a rename's entry has its old
         * path as one more field */
        unsigned n = 0;
        for (size_t i = 0; i < r->len;) {
            const char *e = r->out + i;
            size_t len = strnlen(e, r->len - i);
            bool renamed = len > 2 && (e[0] == 'R' || e[0] == 'C');
            n++;
            i += len + 1;
            if (renamed)
                i += strnlen(r->out + i, r->len > i ? r->len - i : 0) + 1;
        }
        g->st.dirty = n > 0;
        g->st.dirty_files = n;
    }
    if (g->st.state == GS_SYNCING)
        set_detail(g, GS_SYNCED, "%s up to date with %s%s", g->branch, g->st.upstream,
                   g->st.ahead ? " (local commits ahead)" : "");
    if (!g->snapshot_taken) {
        done_ok(g, GS_SYNCED);
        return;
    }
    char prefix[320];
    snprintf(prefix, sizeof prefix, "refs/hl-sync/snapshots/%s/", g->branch);
    run(g, prune_listed, F_BIG, "for-each-ref", "--sort=-refname",
        "--format=%(refname) %(objectname)", prefix, NULL);
}

static void prune_listed(gs_t *g, const gs_res_t *r)
{
    free(g->snaps);
    g->snaps = NULL;
    g->nsnaps = 0;
    static char victim[GS_STR];
    victim[0] = '\0';
    if (r->ok && r->out) {
        size_t cap = 0, n = 0, deletable = 0;
        uint64_t now = hlb_now_us(), max_age = (uint64_t)g->conf.snapshot_max_age_ms * 1000;
        for (char *line = r->out; *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            char ref[GS_STR], oid[GS_OID_MAX];
            if (sscanf(line, "%511s %71s", ref, oid) == 2) {
                const char *stamp = strrchr(ref, '/');
                uint64_t ts = stamp ? strtoull(stamp + 1, NULL, 10) : 0;
                n++;
                /* newest first (the stamps have the same width for ages) */
                if ((int64_t)n > g->conf.keep_snapshots && ts + max_age < now && !*victim)
                    snprintf(victim, sizeof victim, "%s", ref), deletable++;
                if (g->nsnaps < GS_SNAPLIST_MAX) {
                    if (g->nsnaps == cap) {
                        cap = cap ? cap * 2 : 16;
                        gs_snapref_t *ns = realloc(g->snaps, cap * sizeof *ns);
                        if (!ns)
                            break;
                        g->snaps = ns;
                    }
                    gs_snapref_t *s = &g->snaps[g->nsnaps++];
                    snprintf(s->ref, sizeof s->ref, "%s", ref);
                    snprintf(s->commit, sizeof s->commit, "%s", oid);
                    s->ts_us = ts;
                }
            }
            if (!nl)
                break;
            line = nl + 1;
        }
        g->st.snapshots = (unsigned)n;
        (void)deletable;
    }
    if (*victim) {
        /* One per cycle: the list is long only after a long time. */
        run(g, prune_deleted, 0, "update-ref", "-d", victim, NULL);
        return;
    }
    prune_deleted(g, &(gs_res_t){.ok = true});
}

static void prune_deleted(gs_t *g, const gs_res_t *r)
{
    done_ok(g, GS_SYNCED);
}

/* ---- recovery of an interrupted apply ---- */

static void rec_head(gs_t *g, const gs_res_t *r)
{
    char head[GS_OID_MAX] = "";
    if (r->ok)
        take_oid(r, head);
    snprintf(g->tip, sizeof g->tip, "%s", g->rec.new_head);
    snprintf(g->snap, sizeof g->snap, "%s", g->rec.snapshot);
    snprintf(g->snap_tree, sizeof g->snap_tree, "%s", g->rec.snap_tree);
    snprintf(g->work_tree, sizeof g->work_tree, "%s", g->rec.work_tree);
    snprintf(g->recovered, sizeof g->recovered, "%s", head);
    if (!g->locked) {
        /* killed before it took the lock (or someone removed it): take it */
        run(g, rec_locked, F_RAW, g->conf.inspect, "--lock", g->conf.workspace, NULL);
        return;
    }
    rec_locked(g, &(gs_res_t){.ok = true, .out = (char *)"locked"});
}

static void rec_locked(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || strncmp(r->out, "locked", 6) != 0) {
        done_wait(g, "the index is locked by another git process; finishing the interrupted "
                     "sync later");
        return;
    }
    g->locked = true;
    g->in_apply = true;
    g->st.recoveries++;
    const char *head = g->recovered;
    if (!strcmp(head, g->rec.new_head)) {
        /* The branch moved: the tree was written; the index may not be. */
        hlb_log(LOG_NOTICE, "%s: finishing an interrupted sync of %s (index)", g->conf.name,
                g->branch);
        g->after_index = rec_reset;
        index_follow(g);
        return;
    }
    hlb_log(LOG_NOTICE, "%s: finishing an interrupted sync of %s (working tree)%s", g->conf.name,
            g->branch, strcmp(head, g->rec.old_head) ? "; the branch moved since" : "");
    /* Whatever the tree holds now (partly written, or changed since) is
     * saved first, as a commit on top of the snapshot. */
    char index[PATH_MAX];
    snprintf(index, sizeof index, "%s/index", g->gitdir);
    run(g, rec_index, F_RAW, "/bin/cp", "--preserve=timestamps", index, g->tmp_index, NULL);
}

static void rec_reset(gs_t *g, const gs_res_t *r)
{
    clear_phase(g);
    g->in_apply = false;
    emit(g, "synced", "finished a sync interrupted before its end", NULL, NULL);
    run(g, head_ref, 0, "symbolic-ref", "-q", "HEAD", NULL);
}

static void rec_index(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot recover an interrupted sync (index copy)");
        return;
    }
    run(g, rec_added, F_TMPIDX, "add", "-A", "--", ".", NULL);
}

static void rec_added(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot recover an interrupted sync (snapshot)");
        return;
    }
    run(g, rec_tree, F_TMPIDX, "write-tree", NULL);
}

static void rec_tree(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || !take_oid(r, g->now_tree)) {
        done_git_err(g, r, "cannot recover an interrupted sync (snapshot)");
        return;
    }
    run(g, rec_commit, 0, "commit-tree", g->now_tree, "-p", g->snap, "-m",
        "hl-git-sync: working state found after an interrupted sync", NULL);
}

static void rec_commit(gs_t *g, const gs_res_t *r)
{
    char c[GS_OID_MAX];
    if (!r->ok || !take_oid(r, c)) {
        done_git_err(g, r, "cannot recover an interrupted sync (snapshot)");
        return;
    }
    snprintf(g->snap_ref, sizeof g->snap_ref, "refs/hl-sync/snapshots/%s/%llu", g->branch,
             (unsigned long long)hlb_now_us());
    snprintf(g->synth, sizeof g->synth, "%s", c); /* S2, until the ref is stored */
    run(g, rec_ref, 0, "update-ref", g->snap_ref, c, "", NULL);
}

static void rec_ref(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        done_git_err(g, r, "cannot recover an interrupted sync (snapshot ref)");
        return;
    }
    g->snapshot_taken = true;
    snprintf(g->st.last_snapshot, sizeof g->st.last_snapshot, "%s", g->snap_ref);
    if (strcmp(g->recovered, g->rec.old_head) != 0) {
        /* Someone moved the branch since: their tree is theirs. */
        rec_saved_only(g, r);
        return;
    }
    /* X: the planned tree on top of S; merged with S2 (also on S), base
     * T_s: the planned tree plus whatever changed since the snapshot. */
    snprintf(g->recovered, sizeof g->recovered, "%s", g->synth);
    run(g, rec_synth, 0, "commit-tree", g->work_tree, "-p", g->snap, "-m", "hl-git-sync: plan",
        NULL);
}

static void rec_synth(gs_t *g, const gs_res_t *r)
{
    if (!r->ok || !take_oid(r, g->synth)) {
        done_git_err(g, r, "cannot recover an interrupted sync");
        return;
    }
    run(g, rec_merged, 0, "merge-tree", "--write-tree", "--no-messages", g->synth, g->recovered,
        NULL);
}

static void rec_merged(gs_t *g, const gs_res_t *r)
{
    char tree[GS_OID_MAX];
    if (r->code == 0 && take_oid(r, tree))
        snprintf(g->work_tree, sizeof g->work_tree, "%s", tree);
    /* else: a file written half way conflicts: the planned tree; what was
     * there is in the snapshot just stored. */
    g->in_apply = true;
    run(g, rec_tree_written, F_TMPIDX, "read-tree", "-m", "-u", g->now_tree, g->work_tree, NULL);
}

static void rec_tree_written(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        /* the record and the lock stay: the next cycle tries again */
        g->in_apply = false;
        done_wait(g, "the working tree changed while finishing an interrupted sync; trying again");
        return;
    }
    char ref[300];
    snprintf(ref, sizeof ref, "refs/heads/%s", g->branch);
    run(g, rec_ref_moved, 0, "update-ref", "-m", "hl-git-sync: finished an interrupted sync", ref,
        g->tip, g->rec.old_head, NULL);
}

static void rec_ref_moved(gs_t *g, const gs_res_t *r)
{
    if (!r->ok) {
        /* The branch moved meanwhile: what was there goes back (it is also
         * in the snapshot just stored); the next cycle syncs afresh. */
        run(g, undone, F_TMPIDX, "read-tree", "-m", "-u", g->work_tree, g->now_tree, NULL);
        return;
    }
    g->after_index = rec_reset;
    index_follow(g);
}

static void rec_saved_only(gs_t *g, const gs_res_t *r)
{
    run(g, rec_saved_unlocked, F_RAW, g->conf.inspect, "--unlock", g->conf.workspace, NULL);
}

static void rec_saved_unlocked(gs_t *g, const gs_res_t *r)
{
    g->locked = false;
    g->in_apply = false;
    clear_phase(g);
    char detail[GS_STR];
    snprintf(detail, sizeof detail, "an interrupted sync of %s was not finished: the branch "
                                    "moved since; the working state is saved in %s",
             g->branch, g->snap_ref);
    emit(g, "error", detail, NULL, NULL);
    run(g, head_ref, 0, "symbolic-ref", "-q", "HEAD", NULL);
}

/* ---- public ---- */

gs_t *gs_new(hlb_reactor_t *io, const gs_hooks_t *hooks, void *arg)
{
    gs_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->io = io;
    g->hooks = *hooks;
    g->arg = arg;
    hlb_timer_init(&g->timer, cycle, g);
    srandom((unsigned)(hlb_mono_us() ^ (uint64_t)getpid()));
    return g;
}

void gs_destroy(gs_t **gp)
{
    if (!gp || !*gp)
        return;
    gs_t *g = *gp;
    gs_cancel(g);
    hlb_timer_stop(g->io, &g->timer);
    gs_conf_free(&g->conf);
    free(g->home);
    free(g->gitdir);
    free(g->tmp_index);
    free(g->record_path);
    free(g->picks);
    free(g->snaps);
    free(g->pick_msg);
    strv_free(g->author_env);
    strv_free(g->st.conflict_files);
    for (size_t i = 0; i < GS_LOG_MAX; i++)
        strv_free(g->log[i].files);
    free(g);
    *gp = NULL;
}

int gs_configure(gs_t *g, gs_conf_t *conf, char *err, size_t n)
{
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    if (*conf->owner) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwnam_r(conf->owner, &pw, buf, sizeof buf, &res) != 0 || !res) {
            snprintf(err, n, "owner: no user named '%s'", conf->owner);
            return -EINVAL;
        }
        uid = res->pw_uid;
        gid = res->pw_gid;
    } else if (gs_repo_owner(conf->workspace, &uid, &gid) < 0) {
        snprintf(err, n, "the workspace %s and its parent do not exist: cannot tell its owner",
                 conf->workspace);
        return -EINVAL;
    }
    if (uid != geteuid() && geteuid() != 0 && getuid() != 0) {
        /* With CAP_SETUID (the unit's), switching is allowed anyway: hlb_proc reports it. */
    }
    bool first = !g->configured;
    if (g->configured && g->running) {
        /* Paths stay (restart keys); settings apply from the next cycle. */
    }
    gs_conf_free(&g->conf);
    g->conf = *conf;
    memset(conf, 0, sizeof *conf);
    g->uid = uid;
    g->gid = gid;
    g->same_user = uid == geteuid();
    struct passwd pw, *res = NULL;
    char buf[4096];
    free(g->home);
    g->home = getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res ? strdup(res->pw_dir)
                                                                      : strdup("/");
    free(g->gitdir);
    free(g->tmp_index);
    free(g->record_path);
    if (asprintf(&g->gitdir, "%s/.git", g->conf.workspace) < 0)
        g->gitdir = NULL;
    if (asprintf(&g->tmp_index, "%s/.git/hl-sync.index", g->conf.workspace) < 0)
        g->tmp_index = NULL;
    if (asprintf(&g->record_path, "%s/%s.state", g->conf.state_dir, g->conf.name) < 0)
        g->record_path = NULL;
    if (!g->gitdir || !g->tmp_index || !g->record_path) {
        snprintf(err, n, "out of memory");
        return -ENOMEM;
    }
    snprintf(g->st.repo, sizeof g->st.repo, "%s", g->conf.name);
    snprintf(g->st.workspace, sizeof g->st.workspace, "%s", g->conf.workspace);
    if (!*g->st.remote || first) {
        snprintf(g->st.remote, sizeof g->st.remote, "%s", g->conf.repo_url);
        gs_redact(g->st.remote, NULL);
    }
    g->configured = true;
    g->adopted = false; /* a new repo_url is checked against the repository again */
    if (first) {
        gs_record_t rec;
        if (gs_record_load(g->record_path, &rec) == 0 && rec.paused[0]) {
            g->st.paused = true;
            size_t k = 1;
            for (const char *p = rec.conflict; *p; p++)
                k += *p == '\x1f';
            char **files = calloc(k + 1, sizeof *files);
            size_t i = 0;
            for (char *s = rec.conflict, *tok; files && (tok = strsep(&s, "\x1f"));)
                if (*tok)
                    files[i++] = strdup(tok);
            g->st.conflict_files = files;
        }
        schedule(g, 0);
    } else if (!g->running) {
        schedule(g, 0);
    }
    return 0;
}

void gs_sync_now(gs_t *g)
{
    if (g->running)
        g->again = true;
    else
        schedule(g, 0);
}

int gs_resume(gs_t *g)
{
    gs_record_t rec;
    gs_record_load(g->record_path, &rec);
    if (!rec.paused[0] && !g->st.paused)
        return -EALREADY;
    if (g->running) {
        /* The running cycle's record is written from g->rec. */
        g->rec.paused[0] = g->rec.conflict[0] = '\0';
    }
    rec.paused[0] = rec.conflict[0] = '\0';
    gs_record_save(g->record_path, &rec);
    g->rec.paused[0] = '\0';
    g->st.paused = false;
    strv_free(g->st.conflict_files);
    g->st.conflict_files = NULL;
    hlb_log(LOG_NOTICE, "%s: resumed", g->conf.name);
    gs_sync_now(g);
    return 0;
}

bool gs_running(const gs_t *g)
{
    return g->running;
}

bool gs_in_apply(const gs_t *g)
{
    return g->in_apply;
}

void gs_hold(gs_t *g)
{
    g->held = true;
    hlb_timer_stop(g->io, &g->timer);
}

void gs_cancel(gs_t *g)
{
    if (g->proc) {
        hlb_proc_cancel(&g->proc);
        g->next = NULL;
    }
    wipe_secret(g);
    g->running = false;
}

const gs_status_t *gs_status(const gs_t *g)
{
    return &g->st;
}

size_t gs_log(const gs_t *g, const gs_logged_t **out, size_t *start)
{
    *out = g->log;
    *start = g->log_n == GS_LOG_MAX ? g->log_head : 0;
    return g->log_n;
}

size_t gs_snapshots(const gs_t *g, const gs_snapref_t **out)
{
    *out = g->snaps;
    return g->nsnaps;
}
