/* Checking a restored tree against a manifest: the proof that a restore
 * gave back what was backed up, file by file. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "bk_manifest.h"

typedef struct bk_problems {
    char **v; /* "PATH: what is wrong" */
    size_t n;
} bk_problems_t;

/* Records a problem (printf-style). */
void bk_problem(bk_problems_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bk_problems_free(bk_problems_t *p);

/* Checks that ROOT (a directory; "/" or "" for the live tree) holds every
 * entry of M (only those at or below ONLY when ONLY is set) with its type,
 * mode, size and SHA-256. With EXTRAS, files and links below ROOT that M
 * does not list are problems too (for a restore into an empty directory).
 * Returns the number of problems found, or -errno. */
long bk_check_tree(const bk_manifest_t *m, const char *root, const char *only, bool extras,
                   bk_problems_t *p);
