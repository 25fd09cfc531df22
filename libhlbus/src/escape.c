/* Escaping for terminals: see hlbus/escape.h. */
#include "hlbus/escape.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at S (at most LEN), or 0. C1
 * controls (U+0080..U+009F) count as invalid: terminals act on them. */
static size_t utf8_len(const uint8_t *s, size_t len)
{
    size_t n;
    uint32_t cp;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < 0xa0 || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* C1, overlong, surrogate or beyond Unicode */
    return n;
}

/* Calls EMIT for each piece of the escaped form of S. */
typedef void (emit_fn)(const char *piece, size_t n, void *arg);

static void escape_each(const char *s, size_t len, emit_fn *emit, void *arg)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            size_t j = i;
            while (j < len && p[j] >= 0x20 && p[j] < 0x7f && p[j] != '\\')
                j++;
            emit(s + i, j - i, arg);
            i = j;
            continue;
        }
        size_t u = c >= 0x80 ? utf8_len(p + i, len - i) : 0;
        if (u) {
            emit(s + i, u, arg);
            i += u;
            continue;
        }
        char e[5];
        if (c == '\n')
            memcpy(e, "\\n", 3);
        else if (c == '\t')
            memcpy(e, "\\t", 3);
        else if (c == '\\')
            memcpy(e, "\\\\", 3);
        else
            snprintf(e, sizeof e, "\\x%02x", c);
        emit(e, strlen(e), arg);
        i++;
    }
}

typedef struct {
    char *out;
    size_t size, len;
    bool full;
} sink_t;

static void to_buf(const char *piece, size_t n, void *arg)
{
    sink_t *k = arg;
    if (k->full || k->len + n + 1 > k->size) {
        k->full = true; /* whole pieces only: never half an escape */
        return;
    }
    memcpy(k->out + k->len, piece, n);
    k->len += n;
}

size_t hlb_escape(const char *s, size_t len, char *out, size_t size)
{
    if (!size)
        return 0;
    sink_t k = {out, size, 0, false};
    escape_each(s, len, to_buf, &k);
    out[k.len] = '\0';
    return k.len;
}

static void to_file(const char *piece, size_t n, void *arg)
{
    fwrite(piece, 1, n, arg);
}

void hlb_fwrite_escaped(const char *s, size_t len, FILE *f)
{
    if (s)
        escape_each(s, len, to_file, f);
}

void hlb_fputs_escaped(const char *s, FILE *f)
{
    if (s)
        hlb_fwrite_escaped(s, strlen(s), f);
}
