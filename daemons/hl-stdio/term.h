/* The screen of a terminal channel: a real terminal emulator (libvterm) fed
 * with what the agent's program writes, so that a client that attaches late
 * is drawn the screen as it is instead of being replayed old escape
 * sequences, and so that hl-pty can draw it again for a relay that restarted.
 *
 * libvterm keeps the cells, their attributes, the cursor and the alternate
 * screen; a few modes it does not expose (the scroll region, application
 * cursor keys and keypad, bracketed paste) are followed here by a small scan
 * of the same bytes, so that the redrawn terminal behaves like the live one
 * for what the program writes next. Shared by hl-stdio and hl-pty. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef struct stdio_term stdio_term_t;

/* The sizes a terminal may have; anything outside is refused by the callers
 * (a client asking for 0x0 or 65535x65535). */
#define STDIO_TERM_MIN 2
#define STDIO_TERM_MAX_COLS 1000
#define STDIO_TERM_MAX_ROWS 500

bool stdio_term_size_ok(unsigned cols, unsigned rows);

/* NULL when out of memory or for a size stdio_term_size_ok refuses. */
stdio_term_t *stdio_term_new(unsigned cols, unsigned rows);
void stdio_term_free(stdio_term_t **self_p);

void stdio_term_feed(stdio_term_t *t, const void *data, size_t len);
/* Refused sizes are ignored (false). */
bool stdio_term_resize(stdio_term_t *t, unsigned cols, unsigned rows);
void stdio_term_size(const stdio_term_t *t, unsigned *cols, unsigned *rows);

/* The bytes that draw the current screen on a terminal of the same size:
 * mode, contents, pen and cursor. Malloc'd into *OUT (free it); 0 or
 * -ENOMEM. */
int stdio_term_redraw(stdio_term_t *t, char **out, size_t *len);

/* The screen's text, rows joined by newlines, trailing blanks dropped, as
 * `tmux capture-pane -p` prints it (for tests). Malloc'd; NULL on ENOMEM. */
char *stdio_term_text(stdio_term_t *t);
