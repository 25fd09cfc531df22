/* A growable byte buffer (JSON output onto it: json.h). */
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hlb_buf {
    char *data;  /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} hlb_buf_t;

/* Appends; aborts only on out-of-memory (as czmq does). */
void hlb_buf_add(hlb_buf_t *b, const void *data, size_t len);
void hlb_buf_puts(hlb_buf_t *b, const char *s);
void hlb_buf_printf(hlb_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hlb_buf_vprintf(hlb_buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void hlb_buf_reset(hlb_buf_t *b);
void hlb_buf_free(hlb_buf_t *b);
/* Hands the data to the caller (who frees it) and empties the buffer. */
char *hlb_buf_steal(hlb_buf_t *b);
