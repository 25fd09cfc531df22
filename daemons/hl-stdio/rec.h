/* Session recording: a terminal channel's output (and, by config, its
 * input) as asciicast v2 files, the format of `asciinema play|cat`:
 *   {"version": 2, "width": C, "height": R, "timestamp": T, ...}
 *   [seconds, "o", "output"]   [seconds, "i", "input"]   [seconds, "r", "CxR"]
 * one file per stream, rotated at a size (each new file starts with the
 * screen as it is, so it replays on its own), the oldest files of the
 * directory removed beyond a total. Writes are plain write(2)s of a regular
 * file; one that fails (disk full) stops the file, counts what is not
 * recorded and retries on a new file later: the agent is never held back. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct stdio_rec stdio_rec_t;

typedef struct stdio_rec_conf {
    const char *dir;  /* NULL or "": no recording */
    bool input;       /* record the viewers' keystrokes too */
    size_t max_file;  /* rotate beyond this */
    size_t max_total; /* the directory's *.cast files, at most */
} stdio_rec_conf_t;

typedef enum { STDIO_REC_STARTED, STDIO_REC_ROTATED, STDIO_REC_STOPPED, STDIO_REC_ERROR } stdio_rec_state_t;

/* What a recorder tells: a file started, was rotated, stopped or failed. */
typedef void(stdio_rec_event_fn)(void *arg, const char *channel, uint64_t stream,
                                 const char *path, stdio_rec_state_t state, uint64_t bytes,
                                 uint64_t dropped, const char *error);
/* The screen as it is (for the start of a rotated file): malloc'd bytes. */
typedef int(stdio_rec_screen_fn)(void *arg, char **out, size_t *len);

/* NULL when recording is off or out of memory. The first file opens with
 * the first output. */
stdio_rec_t *stdio_rec_new(const stdio_rec_conf_t *conf, const char *channel, uint64_t stream,
                           stdio_rec_event_fn *event, stdio_rec_screen_fn *screen, void *arg);
void stdio_rec_free(stdio_rec_t **self_p);

void stdio_rec_output(stdio_rec_t *r, const void *data, size_t len, unsigned cols,
                      unsigned rows);
void stdio_rec_input(stdio_rec_t *r, const void *data, size_t len);
void stdio_rec_resize(stdio_rec_t *r, unsigned cols, unsigned rows);

/* JSON string escaping of terminal bytes (for tests and the fuzz target):
 * appends to OUT (capacity CAP) the escaped form of DATA, keeping an
 * incomplete UTF-8 sequence at the end in CARRY (up to 3 bytes, *CARRY_LEN)
 * for the next call; invalid bytes become U+FFFD. Returns the bytes
 * written, or 0 when CAP is too small (6 x LEN + 16 always suffices). */
size_t stdio_rec_escape(const uint8_t *data, size_t len, uint8_t carry[4], size_t *carry_len,
                        char *out, size_t cap);
