/* Incidents: one per failure of a target and everything done about it, kept
 * as a timeline for `hlctl failures`. The store is bounded (oldest dropped
 * first) and so is each timeline (a target left given-up for days folds its
 * repeated failures into a count). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FL_INCIDENT_MAX_ENTRIES 48

typedef struct fl_entry {
    uint64_t ts_us;
    char *what;
    char *detail;
} fl_entry_t;

typedef struct fl_incident {
    uint64_t id;
    char *target, *type, *severity, *pattern, *evidence;
    uint64_t detected_us, ended_us;
    char *outcome; /* "open" until closed */
    uint64_t ttr_ms;
    unsigned attempts;
    fl_entry_t entries[FL_INCIDENT_MAX_ENTRIES];
    size_t nentries;
    unsigned folded;
} fl_incident_t;

typedef struct fl_incidents fl_incidents_t;

fl_incidents_t *fl_incidents_new(size_t max);
void fl_incidents_destroy(fl_incidents_t **self_p);
/* Changes the bound; the oldest go first. */
void fl_incidents_set_max(fl_incidents_t *s, size_t max);
/* A new open incident with its "detected" entry. Its pointer stays valid
 * until it is dropped for room: look it up by id (fl_incidents_get) rather
 * than keeping the pointer across events. */
fl_incident_t *fl_incidents_open(fl_incidents_t *s, uint64_t now_us, const char *target,
                                 const char *type, const char *severity, const char *pattern,
                                 const char *evidence);
fl_incident_t *fl_incidents_get(fl_incidents_t *s, uint64_t id);
size_t fl_incidents_count(const fl_incidents_t *s);
/* Oldest first. */
fl_incident_t *fl_incidents_at(fl_incidents_t *s, size_t i);

void fl_incident_add(fl_incident_t *in, uint64_t now_us, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets the outcome and the end time (again, if it changes later: a given-up
 * incident that is rearmed). */
void fl_incident_close(fl_incident_t *in, uint64_t now_us, const char *outcome);
bool fl_incident_is_open(const fl_incident_t *in);
