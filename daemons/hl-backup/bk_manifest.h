/* A backup's manifest: what the backed-up tree held when it was taken (every
 * file, directory and link with its size, mode and SHA-256) and which of
 * them this backup's own archive stores (the rest are in the archives of
 * its chain, an incremental's ancestors). It is the proof a restore is
 * checked against, so it checks itself: its last line is the SHA-256 of
 * everything before it.
 *
 * The text format (docs/backup.md), one record a line, fields separated by
 * one space, paths %-escaped (bytes up to 0x20, 0x7f and '%' as %XX):
 *
 *   hl-backup-manifest 1
 *   id hl-backup-20261207T054500Z
 *   kind full|incremental
 *   parent ID|-
 *   reason timer|request|shutdown
 *   created_us N
 *   archive_size N
 *   archive_sha256 HEX
 *   snar_sha256 HEX|-
 *   entries N
 *   TYPE MODE SIZE MTIME_NS CTIME_NS INO SHA STORED PATH     (N lines, by PATH)
 *   end HEX
 *
 * TYPE f (file), d (directory), l (link: SHA of its target), o (other);
 * MODE octal permission bits; SHA "-" for d and o; STORED s (in this
 * archive) or i (inherited); PATH absolute, without "." or ".." parts. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_sha256.h"

typedef struct bk_entry {
    char type;          /* 'f', 'd', 'l', 'o' */
    uint32_t mode;      /* 07777 bits */
    uint64_t size;
    int64_t mtime_ns, ctime_ns;
    uint64_t ino;       /* with the times: whether a file can keep its old hash */
    char sha[BK_SHA_HEX];
    bool stored;
    char *path;
} bk_entry_t;

typedef struct bk_manifest {
    char *id, *kind, *parent, *reason; /* parent NULL for none */
    uint64_t created_us;
    uint64_t archive_size;
    char archive_sha[BK_SHA_HEX];
    char snar_sha[BK_SHA_HEX]; /* "" for none */
    bk_entry_t *e;
    size_t n, cap;
} bk_manifest_t;

/* The largest manifest read: about 4 million entries. */
#define BK_MANIFEST_MAX ((size_t) 1 << 30)

/* Appends a copy of E (its path copied). 0 or -ENOMEM. */
int bk_manifest_add(bk_manifest_t *m, const bk_entry_t *e);
/* Sorts the entries by path (bytewise); the format requires it. */
void bk_manifest_sort(bk_manifest_t *m);
/* The entry for PATH (after sorting), or NULL. */
bk_entry_t *bk_manifest_find(const bk_manifest_t *m, const char *path);
void bk_manifest_free(bk_manifest_t *m);

/* The text of M (sorted first), with its end line; the caller frees. */
char *bk_manifest_format(bk_manifest_t *m, size_t *len);
/* Parses TEXT (LEN bytes, need not be NUL-terminated) into M. 0, or -EINVAL
 * with ERR (size ERRN) saying which line and why; M is then empty. */
int bk_manifest_parse(const char *text, size_t len, bk_manifest_t *m, char *err, size_t errn);
/* Reads and parses FILE. -ENOENT, -EINVAL (ERR says why), ... */
int bk_manifest_load(const char *file, bk_manifest_t *m, char *err, size_t errn);

/* Whether PATH is one a manifest may hold: absolute, no empty, "." or ".."
 * part, no NUL, no trailing slash (except "/" itself), at most PATH_MAX. */
bool bk_path_ok(const char *path);
