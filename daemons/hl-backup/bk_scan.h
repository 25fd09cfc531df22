/* The scan: what the backed-up paths hold now, as manifest entries. A file
 * whose size, times and inode are those of the previous backup's entry
 * keeps that entry's SHA-256 unread (the same test tar's incremental mode
 * makes, so a 15-minute run reads only what changed); any other is read. */
#pragma once
#include <stddef.h>
#include <sys/stat.h>
#include <hlbus/buf.h>

#include "bk_manifest.h"

typedef struct bk_scan_opts {
    char *const *paths;   /* absolute; missing ones are skipped */
    char *const *exclude; /* absolute; the path and all below it */
    const char *skip;     /* the backup directory itself, never backed up */
    const bk_manifest_t *prev; /* NULL: hash everything */
} bk_scan_opts_t;

typedef struct bk_scan_stats {
    size_t hashed, reused, unreadable;
    uint64_t bytes_hashed;
} bk_scan_stats_t;

/* Fills OUT (entries only, sorted). Unreadable files are left out and
 * named in WARN (tar cannot read them either). 0 or -errno. */
int bk_scan(const bk_scan_opts_t *o, bk_manifest_t *out, bk_scan_stats_t *st, hlb_buf_t *warn);

/* Whether PATH is EXCL or below it. */
bool bk_path_under(const char *path, const char *excl);

/* An entry for what SB describes at DIRFD/NAME, named PATH; the SHA-256
 * read unless REUSE (same file as before) gives it. 0, -errno (unreadable). */
int bk_entry_from(const char *path, int dirfd, const char *name, const struct stat *sb,
                  const bk_entry_t *reuse, bk_entry_t *e);
