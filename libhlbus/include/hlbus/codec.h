/* The wire format: a message is exactly two frames, the topic and a packed
 * hl.Envelope. Bodies are typed by name through a registry of every message
 * compiled from proto/. Decoding is strict and bounded. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "hlbus.pb-c.h"
#include "clock.h" /* hlb_now_us, hlb_mono_us: stamps in envelopes */

/* Largest frame any hlbus socket accepts (ZMQ_MAXMSGSIZE). */
#define HLB_MAX_MSG (1024 * 1024)
#define HLB_MAX_TOPIC 256
/* The optional third frame of a message replayed from the proxy's
 * last-value cache, so that receivers can tell a replay from live news. */
#define HLB_REPLAY_MARK "lvc"
/* The second frame of a replay sent as one message to one new subscriber:
 * [subscribed prefix]["lvc-bundle"] then [topic][envelope] pairs (none at
 * all when nothing is cached). */
#define HLB_REPLAY_BUNDLE_MARK "lvc-bundle"

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

/* Packs an envelope into OUT, which has room for hlb_envelope_size() bytes;
 * returns the size. Byte for byte what hl__envelope__pack writes, without
 * walking descriptors (the publisher's hot path). */
size_t hlb_envelope_size(const Hl__Envelope *e);
size_t hlb_envelope_pack(const Hl__Envelope *e, uint8_t *out);

/* A checked envelope, without copies: the hot paths (the proxy checks every
 * message, subscribers read every one) need the fields, not a decoded tree.
 * hlb_envelope_view accepts exactly the bytes hlb_envelope_decode accepts
 * (protobuf-c's rules, field numbers 1..9 with their wire types, unknown
 * fields skipped, no field 0, a non-empty source, seq > 0; the last of a
 * repeated field wins) and gives the same values; strings are as C sees the
 * decoded ones, up to their first NUL, and not NUL-terminated here. The
 * pointers point into DATA. 0 or -EINVAL. */
typedef struct hlb_envelope_view {
    const char *source;
    size_t source_len;
    const char *type;
    size_t type_len;
    const uint8_t *body;
    size_t body_len;
    uint64_t epoch, seq, ts_us;
    uint32_t sender_uid, sender_gid, sender_pid; /* fields 7-9, stamped by hl-bus */
} hlb_envelope_view_t;
int hlb_envelope_view(const void *data, size_t len, hlb_envelope_view_t *v);

/* A reusable body decoder: it decodes as strictly as hlb_body_decode, into
 * memory it keeps, so that a stream of messages costs no malloc and free per
 * message. What it returns is valid until the next hlb_decoder_reset (or
 * destroy); never free it yourself. */
typedef struct hlb_decoder hlb_decoder_t;
hlb_decoder_t *hlb_decoder_new(void);
void hlb_decoder_destroy(hlb_decoder_t **self_p);
/* Forgets everything decoded so far. */
void hlb_decoder_reset(hlb_decoder_t *d);
/* DESC is the body's registered type (from hlb_type_lookup). */
const ProtobufCMessage *hlb_decoder_body(hlb_decoder_t *d, const ProtobufCMessageDescriptor *desc,
                                         const void *data, size_t len);

