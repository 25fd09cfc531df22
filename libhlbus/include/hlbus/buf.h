/* A growable byte buffer, and JSON output onto it. */
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

typedef struct hlb_buf {
    char *data;  /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} hlb_buf_t;

/* Appends; aborts only on out-of-memory (as czmq does). */
void hlb_buf_add(hlb_buf_t *b, const void *data, size_t len);
void hlb_buf_puts(hlb_buf_t *b, const char *s);
void hlb_buf_printf(hlb_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hlb_buf_vprintf(hlb_buf_t *b, const char *fmt, va_list ap);
void hlb_buf_reset(hlb_buf_t *b);
void hlb_buf_free(hlb_buf_t *b);
/* Hands the data to the caller (who frees it) and empties the buffer. */
char *hlb_buf_steal(hlb_buf_t *b);

/* A JSON string literal of LEN bytes: escapes controls, quotes, and bytes that
 * are not valid UTF-8 (as \u00XX), so any input gives valid JSON. */
void hlb_json_str(hlb_buf_t *b, const char *s, size_t len);
/* A protobuf-c message as a JSON object; bytes fields named *_msgpack are
 * expanded as msgpack, other bytes as base64 strings. */
void hlb_json_proto(hlb_buf_t *b, const ProtobufCMessage *m);
/* A msgpack value as JSON; returns 0 or -EINVAL if DATA is not msgpack. */
int hlb_json_msgpack(hlb_buf_t *b, const void *data, size_t len);
/* A typed body as JSON: registered proto, msgpack, or base64 for the rest. */
void hlb_json_body(hlb_buf_t *b, const char *type, const void *data, size_t len);
