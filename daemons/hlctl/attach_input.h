/* What hlctl attach does with the bytes typed on its stdin: a pure piece
 * (no I/O), so that it can be fuzzed. The queue of bytes waiting for the
 * attach socket never grows past its capacity: a read from stdin is sized
 * by attach_input_room(), and attach_input_take() keeps to it anyway. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct attach_input {
    uint8_t *q;       /* bytes waiting for the socket */
    size_t len, cap;
    bool tty;         /* stdin is a terminal: the detach key works */
    int detach_key;   /* -1: none */
    bool read_only;   /* nothing is forwarded; Ctrl-C detaches too */
} attach_input_t;

/* How many bytes may be read from stdin now (0: wait for the socket). A
 * read-only attach forwards nothing: it reads for the detach key alone. */
size_t attach_input_room(const attach_input_t *in, size_t chunk);
/* Takes N bytes read from stdin. Returns true when they ask to detach;
 * the bytes before the detach key are queued, at most the room left. */
bool attach_input_take(attach_input_t *in, const uint8_t *buf, size_t n);
/* The socket took W bytes from the head of the queue. */
void attach_input_sent(attach_input_t *in, size_t w);
