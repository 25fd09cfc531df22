/* JSON output onto a buffer: strings, protobuf-c messages, msgpack. */
#pragma once
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>
#include "buf.h"

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
