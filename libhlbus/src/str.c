/* Prefix tests, formatted strdup, enum name tables. */
#include "hlbus/str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool hlb_has_prefix(const char *s, const char *prefix)
{
    return hlb_after_prefix(s, prefix) != NULL;
}

const char *hlb_after_prefix(const char *s, const char *prefix)
{
    if (!s || !prefix)
        return NULL;
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

char *hlb_vstrdupf(const char *fmt, va_list ap)
{
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        return NULL;
    return out;
}

char *hlb_strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = hlb_vstrdupf(fmt, ap);
    va_end(ap);
    return out;
}

const char *hlb_enum_name(const char *const *names, size_t n, int i, const char *fallback)
{
    if (i < 0 || (size_t)i >= n || !names[i])
        return fallback;
    return names[i];
}

static int parse(const char *const *names, size_t n, const char *s, bool nocase)
{
    for (size_t i = 0; s && i < n; i++)
        if (names[i] && (nocase ? strcasecmp(names[i], s) : strcmp(names[i], s)) == 0)
            return (int)i;
    return -EINVAL;
}

int hlb_enum_parse(const char *const *names, size_t n, const char *s)
{
    return parse(names, n, s, false);
}

int hlb_enum_parse_case(const char *const *names, size_t n, const char *s)
{
    return parse(names, n, s, true);
}

size_t hlb_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        len = 2, min = 0x80, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        len = 3, min = 0x800, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int hlb_hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}
