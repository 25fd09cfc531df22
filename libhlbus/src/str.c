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
