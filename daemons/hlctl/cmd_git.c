/* hlctl git status|sync|resume|log: hl-git-sync's workspace repository.
 * Exit codes: 0 synced, 1 waiting, paused by a conflict, detached or not
 * configured, 2 an error (or hl-git-sync unreachable). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitsync.pb-c.h"
#include "hlctl.h"

#define USAGE "git status | git sync [--no-wait] | git resume | git log"

static int state_exit(Hl__GitState s)
{
    if (s == HL__GIT_STATE__GIT_SYNCED)
        return HLCTL_OK;
    if (s == HL__GIT_STATE__GIT_ERROR || s == HL__GIT_STATE__GIT_UNKNOWN)
        return HLCTL_CRITICAL;
    return HLCTL_DEGRADED;
}

static void ago(char *out, size_t n, uint64_t us)
{
    hlctl_format_ago(out, n, us, true);
}

static Hl__GitStatus *get_status(hlctl_t *ctx, const char *method, Hl__Reply **rp, int *rc)
{
    *rc = hlctl_call(ctx, "hl-git-sync", method, NULL, rp);
    if (*rc != HLCTL_OK)
        return NULL;
    Hl__GitStatus *m = (Hl__GitStatus *)hlb_reply_decode(*rp, &hl__git_status__descriptor);
    if (!m) {
        hlctl_fprintf(stderr, "hlctl: hl-git-sync sent an unexpected '%s' reply\n", (*rp)->type);
        hl__reply__free_unpacked(*rp, NULL);
        *rp = NULL;
        *rc = HLCTL_CRITICAL;
    }
    return m;
}

static void print_status(const Hl__GitStatus *m)
{
    char a[64], b[64], c[64];
    hlctl_printf("repository %s (%s)\n", m->repo, m->workspace);
    hlctl_printf("remote     %s\n", m->remote);
    hlctl_printf("state      %s: %s\n", hlb_pb_enum_word(&hl__git_state__descriptor, m->state),
                 m->detail);
    if (*m->branch)
        hlctl_printf("branch     %s -> %s, %u ahead, %u behind, %s\n", m->branch, m->upstream,
                     m->ahead, m->behind,
                     m->dirty ? "uncommitted changes" : "clean");
    if (*m->head)
        hlctl_printf("head       %.12s (upstream %.12s)\n", m->head, m->upstream_head);
    for (size_t i = 0; i < m->n_conflict_files; i++)
        hlctl_printf("conflict   %s\n", m->conflict_files[i]);
    if (*m->error)
        hlctl_printf("error      %s%s\n", m->error, m->retryable ? " (retrying)" : "");
    ago(a, sizeof a, m->last_sync_us);
    ago(b, sizeof b, m->last_attempt_us);
    ago(c, sizeof c, m->next_sync_us);
    hlctl_printf("synced     %s; last attempt %s (%.1f ms); next %s\n", a, b,
                 (double)m->last_duration_us / 1000.0, m->next_sync_us ? c : "-");
    hlctl_printf("counters   %llu syncs, %llu updates, %llu failures, %llu conflicts, %llu stale "
                 "locks removed, %llu recoveries\n",
                 (unsigned long long)m->syncs, (unsigned long long)m->updates,
                 (unsigned long long)m->failures, (unsigned long long)m->conflicts,
                 (unsigned long long)m->stale_locks_removed, (unsigned long long)m->recoveries);
    if (*m->last_snapshot)
        hlctl_printf("snapshot   %s (%u kept)\n", m->last_snapshot, m->snapshots);
    if (*m->push_branch)
        hlctl_printf("push       %s at %.12s\n", m->push_branch, m->pushed_head);
}

/* Prints M (or R as JSON), frees both; the exit code of its state. */
static int show(hlctl_t *ctx, Hl__GitStatus *m, Hl__Reply *r, int rc)
{
    if (!m)
        return rc;
    if (ctx->json)
        hlctl_print_json(r);
    else
        print_status(m);
    rc = state_exit(m->state);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return rc;
}

