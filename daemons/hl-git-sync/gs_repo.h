/* What hl-git-sync learns about the workspace without running git: who else
 * is using the repository (from /proc), which lock files are stale, whether
 * the agent is in the middle of a rebase or merge, and the record of a sync
 * in flight that survives a SIGKILL. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A git process (its comm starts with "git") whose working directory is in
 * WORKSPACE or which has a file of GITDIR open, other than our own
 * processes: its pid, or 0. WHY gets "git (pid 123) in /ws". */
pid_t gs_repo_git_user(const char *workspace, const char *gitdir, char *why, size_t n);

/* Looks at GITDIR's lock files (index.lock, HEAD.lock, config.lock,
 * packed-refs.lock, shallow.lock and those under refs/). A lock some
 * process has open, or taken while a git process works in the repository,
 * is held: returns -EBUSY with its path in HELD. Otherwise every lock left
 * behind by a process that is gone is removed: returns how many, and the
 * last one's path in HELD. */
/* KEEP_INDEX_LOCK: an index.lock nobody holds is ours (an interrupted
 * sync's): kept, *OURS set. */
int gs_repo_clear_stale_locks(const char *workspace, const char *gitdir, bool keep_index_lock,
                              bool *ours, char *held, size_t n);

/* "rebase", "merge", "cherry-pick", "revert", "bisect" when GITDIR has
 * one in progress in the main working tree, else NULL. */
const char *gs_repo_operation(const char *gitdir);

/* The record of a sync in flight (state_dir/<name>.state): written before
 * hl-git-sync changes the working tree, read at start to finish or undo what
 * a SIGKILL interrupted. Plain "key value" lines. */
#define GS_OID_MAX 72
typedef struct gs_record {
    char phase[16];          /* "", "clone", "apply" */
    char branch[256];
    char old_head[GS_OID_MAX];   /* L: the branch before */
    char new_head[GS_OID_MAX];   /* N: the branch after */
    char snapshot[GS_OID_MAX];   /* S: the snapshot commit of the working state */
    char snap_tree[GS_OID_MAX];  /* T_s: its tree */
    char work_tree[GS_OID_MAX];  /* T_w: the working tree after */
    char paused[256];        /* a branch paused by a conflict */
    char conflict[2048];     /* its files, separated by newlines ('\n' stored as \x1f) */
} gs_record_t;

int gs_record_load(const char *path, gs_record_t *r);
/* Written to a temporary file, fsynced and renamed over PATH. */
int gs_record_save(const char *path, const gs_record_t *r);

/* The uid/gid owning PATH, or its parent when PATH does not exist. */
int gs_repo_owner(const char *path, uid_t *uid, gid_t *gid);
/* Whether DIR is missing or an empty directory. */
bool gs_dir_empty(const char *dir);
