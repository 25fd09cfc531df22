/* The wire format: a message is exactly two frames, the topic and a packed
 * hl.Envelope. Bodies are typed by name through a registry of every message
 * compiled from proto/. Decoding is strict and bounded. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "hlbus.pb-c.h"

/* Largest frame any hlbus socket accepts (ZMQ_MAXMSGSIZE). */
#define HLB_MAX_MSG (1024 * 1024)
#define HLB_MAX_TOPIC 256
/* The optional third frame of a message replayed from the proxy's
 * last-value cache, so that receivers can tell a replay from live news. */
#define HLB_REPLAY_MARK "lvc"

/* The descriptor registered under NAME (e.g. "hl.Log"), or NULL. */
const ProtobufCMessageDescriptor *hlb_type_lookup(const char *name);
/* Strict unpack of a registered type; NULL if unknown or malformed.
 * Free with protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCMessage *hlb_body_decode(const char *type, const void *data, size_t len);
/* Packs M into a new buffer the caller frees. */
uint8_t *hlb_body_encode(const ProtobufCMessage *m, size_t *len);

/* A topic is 1..HLB_MAX_TOPIC printable ASCII bytes without spaces. */
bool hlb_topic_valid(const char *topic, size_t len);

/* Strict envelope unpack: NULL unless the bytes are a well-formed envelope
 * with a non-empty source. Free with hl__envelope__free_unpacked(e, NULL). */
Hl__Envelope *hlb_envelope_decode(const void *data, size_t len);

/* Microseconds since the Unix epoch (CLOCK_REALTIME) and monotonic. */
uint64_t hlb_now_us(void);
uint64_t hlb_mono_us(void);
