#include "buf.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *hlm_buf_reserve(hlm_buf_t *b, size_t n)
{
    if (b->cap - b->len < n + 1 || !b->data) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1) {
            if (cap > SIZE_MAX / 2)
                abort();
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (!d)
            abort(); /* out of memory: nothing sensible left to do */
        b->data = d;
        b->cap = cap;
        b->data[b->len] = '\0';
    }
    return b->data + b->len;
}

void hlm_buf_commit(hlm_buf_t *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

void hlm_buf_add(hlm_buf_t *b, const void *data, size_t len)
{
    char *p = hlm_buf_reserve(b, len);
    if (len)
        memcpy(p, data, len);
    hlm_buf_commit(b, len);
}

void hlm_buf_puts(hlm_buf_t *b, const char *s)
{
    hlm_buf_add(b, s, strlen(s));
}

void hlm_buf_putc(hlm_buf_t *b, char c)
{
    char *p = hlm_buf_reserve(b, 1);
    *p = c;
    hlm_buf_commit(b, 1);
}

void hlm_buf_printf(hlm_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = hlm_buf_reserve(b, 64);
    int n = vsnprintf(p, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        p = hlm_buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(p, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    hlm_buf_commit(b, (size_t)n);
}

void hlm_buf_reset(hlm_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void hlm_buf_free(hlm_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
