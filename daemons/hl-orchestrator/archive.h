/* The state archive of a shutdown (spec 1.4.2, 5.4.1): what tar is asked to
 * do, how archives are named, the "latest" link and retention. tar itself
 * runs as a transient systemd unit (see shutdown.c). */
#pragma once
#include <stdint.h>

#define ARCHIVE_PREFIX "hl-state-"
#define ARCHIVE_SUFFIX ".tar.gz"
#define ARCHIVE_LATEST "hl-state-latest.tar.gz"

/* "hl-state-20261126T104655Z.tar.gz" for TS_US (UTC). The caller frees. */
char *archive_name(uint64_t ts_us);

/* The argv of TAR writing OUT (gzip) with the existing ones of PATHS,
 * relative to / (so that `tar -xzf ARCHIVE -C /` restores them, as spec
 * 5.3.1 does), minus EXCLUDE and the archive directory DIR itself. Symbolic
 * links are stored as links, never followed; unreadable or vanishing files
 * are warnings, not failures. NULL when none of PATHS exists. */
char **archive_argv(const char *tar, const char *out, const char *dir, char *const *paths,
                    char *const *exclude);

/* After tar wrote DIR/TMP: renames it to DIR/FINAL, points DIR/hl-state-latest.tar.gz
 * at it, and prunes older archives: at most KEEP are kept (newest first, the
 * new one always), and any older than MAX_AGE_MS (0: no age limit) goes, as
 * do leftovers of interrupted runs. *PRUNED (NULL-terminated, the caller
 * frees) lists what was removed. 0 or -errno. */
int archive_finish(const char *dir, const char *tmp, const char *final, int64_t keep,
                   int64_t max_age_ms, uint64_t now_us, char ***pruned, uint64_t *bytes);
