/* String helpers every daemon needs: prefix tests that cannot miscount a
 * length, a formatted strdup, and name tables for enums. */
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
