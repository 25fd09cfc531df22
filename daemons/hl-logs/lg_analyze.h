/* Reading hl-logs' own JSON lines back: the filters of `hlctl logs` and the
 * analysis of `hlctl logs analyze` (spec 4.2.2): top error messages after
 * normalisation (numbers and ids replaced, so "id=42" and "id=43" are one),
 * durations found in records (count, mean, p50, p95, p99), and a health
 * summary from health_check-style records. Bus-free, for the unit test. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hlbus/buf.h>

/* The top-level members of one JSON line that matter here. Text points into
 * the line (still JSON-escaped: compared and printed as such). */
typedef struct lg_line {
    uint64_t ts_us;
    const char *name, *unit, *level, *message, *service, *status;
    size_t name_n, unit_n, level_n, message_n, service_n, status_n;
    bool health_check; /* a health_check field, or "health_check" in the message */
    /* numeric members whose key contains "duration" */
    struct {
        const char *key;
        size_t key_n;
        double v;
    } nums[8];
    size_t n_nums;
} lg_line_t;

/* Parses one line; false if it is not a JSON object. */
bool lg_line_parse(const char *s, size_t n, lg_line_t *out);
/* "2026-12-07T00:54:04.553347Z" to µs since the epoch; 0 if not that. */
uint64_t lg_parse_asctime(const char *s, size_t n);
/* "1h", "30m", "45s", "2d" before NOW_US, or an asctime, or seconds since
 * the epoch: µs since the epoch; 0 and -EINVAL if it is none of these. */
int lg_parse_since(const char *s, uint64_t now_us, uint64_t *out);
/* MSG with digit runs as N and hex ids (8+ hex digits with a digit) as H. */
void lg_normalise(const char *msg, size_t n, hlb_buf_t *out);

typedef struct lg_filter {
    const char *service; /* NULL: all; else the unit without .service, or the name */
    int max_priority;    /* -1: all; else records at this syslog priority or more severe */
    uint64_t since_us;   /* 0: all */
} lg_filter_t;

bool lg_filter_match(const lg_filter_t *f, const lg_line_t *l);

typedef struct lg_analysis lg_analysis_t;
lg_analysis_t *lg_analysis_new(void);
void lg_analysis_free(lg_analysis_t **a);
void lg_analysis_add(lg_analysis_t *a, const lg_line_t *l);

typedef struct lg_error_row {
    char *pattern, *example, *service;
    uint64_t count;
} lg_error_row_t;
typedef struct lg_duration_row {
    char *field;
    uint64_t count;
    double mean, p50, p95, p99, max;
} lg_duration_row_t;
typedef struct lg_health_row {
    char *service, *last;
    uint64_t checks, healthy, degraded, unhealthy, other;
} lg_health_row_t;

/* The results; pointers valid until lg_analysis_free. Errors by count
 * (then pattern), at most TOP; durations and health by name. */
uint64_t lg_analysis_records(const lg_analysis_t *a);
uint64_t lg_analysis_errors(const lg_analysis_t *a);
uint64_t lg_analysis_warnings(const lg_analysis_t *a);
size_t lg_analysis_top_errors(lg_analysis_t *a, size_t top, const lg_error_row_t **rows);
size_t lg_analysis_durations(lg_analysis_t *a, const lg_duration_row_t **rows);
size_t lg_analysis_health(lg_analysis_t *a, const lg_health_row_t **rows);

/* Calls FN for each line of the files of DIR (the service's, or all;
 * rotated and .gz ones too, oldest first), until BUDGET bytes were read.
 * Returns the bytes read; *TRUNCATED when the budget ended it. */
typedef void(lg_line_fn)(const char *line, size_t n, void *arg);
uint64_t lg_scan_dir(const char *dir, const char *service, uint64_t budget, bool current_only,
                     bool *truncated, lg_line_fn *fn, void *arg);
