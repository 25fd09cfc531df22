/* The sync engine: clone, then every cycle fetch and bring the checked-out
 * branch up to date with its upstream without ever losing local work. Every
 * git command is a child process (hlb_proc) as the workspace's owner; the
 * engine is a chain of steps on the daemon's reactor, one command at a time.
 *
 * How local work is kept: before anything that changes the working tree
 * the whole working state (untracked files that are not ignored included)
 * is committed with a private index (GIT_INDEX_FILE) and kept under
 * refs/hl-sync/snapshots/; the agent's index is not touched. The rebase of
 * local commits and of the uncommitted changes onto the upstream is done
 * in memory (git merge-tree --write-tree), so a conflict never leaves the
 * working tree half-done: it is not touched at all. The new tree is then
 * written with a two-tree read-tree (which refuses to overwrite a file that
 * changed since the snapshot) and the branch moved with a compare-and-swap
 * update-ref. What was in flight is recorded in a state file, so a SIGKILL
 * at any point is finished or undone at the next start. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <hlbus/reactor.h>

#include "gs_config.h"

typedef struct gs gs_t;

typedef enum {
    GS_UNKNOWN, GS_UNCONFIGURED, GS_CLONING, GS_SYNCING, GS_SYNCED,
    GS_WAITING, GS_CONFLICT, GS_ERROR, GS_DETACHED,
} gs_state_t; /* the values of proto GitState */

#define GS_STR 512
typedef struct gs_status {
    gs_state_t state;
    char repo[128], workspace[GS_STR], remote[GS_STR], branch[256], upstream[256];
    char detail[GS_STR], error[1024];
    char head[72], upstream_head[72], last_snapshot[GS_STR], push_branch[256], pushed_head[72];
    unsigned ahead, behind, dirty_files, snapshots;
    bool dirty, paused, retryable, cloned;
    bool running; /* a cycle runs; STATE is still the last cycle's outcome */
    char **conflict_files; /* NULL-terminated */
    uint64_t last_sync_us, last_attempt_us, next_sync_us, last_duration_us;
    uint64_t syncs, failures, updates, conflicts, stale_locks_removed, recoveries;
} gs_status_t;

typedef struct gs_event {
    const char *kind; /* synced, conflict, error */
    const char *branch, *detail, *head_before, *head_after, *snapshot, *git_message;
    char *const *files;
    uint64_t duration_us;
} gs_event_t;

typedef struct gs_hooks {
    void (*state)(gs_t *g, const gs_status_t *st, void *arg);
    void (*event)(gs_t *g, const gs_event_t *ev, void *arg);
    /* A cycle ended (nothing of ours runs in the repository now). */
    void (*idle)(gs_t *g, void *arg);
} gs_hooks_t;

gs_t *gs_new(hlb_reactor_t *io, const gs_hooks_t *hooks, void *arg);
void gs_destroy(gs_t **g);
/* Takes *CONF (the caller's copy is zeroed). The first call schedules the
 * first cycle at once. Returns 0 or -EINVAL with ERR set (the owner). */
int gs_configure(gs_t *g, gs_conf_t *conf, char *err, size_t n);
/* A cycle now (or right after the one that runs). */
void gs_sync_now(gs_t *g);
/* Lifts a conflict pause; -EALREADY when none. */
int gs_resume(gs_t *g);
/* Whether a cycle is running. */
bool gs_running(const gs_t *g);
/* Whether the running cycle is between writing the working tree and moving
 * the branch (stopping there is recovered at the next start, but finishing
 * is better). */
bool gs_in_apply(const gs_t *g);
/* No new cycle starts (shutdown). */
void gs_hold(gs_t *g);
/* Cancels what runs (the group is killed); the record of an apply in
 * flight stays for the next start. */
void gs_cancel(gs_t *g);
const gs_status_t *gs_status(const gs_t *g);

/* Recent events (newest last) and the snapshot refs seen at the last prune,
 * for the "log" method. */
typedef struct gs_logged {
    char kind[16], detail[GS_STR], branch[256], head_before[72], head_after[72], snapshot[GS_STR];
    char git_message[1024];
    char **files;
    uint64_t ts_us, duration_us;
} gs_logged_t;
#define GS_LOG_MAX 64
/* The ring of GS_LOG_MAX entries; the oldest at *START. */
size_t gs_log(const gs_t *g, const gs_logged_t **out, size_t *start);
typedef struct gs_snapref {
    char ref[GS_STR], commit[72];
    uint64_t ts_us;
} gs_snapref_t;
size_t gs_snapshots(const gs_t *g, const gs_snapref_t **out);

/* Removes "user:password@" from URLs in S and every occurrence of SECRET
 * (when not NULL or empty), in place. Exposed for tests. */
void gs_redact(char *s, const char *secret);
/* Whether git's MESSAGE is worth retrying soon (network, disk, lock) or not
 * (authentication, a missing repository or branch, corruption). */
bool gs_retryable(const char *message);
/* Whether git's MESSAGE says another git process held a lock it needed. */
bool gs_contended(const char *message);
