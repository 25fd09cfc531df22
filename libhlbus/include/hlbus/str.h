/* String helpers every daemon needs: prefix tests that cannot miscount a
 * length, a formatted strdup, name tables for enums, and the two pieces of
 * UTF-8 and JSON decoding that every parser of ours needs alike. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Whether S starts with PREFIX; false when either is NULL. */
bool hlb_has_prefix(const char *s, const char *prefix);
/* What follows PREFIX in S, or NULL when S does not start with it. */
const char *hlb_after_prefix(const char *s, const char *prefix);
/* A formatted, malloc'ed string; NULL only on out-of-memory. */
char *hlb_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *hlb_vstrdupf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Enum <-> name, for enums numbered 0..N-1 with a table of N names. */
#define HLB_NELEMS(a) (sizeof(a) / sizeof((a)[0]))
/* NAMES[I], or FALLBACK when I is out of range or its name is NULL. */
const char *hlb_enum_name(const char *const *names, size_t n, int i, const char *fallback);
/* The index of S in NAMES (exact match), or -EINVAL; NULL S is -EINVAL. */
int hlb_enum_parse(const char *const *names, size_t n, const char *s);
/* The same, ignoring ASCII case. */
int hlb_enum_parse_case(const char *const *names, size_t n, const char *s);

/* Length of the valid UTF-8 sequence at S (at most N bytes, N >= 1), or 0
 * when it is not one: overlong forms, surrogates and code points above
 * U+10FFFF are invalid. */
size_t hlb_utf8_len(const unsigned char *s, size_t n);
/* The four hex digits at S (those of a JSON "\u" escape) in *OUT: 0, or -1
 * when one is not a hex digit (S must have 4 bytes). */
int hlb_hex4(const char *s, unsigned *out);
