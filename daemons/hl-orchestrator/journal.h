/* The last lines a unit left in the journal, for failure reports. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* Up to N lines of UNIT's journal in this boot (its own output and systemd's
 * messages about it), oldest first, each "HH:MM:SS ident[pid]: message",
 * NULL-terminated; the caller frees with hlb_strv_free(). USER: the unit
 * belongs to the user manager. NULL when the journal cannot be opened. */
char **journal_tail(const char *unit, size_t n, bool user);

/* Waiting for the journal to catch up before reading it: the output of a
 * failed unit and systemd's messages about it reach journald on separate
 * sockets and may lag the D-Bus signal that reported the failure. A
 * collector waits (on the journal's inotify fd, inside LOOP) until systemd's
 * message about UNIT's process exit or failure, logged at or after SINCE_US,
 * is in the journal, or DEADLINE_MS passes; then reads the tail as
 * journal_tail() does and calls FN(lines, arg) once, lines owned by FN.
 * The collector frees itself after FN; jcollect_cancel() before that. */
#include <czmq.h>
typedef struct jcollect jcollect_t;
typedef void (jcollect_fn)(char **lines, void *arg);
jcollect_t *jcollect_new(zloop_t *loop, const char *unit, size_t n, bool user, uint64_t since_us,
                         int deadline_ms, jcollect_fn *fn, void *arg);
void jcollect_cancel(jcollect_t **self_p);
