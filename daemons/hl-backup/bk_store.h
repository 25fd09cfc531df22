/* The backup directory (/var/backups/hl): what is in it and the rules that
 * keep it consistent.
 *
 * A backup ID (hl-backup-20261207T054500Z; the shutdown archive's are
 * hl-state-...) is the files ID.tar.gz (the archive), ID.snar (tar's
 * snapshot after it, for the next incremental) and ID.manifest, written in
 * that order, each under a temporary name (.ID.*.part), fsync'd and renamed
 * into place: the manifest comes last, so a backup is complete exactly when
 * its manifest exists, and nothing a killed run leaves is mistaken for one.
 * ID.bad marks one that did not verify (it never becomes latest nor a
 * parent). hl-state-latest.tar.gz is a link to the newest verified
 * archive, replaced by rename(2). Archives without manifest or snapshot
 * are legacy (written before hl-backup): listed, pruned, never trusted. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BK_PREFIX_BACKUP "hl-backup-"
#define BK_PREFIX_STATE "hl-state-"
#define BK_LATEST "hl-state-latest.tar.gz"

typedef enum { BK_GOOD, BK_BAD, BK_LEGACY, BK_DAMAGED } bk_state_t;

typedef struct bk_info {
    char *id;
    uint64_t ts_us;      /* from the name */
    uint64_t mtime_us;   /* the archive's (the manifest's when it is gone): its age */
    bk_state_t state;
    char *kind, *parent, *reason; /* from the manifest (NULL when none) */
    uint64_t archive_size, entries;
    char *why;           /* BAD: the .bad file's first line; DAMAGED: the parse error */
} bk_info_t;

typedef struct bk_list {
    bk_info_t *v; /* newest first */
    size_t n;
} bk_list_t;

const char *bk_state_name(bk_state_t s);

/* PREFIX + "20261207T054500Z" for TS_US (UTC). The caller frees. */
char *bk_store_name(const char *prefix, uint64_t ts_us);
/* The time in ID's name, or 0 when it is not one of ours. */
uint64_t bk_store_id_time(const char *id);
/* Whether ID is a backup's id (one of the two prefixes and a stamp). */
bool bk_store_id_ok(const char *id);
/* A name for a backup taken at NOW_US that no file in DIR has yet (the
 * next second's when taken). The caller frees. */
char *bk_store_new_id(const char *dir, const char *prefix, uint64_t now_us);

/* "DIR/ID.SUFFIX"; the caller frees. */
char *bk_store_path(const char *dir, const char *id, const char *suffix);

/* Every backup in DIR. 0 or -errno. */
int bk_store_list(const char *dir, bk_list_t *out);
void bk_list_free(bk_list_t *l);
const bk_info_t *bk_list_find(const bk_list_t *l, const char *id);
/* The newest GOOD one, or NULL. */
const bk_info_t *bk_list_newest_good(const bk_list_t *l);
/* The ids from ID's full backup to ID itself, oldest first (NULL-terminated;
 * the caller frees), or NULL with *MISSING (the caller frees) naming the
 * first backup of the chain that is not there, bad or damaged. */
char **bk_list_chain(const bk_list_t *l, const char *id, char **missing);

/* The id the latest link points at, or NULL. */
char *bk_store_latest(const char *dir);
/* Points the latest link at ID (NULL: removes it), atomically. 0 or -errno. */
int bk_store_set_latest(const char *dir, const char *id);
/* Writes ID.bad with WHY, durably. 0 or -errno. */
int bk_store_mark_bad(const char *dir, const char *id, const char *why);
/* Removes every file of ID. */
void bk_store_remove(const char *dir, const char *id);

/* Removes what interrupted runs left (temporary names, scratch trees, a
 * snapshot or archive without its manifest). Only under the lock. Appends
 * the names to *REMOVED. */
int bk_store_clean(const char *dir, char ***removed);

/* Retention of the backups named PREFIX...: keeps the KEEP newest (good
 * and legacy; PROTECT, the new one, and the latest always), none older than
 * MAX_AGE_MS by its archive's mtime (0: no limit), the two newest bad ones,
 * and whatever a kept incremental of any prefix needs; removes the rest.
 * Backups of the other prefix are another writer's, under its own rule (the
 * shutdown archives, hl-state-, have the orchestrator's). Appends the
 * removed ids to *PRUNED. 0 or -errno. */
int bk_store_prune(const char *dir, const char *prefix, int64_t keep, int64_t max_age_ms,
                   uint64_t now_us, const char *protect, char ***pruned);

/* Writes DATA (LEN bytes) to DIR/NAME through DIR/.NAME.part, fsync'd,
 * mode 0600. 0 or -errno. */
int bk_store_write_file(const char *dir, const char *name, const void *data, size_t len);
/* mkdir -p, MODE for what it creates. 0 or -errno. */
int bk_mkdir_p(const char *path, mode_t mode);
/* fsync of a file and of a directory by path. 0 or -errno. */
int bk_fsync_path(const char *path);
