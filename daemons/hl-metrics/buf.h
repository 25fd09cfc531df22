/* hlm_buf: a growable byte buffer for hl-metrics' collectors and exposition
 * writer. hl-metrics' core does not link libhlbus (so that the collectors
 * and the writer build and test on their own), hence its own small buffer. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

typedef struct hlm_buf {
    char *data; /* NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} hlm_buf_t;

/* Appends; aborts on out-of-memory, as czmq and hlb_buf do. */
void hlm_buf_add(hlm_buf_t *b, const void *data, size_t len);
void hlm_buf_puts(hlm_buf_t *b, const char *s);
void hlm_buf_putc(hlm_buf_t *b, char c);
void hlm_buf_printf(hlm_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for N more bytes and returns where they go; commit with
 * hlm_buf_commit(b, n) after writing at most N bytes. */
char *hlm_buf_reserve(hlm_buf_t *b, size_t n);
void hlm_buf_commit(hlm_buf_t *b, size_t n);
void hlm_buf_reset(hlm_buf_t *b);
void hlm_buf_free(hlm_buf_t *b);
