/* What hl-backup does: create a backup (scan, archive, verify by a restore,
 * commit, retention), verify one (its chain's archives against their
 * manifests, then a restore into a scratch directory checked file by file),
 * restore one. Each takes the directory's lock first. Bus-free: what
 * happens is reported through the EVENT callback (main.c publishes it). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "bk_check.h"
#include "bk_config.h"
#include "bk_lock.h"

/* Exit statuses of hl-backup (and of its operations). */
enum {
    BK_EXIT_OK = 0,
    BK_EXIT_PARTIAL = 1,  /* done; some files changed while read (the archive holds what tar saw) */
    BK_EXIT_BAD = 2,      /* a backup did not verify, or a restore does not match its manifest */
    BK_EXIT_FAILED = 3,   /* nothing was written (tar failed, no space, ...) */
    BK_EXIT_USAGE = 64,
    BK_EXIT_NOTFOUND = 66,
    BK_EXIT_BUSY = 75,    /* another run holds the lock */
    BK_EXIT_CONFIG = 78,
};

typedef struct bk_result {
    char *op;       /* create, verify, restore */
    char *id, *kind, *parent, *reason;
    const char *outcome; /* ok, partial, bad, failed, busy, notfound */
    char *detail;
    bk_problems_t problems;
    char **pruned, **cleaned;
    uint64_t archive_bytes, files, stored, changed, hashed, reused, ts_us, duration_us;
    char *archive; /* the archive's path */
    bool reclaimed;
    bk_owner_t prev_owner; /* whose lock was reclaimed, or who holds it (busy) */
    int exit;
} bk_result_t;

typedef void (*bk_event_fn)(const char *event, const bk_result_t *r, void *arg);

typedef struct bk_create_opts {
    const char *reason; /* timer, request, shutdown */
    const char *prefix; /* BK_PREFIX_BACKUP or BK_PREFIX_STATE */
    const char *name;   /* the id to use (NULL: a new one from the time) */
    bool full;          /* a full backup even when an incremental could be made */
    int64_t wait_ms;    /* how long to wait for a run that holds the lock (0: busy at once) */
    bk_event_fn event;
    void *arg;
} bk_create_opts_t;

int bk_create(const bk_cfg_t *c, const bk_create_opts_t *o, bk_result_t *r);

/* ID may be "latest". QUICK: the archives' hashes only, no restore. */
int bk_verify(const bk_cfg_t *c, const char *id, bool quick, bk_event_fn ev, void *arg,
              bk_result_t *r);

/* Restores ID's chain under TO ("/" by default: in place), only what is at
 * or below ONLY when set, then checks what it restored against the
 * manifest. The archives are checked before anything is written. */
int bk_restore(const bk_cfg_t *c, const char *id, const char *to, const char *only,
               bk_event_fn ev, void *arg, bk_result_t *r);

void bk_result_free(bk_result_t *r);
