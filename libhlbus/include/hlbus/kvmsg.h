/* A typed message from KEY=VALUE words, through the protobuf-c descriptors:
 * what `hlctl pub TOPIC K=V...` sends on a typed topic, so that people and
 * tests keep the convenience while consumers accept only typed bodies.
 *
 * KEY is a field name, or a dotted path into singular sub-messages
 * ("state.active_state"); a repeated scalar field takes one value per word
 * (key=a key=b). VALUE is read by the field's type: integers (range
 * checked), doubles, bools (true/false/yes/no/1/0), enums (their word, as
 * hlb_pb_enum_word prints it, their full name or their number), strings and
 * bytes as given. Repeated sub-messages cannot be written this way. */
#pragma once
#include <protobuf-c/protobuf-c.h>

#include "buf.h"

/* The message, or NULL with ERR holding one line that says which word is
 * wrong and why (unknown key: the fields it has; bad value: what it takes).
 * Free with protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCMessage *hlb_kv_message(const ProtobufCMessageDescriptor *desc, int n,
                                 char *const *words, hlb_buf_t *err);

/* Whether every KEY of WORDS names a field of DESC (picks the type on a
 * family with two, e.g. recovery.). */
int hlb_kv_fits(const ProtobufCMessageDescriptor *desc, int n, char *const *words);
