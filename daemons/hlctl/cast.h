/* asciicast v2 lines (hl-stdio's session recordings, daemons/hl-stdio/rec.h)
 * as `hlctl sessions` reads them: the header's size and each event's time,
 * kind and bytes. Strict and bounded: a line that is not what hl-stdio (or
 * asciinema) writes is refused, never half-used. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef struct cast_event {
    double t;      /* seconds since the start */
    char kind;     /* 'o' output, 'i' input, 'r' resize, 'm' marker, ... */
    char *data;    /* decoded (UTF-8), malloc'd, NUL-terminated */
    size_t len;
} cast_event_t;

/* The header line's "width" and "height"; false when it is no v2 header. */
bool cast_header(const char *line, size_t len, unsigned *width, unsigned *height);
/* One event line: 0, or -1 (not an event; nothing to free). */
int cast_event(const char *line, size_t len, cast_event_t *ev);
void cast_event_free(cast_event_t *ev);
