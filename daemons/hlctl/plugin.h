/* Nagios/Icinga plugin output for hlctl check (the monitoring-plugins
 * development guidelines): one status line "NAME STATUS - text | perfdata",
 * exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, and thresholds as ranges:
 *
 *   10      alert outside 0..10        10:     alert below 10
 *   ~:10    alert above 10             10:20   alert outside 10..20
 *   @10:20  alert inside 10..20 (ends included)
 *
 * No bus here: cmd_check.c gathers the figures, this file judges and prints. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <hlbus/buf.h>

typedef enum {
    HLCTL_PLUGIN_OK = 0,
    HLCTL_PLUGIN_WARNING = 1,
    HLCTL_PLUGIN_CRITICAL = 2,
    HLCTL_PLUGIN_UNKNOWN = 3,
} hlctl_plugin_status_t;

#define HLCTL_RANGE_TEXT 64

typedef struct hlctl_range {
    bool set;
    bool inside;            /* '@': alert when start <= v <= end */
    bool start_inf, end_inf; /* '~' start; empty end */
    double start, end;
    char text[HLCTL_RANGE_TEXT]; /* as given: it is repeated in the perfdata */
} hlctl_range_t;

/* Parses S into R. Returns 0, or -EINVAL with *WHY set to a static reason
 * (empty, not a number, start above end, too long). */
int hlctl_range_parse(const char *s, hlctl_range_t *r, const char **why);
/* Whether V alerts under R (false for an unset R). */
bool hlctl_range_alerts(const hlctl_range_t *r, double v);

/* The more serious of A and B: CRITICAL > WARNING > UNKNOWN > OK
 * (monitoring-plugins' max_state_alt). */
hlctl_plugin_status_t hlctl_plugin_worst(hlctl_plugin_status_t a, hlctl_plugin_status_t b);
/* "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *hlctl_plugin_word(hlctl_plugin_status_t s);

typedef struct hlctl_plugin {
    const char *name;           /* "HEALTH": the first word of the line */
    hlctl_plugin_status_t status;
    hlctl_range_t warn, crit;   /* -w, -c */
    hlb_buf_t text;             /* the human part, as sanitised pieces */
    hlb_buf_t perf;             /* label=value... */
    hlb_buf_t json_perf;        /* the same as JSON objects */
} hlctl_plugin_t;

/* Raises P's status to at least S. */
void hlctl_plugin_raise(hlctl_plugin_t *p, hlctl_plugin_status_t s);
/* Judges V against P's -w/-c: CRITICAL, WARNING or OK, and raises P. */
hlctl_plugin_status_t hlctl_plugin_judge(hlctl_plugin_t *p, double v);
/* Whether -w or -c was given. */
bool hlctl_plugin_has_thresholds(const hlctl_plugin_t *p);
/* Appends to the text; bytes that would break the line ('|', control
 * characters, invalid UTF-8) are escaped or replaced. */
void hlctl_plugin_text(hlctl_plugin_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One perfdata item: 'LABEL'=VALUE[UOM];[warn];[crit];[min];[max]. UOM is
 * "", "s", "%", "B" or "c". WITH_THRESHOLDS repeats -w/-c; MIN and MAX are
 * left out when NaN. */
void hlctl_plugin_perf(hlctl_plugin_t *p, const char *label, double value, const char *uom,
                       bool with_thresholds, double min, double max);
/* Prints the line (or, with JSON, one object) to stdout, frees P's
 * buffers and returns the exit code. */
int hlctl_plugin_finish(hlctl_plugin_t *p, bool json);
