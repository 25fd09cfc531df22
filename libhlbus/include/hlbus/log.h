/* Logging: to journald under systemd, to stderr otherwise, and onto the bus
 * as log.<daemon>.<level> (hl.Log) once a publisher is attached. Library code
 * logs at debug only; daemons log and return in one step. */
#pragma once
#include <stdarg.h>
#include <syslog.h>
#include "map.h"

typedef struct hlb_pub hlb_pub_t;

/* "error", "warning", "info", "debug" (and syslog's other names) to a
 * LOG_* priority; -EINVAL if unknown. */
int hlb_log_level_parse(const char *name);
const char *hlb_log_level_name(int level);
void hlb_log_init(const char *ident, int level);
void hlb_log_set_level(int level);
int hlb_log_get_level(void);
/* Mirrors records at or above the level onto the bus through PUB (NULL stops). */
void hlb_log_set_pub(hlb_pub_t *pub);
void hlb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hlb_logv(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* With structured fields (msgpack map), kept in journald as HL_FIELDS=<json> and
 * on the bus in hl.Log.fields_msgpack. FIELDS may be NULL; it is not taken. */
void hlb_log_fields(int level, hlb_map_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define hlb_err(...) hlb_log(LOG_ERR, __VA_ARGS__)
#define hlb_warn(...) hlb_log(LOG_WARNING, __VA_ARGS__)
#define hlb_info(...) hlb_log(LOG_INFO, __VA_ARGS__)
#define hlb_debug(...) hlb_log(LOG_DEBUG, __VA_ARGS__)
