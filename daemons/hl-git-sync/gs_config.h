/* hl-git-sync's config section: see deploy/config/hl-git-sync.yaml.example.
 * The spec's environment (HL_REPO_URL, HL_WORKSPACE, HL_SYNC_INTERVAL) fills
 * what the file leaves out. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <hlbus/conf.h>

#define GS_DEFAULT_WORKSPACE "/home/hluser/workspace"
#define GS_DEFAULT_INTERVAL_MS 60000

typedef struct gs_conf {
    char *repo_url;      /* "" with an adopted repository: its origin */
    char *workspace;
    char *name;          /* the <repo> of git.<repo>; default: the workspace's basename */
    char *branch;        /* the branch to clone; "" the remote's HEAD */
    char *owner;         /* user git runs as; "" the workspace's (or its parent's) owner */
    char *git;           /* the git binary */
    char *askpass;       /* the askpass helper (hl-git-askpass) */
    char *inspect;       /* the workspace inspector (hl-git-inspect), run as the owner */
    char *state_dir;     /* where the interrupted-sync record lives */
    int64_t interval_ms;
    int64_t git_timeout_ms, fetch_timeout_ms, clone_timeout_ms;
    int64_t retry_min_ms, retry_max_ms, busy_retry_ms, ready_timeout_ms;
    /* clone */
    char *filter;        /* "blob:none" for a partial clone; "" full */
    int64_t depth;       /* > 0: shallow */
    /* snapshots under refs/hl-sync/ */
    int64_t keep_snapshots, snapshot_max_age_ms;
    /* push */
    bool push;
    char *push_branch;   /* "{branch}" is replaced by the branch's name */
    bool push_default_branch;
    /* credentials, read again before every network command */
    char *username;
    char *token_file;
    char *token_credential;
    char *identity_name, *identity_email;
} gs_conf_t;

/* Reads SECTION (may be NULL) into OUT, then the environment. Every problem
 * goes to DIAG with file:line; 0 or -EINVAL. Free OUT with gs_conf_free
 * either way. */
int gs_conf_parse(const hlb_conf_t *section, gs_conf_t *out, hlb_diag_t *diag);
void gs_conf_free(gs_conf_t *c);
/* The push branch for BRANCH ("{branch}" replaced); free() it. */
char *gs_conf_push_branch(const gs_conf_t *c, const char *branch);
/* The --help summary of the keys; free() it. */
char *gs_conf_help(void);
