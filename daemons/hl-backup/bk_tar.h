/* GNU tar, the archive format of every backup and of the shutdown archive:
 * what it is asked to do, and running it.
 *
 * Archives are gzip'd tar, member names relative to / (so that `tar -xzf
 * ARCHIVE -C /` restores a full one, as spec 5.3.1 does), links stored as
 * links, one file system per path. Incrementals use GNU tar's
 * --listed-incremental: the snapshot file (.snar) of the backup an
 * incremental builds on says what was there and when, and tar stores only
 * what changed plus each directory's listing, so that a restore of the
 * chain also removes what was deleted (docs/backup.md argues the choice). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <hlbus/buf.h>

/* The argv of TAR writing OUT (gzip) with the existing ones of PATHS,
 * minus EXCLUDE (paths, not patterns) and the archive directory DIR itself.
 * SNAR: the snapshot file tar reads and updates (NULL: a plain archive).
 * Unreadable or vanishing files are warnings, not failures. NULL when none
 * of PATHS exists. */
char **bk_tar_create_argv(const char *tar, const char *out, const char *snar, const char *dir,
                          char *const *paths, char *const *exclude);

/* The argv of TAR extracting ARCHIVE under TO, as an incremental archive
 * (its directory listings applied), modes kept; only MEMBERS (paths,
 * absolute; NULL: everything). */
char **bk_tar_extract_argv(const char *tar, const char *archive, const char *to,
                           char *const *members);

/* The argv of TAR listing ARCHIVE's member names. */
char **bk_tar_list_argv(const char *tar, const char *archive);

/* Runs ARGV (argv[0] an absolute path), its stdout into OUT (NULL: to
 * /dev/null), its stderr into ERR (at most 64 KiB kept; NULL: dropped).
 * Returns its exit status (0..255), 128+N when killed by signal N, or
 * -errno when it could not be run. */
int bk_run(char *const *argv, hlb_buf_t *out, hlb_buf_t *err);

/* "var/lib/hl" for "/var/lib/hl/" (a tar member name); the caller frees. */
char *bk_tar_member(const char *path);
