/* Configuration: one YAML file plus drop-ins (<dir>/hl.d/NAME.yaml, in name
 * order, deep-merged: maps merge, scalars and lists replace). Every node
 * remembers its file and line so that errors can name them. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hlb_conf hlb_conf_t;

typedef enum { HLB_CONF_MAP, HLB_CONF_SEQ, HLB_CONF_SCALAR } hlb_conf_kind_t;

/* Collected diagnostics, one "file:line: message" per line. */
typedef struct hlb_diag {
    char *text;
    int errors;
} hlb_diag_t;
void hlb_diag_add(hlb_diag_t *d, const hlb_conf_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hlb_diag_free(hlb_diag_t *d);

/* Loads PATH and its drop-ins. A missing PATH is an empty config when
 * MISSING_OK. NULL on errors, which go to DIAG. */
hlb_conf_t *hlb_conf_load(const char *path, bool missing_ok, hlb_diag_t *diag);
/* Loads PATH alone, without drop-ins (a file of its own, such as the TLS
 * policy /etc/hl/tls.yml, beside hl.yaml). NULL on errors, which go to
 * DIAG; a missing PATH, when MISSING_OK, is NULL with errno ENOENT and no
 * diagnostic. */
hlb_conf_t *hlb_conf_load_file(const char *path, bool missing_ok, hlb_diag_t *diag);
/* Parses YAML text (for tests); NAME is used in messages. */
hlb_conf_t *hlb_conf_parse(const char *name, const char *text, hlb_diag_t *diag);
void hlb_conf_destroy(hlb_conf_t **self_p);

/* The node at a dotted path ("health.checks"), or NULL. NODE may be NULL. */
const hlb_conf_t *hlb_conf_get(const hlb_conf_t *node, const char *path);
hlb_conf_kind_t hlb_conf_kind(const hlb_conf_t *node);
const char *hlb_conf_file(const hlb_conf_t *node);
int hlb_conf_line(const hlb_conf_t *node);
/* Scalar text, or NULL for maps and lists. */
const char *hlb_conf_scalar(const hlb_conf_t *node);
/* Children of a map or list, in order; the key for map entries. */
size_t hlb_conf_count(const hlb_conf_t *node);
const hlb_conf_t *hlb_conf_at(const hlb_conf_t *node, size_t i);
const char *hlb_conf_key(const hlb_conf_t *node);

/* Typed getters at PATH below NODE. Absent → DEF and 0. Present but wrong →
 * a diagnostic naming file and line, DEF, and -EINVAL. */
int hlb_conf_str(const hlb_conf_t *node, const char *path, const char *def, const char **out,
                 hlb_diag_t *d);
int hlb_conf_int(const hlb_conf_t *node, const char *path, int64_t def, int64_t min,
                 int64_t max, int64_t *out, hlb_diag_t *d);
int hlb_conf_double(const hlb_conf_t *node, const char *path, double def, double min,
                    double max, double *out, hlb_diag_t *d);
int hlb_conf_bool(const hlb_conf_t *node, const char *path, bool def, bool *out, hlb_diag_t *d);
/* Durations: "250ms", "10s", "5m", "1h", or a bare number of seconds. */
int hlb_conf_duration_ms(const hlb_conf_t *node, const char *path, int64_t def, int64_t min,
                         int64_t max, int64_t *out, hlb_diag_t *d);
/* Reports every key of map NODE not in ALLOWED (NULL-terminated). */
int hlb_conf_check_keys(const hlb_conf_t *node, const char *const *allowed, hlb_diag_t *d);
/* Parses a duration string; 0 or -EINVAL. */
int hlb_parse_duration_ms(const char *s, int64_t *out);
/* Strict integer parse of the whole string; 0 or -EINVAL/-ERANGE. */
int hlb_parse_int(const char *s, int64_t *out);
