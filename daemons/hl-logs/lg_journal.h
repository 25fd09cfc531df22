/* The journal source: sd-journal entries of the followed units, from a saved
 * cursor on. The cursor is checked with sd_journal_test_cursor after the
 * seek: when its entry is gone (vacuumed), reading starts at the entry the
 * seek found instead of skipping it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "lg_record.h"

typedef struct lg_journal lg_journal_t;

/* DIR NULL or "": the local system journal; else the journal files there.
 * UNITS: fnmatch patterns of _SYSTEMD_UNIT (NULL: every entry). */
int lg_journal_open(lg_journal_t **out, const char *dir, char *const *units);
void lg_journal_close(lg_journal_t **j);
/* Positions after CURSOR's entry (NULL or "": at the journal's head).
 * Sets *FOUND to whether the cursor's entry still exists. 0 or -errno. */
int lg_journal_seek(lg_journal_t *j, const char *cursor, bool *found);
/* The fd to watch for new entries, and what to call when it is readable. */
int lg_journal_fd(lg_journal_t *j);
void lg_journal_process(lg_journal_t *j);
/* The next entry of a followed unit into R (its text points into the
 * journal's mmap, valid until the next call). 1: R is filled; 0: no more
 * for now; -errno. */
int lg_journal_next(lg_journal_t *j, lg_record_t *r);
/* The cursor of the entry the last lg_journal_next returned ("" before);
 * valid until the next call. */
const char *lg_journal_cursor(const lg_journal_t *j);
/* Entries read and skipped (not a followed unit). */
size_t lg_journal_skipped(const lg_journal_t *j);