static int status(hlctl_t *ctx, const char *method)
{
    Hl__Reply *r;
    int rc;
    Hl__GitStatus *m = get_status(ctx, method, &r, &rc);
    return show(ctx, m, r, rc);
}

/* Asks for a cycle, then waits for one that started after the request. */
static int sync_wait(hlctl_t *ctx, bool wait)
{
    uint64_t asked = hlb_now_us();
    if (!wait)
        return status(ctx, "sync");
    Hl__Reply *r;
    int rc;
    Hl__GitStatus *m = get_status(ctx, "sync", &r, &rc);
    for (int i = 0; m && i < 6000 && !hlctl_interrupted; i++) {
        /* Until the cycle ends, state is the outcome of the one before. */
        bool done = m->last_attempt_us >= asked && !m->running;
        if (done)
            break;
        protobuf_c_message_free_unpacked(&m->base, NULL);
        hl__reply__free_unpacked(r, NULL);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        m = get_status(ctx, "git", &r, &rc);
    }
    return show(ctx, m, r, rc);
}

static int show_log(hlctl_t *ctx)
{
    Hl__Reply *r;
    int rc = hlctl_call(ctx, "hl-git-sync", "log", NULL, &r);
    if (rc != HLCTL_OK)
        return rc;
    Hl__GitLog *m = (Hl__GitLog *)hlb_reply_decode(r, &hl__git_log__descriptor);
    if (!m) {
        hlctl_fprintf(stderr, "hlctl: hl-git-sync sent an unexpected '%s' reply\n", r->type);
        hl__reply__free_unpacked(r, NULL);
        return HLCTL_CRITICAL;
    }
    if (ctx->json) {
        hlctl_print_json(r);
    } else {
        for (size_t i = 0; i < m->n_events; i++) {
            Hl__GitEvent *e = m->events[i];
            char when[64];
            ago(when, sizeof when, e->ts_us);
            hlctl_printf("%-12s %-8s %s%s%s\n", when, e->kind, e->detail,
                         *e->git_message ? ": " : "", e->git_message);
            for (size_t j = 0; j < e->n_files; j++)
                hlctl_printf("%-12s %-8s   %s\n", "", "", e->files[j]);
        }
        for (size_t i = 0; i < m->n_snapshots; i++) {
            char when[64];
            ago(when, sizeof when, m->snapshots[i]->ts_us);
            hlctl_printf("snapshot %s %.12s (%s)\n", m->snapshots[i]->ref,
                         m->snapshots[i]->commit, when);
        }
    }
    protobuf_c_message_free_unpacked(&m->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return HLCTL_OK;
}

int hlctl_cmd_git(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"no-wait", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    bool wait = true;
    int opt;
    while ((opt = getopt_long(argc, argv, "+n", opts, NULL)) != -1) {
        if (opt == 'n')
            wait = false;
        else
            return hlctl_usage(USAGE);
    }
    const char *sub = optind < argc ? argv[optind] : "status";
    optind++;
    while (optind < argc && !strcmp(argv[optind], "--no-wait")) {
        wait = false;
        optind++;
    }
    if (optind < argc)
        return hlctl_usage(USAGE);
    if (!strcmp(sub, "status"))
        return status(ctx, "git");
    if (!strcmp(sub, "sync"))
        return sync_wait(ctx, wait);
    if (!strcmp(sub, "resume")) {
        Hl__Reply *r;
        int rc = hlctl_call(ctx, "hl-git-sync", "resume", NULL, &r);
        if (rc != HLCTL_OK)
            return rc;
        if (ctx->json)
            hlctl_print_json(r);
        else
            printf("resumed: syncing\n");
        hl__reply__free_unpacked(r, NULL);
        return HLCTL_OK;
    }
    if (!strcmp(sub, "log"))
        return show_log(ctx);
    return hlctl_usage(USAGE);
}
