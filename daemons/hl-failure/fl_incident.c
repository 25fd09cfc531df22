/* The incident store: a bounded ring of incidents with bounded timelines. */
#include "fl_incident.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/buf.h>

struct fl_incidents {
    fl_incident_t **v; /* oldest first */
    size_t n, max;
    uint64_t next_id;
};

static void incident_free(fl_incident_t *in)
{
    free(in->target);
    free(in->type);
    free(in->severity);
    free(in->pattern);
    free(in->evidence);
    free(in->outcome);
    for (size_t i = 0; i < in->nentries; i++) {
        free(in->entries[i].what);
        free(in->entries[i].detail);
    }
    free(in);
}

fl_incidents_t *fl_incidents_new(size_t max)
{
    fl_incidents_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->max = max ? max : 1;
    s->next_id = 1;
    return s;
}

void fl_incidents_destroy(fl_incidents_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_incidents_t *s = *self_p;
    for (size_t i = 0; i < s->n; i++)
        incident_free(s->v[i]);
    free(s->v);
    free(s);
    *self_p = NULL;
}

static void trim(fl_incidents_t *s, size_t keep)
{
    if (s->n <= keep)
        return;
    size_t drop = s->n - keep;
    for (size_t i = 0; i < drop; i++)
        incident_free(s->v[i]);
    memmove(s->v, s->v + drop, keep * sizeof *s->v);
    s->n = keep;
}

void fl_incidents_set_max(fl_incidents_t *s, size_t max)
{
    s->max = max ? max : 1;
    trim(s, s->max);
}

static char *dup0(const char *s) { return strdup(s ? s : ""); }

fl_incident_t *fl_incidents_open(fl_incidents_t *s, uint64_t now_us, const char *target,
                                 const char *type, const char *severity, const char *pattern,
                                 const char *evidence)
{
    fl_incident_t *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->id = s->next_id++;
    in->target = dup0(target);
    in->type = dup0(type);
    in->severity = dup0(severity);
    in->pattern = dup0(pattern);
    in->evidence = dup0(evidence);
    in->outcome = strdup("open");
    in->detected_us = now_us;
    trim(s, s->max - 1);
    fl_incident_t **v = realloc(s->v, (s->n + 1) * sizeof *v);
    if (!v) {
        incident_free(in);
        return NULL;
    }
    s->v = v;
    s->v[s->n++] = in;
    fl_incident_add(in, now_us, "detected", "%s", in->evidence);
    return in;
}

fl_incident_t *fl_incidents_get(fl_incidents_t *s, uint64_t id)
{
    /* recent ones are looked up most: search from the newest */
    for (size_t i = s->n; id && i > 0; i--)
        if (s->v[i - 1]->id == id)
            return s->v[i - 1];
    return NULL;
}

size_t fl_incidents_count(const fl_incidents_t *s) { return s->n; }
fl_incident_t *fl_incidents_at(fl_incidents_t *s, size_t i) { return i < s->n ? s->v[i] : NULL; }

void fl_incident_add(fl_incident_t *in, uint64_t now_us, const char *what, const char *fmt, ...)
{
    if (!in)
        return;
    /* Keep the first entries (how it began) and the last one (how it
     * stands); what falls between is counted. */
    if (in->nentries == FL_INCIDENT_MAX_ENTRIES) {
        fl_entry_t *last = &in->entries[FL_INCIDENT_MAX_ENTRIES - 1];
        free(last->what);
        free(last->detail);
        in->nentries--;
        in->folded++;
    }
    hlb_buf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    hlb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    fl_entry_t *e = &in->entries[in->nentries++];
    e->ts_us = now_us;
    e->what = strdup(what);
    e->detail = b.data ? hlb_buf_steal(&b) : strdup("");
}

void fl_incident_close(fl_incident_t *in, uint64_t now_us, const char *outcome)
{
    if (!in)
        return;
    free(in->outcome);
    in->outcome = strdup(outcome);
    in->ended_us = now_us;
}

bool fl_incident_is_open(const fl_incident_t *in) { return in && in->ended_us == 0; }
