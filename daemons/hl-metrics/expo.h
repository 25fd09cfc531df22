/* The Prometheus text exposition format, version 0.0.4.
 *
 * A writer streams families into one buffer: hlm_family() writes the HELP
 * and TYPE lines, then hlm_sample() writes the family's samples. Each family
 * may appear once per exposition (the format requires a family's lines to be
 * contiguous); a second hlm_family() with the same name is refused, so input
 * from outside (bus-reported metrics) can never corrupt the output. Values
 * are printed the way Go's client library prints them (shortest round-trip,
 * %e from an exponent of 6), so the output compares byte for byte with
 * node_exporter's for the same numbers. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef enum { HLM_GAUGE, HLM_COUNTER, HLM_UNTYPED } hlm_mtype_t;

typedef struct hlm_expo hlm_expo_t;

hlm_expo_t *hlm_expo_new(void);
void hlm_expo_destroy(hlm_expo_t **self_p);
/* Empties the writer for a new exposition; keeps its memory. */
void hlm_expo_reset(hlm_expo_t *e);

/* Starts family NAME. 0; -EINVAL for an invalid metric name (then samples
 * are refused until the next family); -EEXIST when NAME was already
 * written in this exposition. HELP may be NULL. */
int hlm_family(hlm_expo_t *e, const char *name, hlm_mtype_t type, const char *help);
/* True if NAME was already written in this exposition. */
bool hlm_expo_has_family(const hlm_expo_t *e, const char *name);
/* A sample of the current family with N label pairs KV[0..2N) (name,
 * value). Label values are escaped, and bytes that are not UTF-8 become
 * U+FFFD. 0, or -EINVAL (no valid family open, or an invalid label name). */
int hlm_sample(hlm_expo_t *e, const char *const *kv, size_t n, double v);
static inline int hlm_sample0(hlm_expo_t *e, double v) { return hlm_sample(e, NULL, 0, v); }
#define HLM_KV(...) ((const char *const[]){__VA_ARGS__}), \
    (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *) / 2)

/* The text so far (NUL-terminated) and its length. */
const char *hlm_expo_text(const hlm_expo_t *e, size_t *len);
/* Samples and families written since the last reset. */
size_t hlm_expo_samples(const hlm_expo_t *e);
size_t hlm_expo_families(const hlm_expo_t *e);
/* Makes room for LEN bytes up front (the size of the previous exposition),
 * so that rendering does not grow the buffer step by step. */
void hlm_expo_reserve(hlm_expo_t *e, size_t len);
/* Hands the text to the caller (free()) and resets the writer. */
char *hlm_expo_steal(hlm_expo_t *e, size_t *len);

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool hlm_metric_name_valid(const char *s);
/* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved). */
bool hlm_label_name_valid(const char *s);
/* Formats V as Go's strconv.FormatFloat(v, 'g', -1, 64) with Prometheus'
 * spellings of the specials (NaN, +Inf, -Inf). OUT holds at least 32
 * bytes; returns the length. */
size_t hlm_fmt_double(char *out, double v);
