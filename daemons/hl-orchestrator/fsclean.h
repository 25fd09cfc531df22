/* Safe removal for reset and shutdown cleanup: nothing here follows a
 * symbolic link or crosses into another mount, so a service that controls
 * the contents of its state directory cannot make the orchestrator (root)
 * delete anything outside it. */
#pragma once
#include <stdint.h>
#include <hlbus/buf.h>

typedef struct fsc_stats {
    uint64_t removed; /* files, links and directories removed */
    uint64_t kept;    /* entries left alone: mount points, files in use */
    int errors;
    hlb_buf_t log;    /* one line per noteworthy event ("kept ...: in use") */
} fsc_stats_t;

/* Empties directory ROOT/NAME (NAME one path component) and keeps the
 * directory itself, whose owner and mode belong to systemd's StateDirectory=.
 * ROOT is trusted configuration and resolved normally; NAME must not be a
 * symbolic link (-ELOOP). A missing NAME is fine (0). Returns 0 or the
 * first -errno met; counts and notes go to ST. */
int fsc_clear_beneath(const char *root, const char *name, fsc_stats_t *st);

/* Removes the entries of DIR whose names match the fnmatch(3) PATTERN
 * (directories recursively, symbolic links as links). */
int fsc_remove_matching(const char *dir, const char *pattern, fsc_stats_t *st);

/* Removes a stale pid or lock file at PATH, whose directory path must not
 * contain symbolic links. A pid file (*.pid) is stale unless its process is
 * alive in UNIT's cgroup; any other file is a lock file, stale unless a
 * process holds a lock on it (flock or fcntl). 0 when removed or absent,
 * -EBUSY when kept because it is in use, other -errno on errors. */
int fsc_remove_stale(const char *path, const char *unit, fsc_stats_t *st);

void fsc_stats_free(fsc_stats_t *st);
