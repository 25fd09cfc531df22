/* The last lines a unit left in the journal, for admins (the journal ctl
 * method; never on the bus). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* Up to N lines of UNIT's journal in this boot (its own output and systemd's
 * messages about it), oldest first, each "HH:MM:SS ident[pid]: message",
 * NULL-terminated; the caller frees with hlb_strv_free(). USER: the unit
 * belongs to the user manager. NULL when the journal cannot be opened. */
char **journal_tail(const char *unit, size_t n, bool user);
