/* Text from the bus or from daemons, made safe for a terminal: control
 * characters (C0, DEL, C1), invalid UTF-8 and the backslash become \n, \t,
 * \\ or \xNN, so no escape sequence from a publisher reaches a screen.
 * Valid printable UTF-8 is kept as it is. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Writes S (LEN bytes) escaped into OUT (SIZE bytes, NUL-terminated,
 * truncated at a whole escape). Returns the length written. */
size_t hlb_escape(const char *s, size_t len, char *out, size_t size);
/* Prints NUL-terminated S escaped to F (NULL prints nothing). */
void hlb_fputs_escaped(const char *s, FILE *f);
/* Same for LEN bytes. */
void hlb_fwrite_escaped(const char *s, size_t len, FILE *f);
