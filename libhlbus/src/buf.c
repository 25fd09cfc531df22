/* Growable byte buffer. */
#include "hlbus/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reserve(hlb_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        abort(); /* out of memory: as czmq does, there is no sane way on */
    b->data = p;
    b->cap = cap;
}

void hlb_buf_add(hlb_buf_t *b, const void *data, size_t len)
{
    reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void hlb_buf_puts(hlb_buf_t *b, const char *s)
{
    hlb_buf_add(b, s, strlen(s));
}

void hlb_buf_vprintf(hlb_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void hlb_buf_printf(hlb_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hlb_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void hlb_buf_reset(hlb_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void hlb_buf_free(hlb_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *hlb_buf_steal(hlb_buf_t *b)
{
    if (!b->data)
        hlb_buf_add(b, "", 0);
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
