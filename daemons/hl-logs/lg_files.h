/* The file sink: JSON lines in DIR, one file per service or one combined,
 * rotated by hl-logs itself (rename + reopen at a line boundary, so no line
 * is ever split or lost across a rotation: no copytruncate window), rotated
 * files optionally gzip'd in slices on the loop, a cap on the whole
 * directory. A failed write (full disk) drops that batch's lines for that
 * file, counted, and leaves no partial line behind. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lg_files_conf {
    const char *dir;
    uint64_t max_bytes;
    int backup_count;
    bool compress;
    uint64_t disk_cap;
} lg_files_conf_t;

typedef struct lg_files_stats {
    uint64_t lines, bytes;
    uint64_t rotations, compressed, removed_for_cap;
    uint64_t write_errors, lines_lost; /* lines_lost: not written (full disk, I/O error) */
    int last_errno;
} lg_files_stats_t;

typedef struct lg_files lg_files_t;

/* The directory must exist (systemd's LogsDirectory=). */
lg_files_t *lg_files_new(const lg_files_conf_t *conf);
void lg_files_destroy(lg_files_t **fs);
/* Applies a new size, count, compression and cap (a reload). */
void lg_files_set_conf(lg_files_t *fs, const lg_files_conf_t *conf);
/* Queues LINE (ending in '\n') for file NAME (a safe base name: see
 * lg_files_safe_name), rotating first when it would pass max_bytes. */
void lg_files_add(lg_files_t *fs, const char *name, const char *line, size_t n);
/* Writes what was queued. 0, or the last -errno (counted in the stats). */
int lg_files_flush(lg_files_t *fs);
/* Does up to BUDGET bytes of pending compression; true while more remains. */
bool lg_files_compress_step(lg_files_t *fs, size_t budget);
const lg_files_stats_t *lg_files_stats(const lg_files_t *fs);
/* NAME made a file base name: [A-Za-z0-9._@-] kept, others '_', no
 * leading '.', at most 64 bytes, ".service" dropped; "" becomes "unknown". */
void lg_files_safe_name(const char *name, size_t n, char *out, size_t size);
