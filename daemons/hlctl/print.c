/* The one printer of hlctl for anything a daemon or the bus supplied: every
 * %s argument is escaped (hlbus/escape.h) before it is laid out, so no
 * publisher's escape sequence reaches the admin's terminal; the format
 * itself is ours and printed as written. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "hlctl.h"

/* Formats one conversion SPEC (e.g. "%-20s", "%" PRIu64) taking its
 * argument(s) from AP; %s arguments are escaped. SPEC is cut out of a format
 * the compiler checked at the caller (hlctl.h's format attributes), so the
 * one non-literal format of the tree is allowed here, and only here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void one(FILE *f, const char *spec, size_t n, va_list *ap)
{
    char s[64];
    if (n >= sizeof s) { /* no real spec is this long: print it as text */
        fwrite(spec, 1, n, f);
        return;
    }
    memcpy(s, spec, n);
    s[n] = '\0';
    char conv = s[n - 1];
    /* '*' width or precision: ints, in order, before the value */
    int stars[2], nstars = 0;
    for (size_t i = 1; i + 1 < n; i++)
        if (s[i] == '*' && nstars < 2)
            stars[nstars++] = va_arg(*ap, int);
    const char *len = s + 1;
    while (*len && strchr("-+ #0123456789.*", *len))
        len++;
#define OUT(v)                                                                                 \
    (nstars == 2 ? fprintf(f, s, stars[0], stars[1], v)                                        \
     : nstars == 1 ? fprintf(f, s, stars[0], v)                                                \
                   : fprintf(f, s, v))
    switch (conv) {
    case 's': {
        const char *v = va_arg(*ap, const char *);
        if (!v)
            v = "(null)";
        size_t cap = 4 * strlen(v) + 1;
        char *e = malloc(cap);
        if (!e)
            return;
        hlb_escape(v, strlen(v), e, cap);
        OUT(e);
        free(e);
        return;
    }
    case 'c': {
        int c = va_arg(*ap, int);
        char one_c = (char)c, e[8];
        hlb_escape(&one_c, 1, e, sizeof e);
        fputs(e, f);
        return;
    }
    case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
        if (*len == 'L')
            OUT(va_arg(*ap, long double));
        else
            OUT(va_arg(*ap, double));
        return;
    case 'p':
        OUT(va_arg(*ap, void *));
        return;
    case 'd': case 'i': case 'u': case 'x': case 'X': case 'o':
        if (strncmp(len, "ll", 2) == 0)
            OUT(va_arg(*ap, long long));
        else if (*len == 'l')
            OUT(va_arg(*ap, long));
        else if (*len == 'z')
            OUT(va_arg(*ap, size_t));
        else if (*len == 'j')
            OUT(va_arg(*ap, intmax_t));
        else if (*len == 't')
            OUT(va_arg(*ap, ptrdiff_t));
        else
            OUT(va_arg(*ap, int)); /* hh and h are promoted to int */
        return;
    default: /* %% and anything unknown: as written */
        fwrite(s + (conv == '%' ? n - 1 : 0), 1, conv == '%' ? 1 : n, f);
        return;
    }
#undef OUT
}
#pragma GCC diagnostic pop

int hlctl_vfprintf(FILE *f, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    const char *p = fmt;
    while (*p) {
        const char *pct = strchr(p, '%');
        if (!pct) {
            fputs(p, f);
            break;
        }
        fwrite(p, 1, (size_t)(pct - p), f);
        const char *q = pct + 1;
        while (*q && !strchr("diouxXeEfFgGaAcspn%", *q))
            q++;
        if (!*q) {
            fputs(pct, f);
            break;
        }
        one(f, pct, (size_t)(q - pct + 1), &cp);
        p = q + 1;
    }
    va_end(cp);
    return 0;
}

int hlctl_fprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = hlctl_vfprintf(f, fmt, ap);
    va_end(ap);
    return rc;
}

int hlctl_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = hlctl_vfprintf(stdout, fmt, ap);
    va_end(ap);
    return rc;
}
