/* Internal to libhlbus: shared by the decoders. */
#pragma once
#include <stdbool.h>
#include <protobuf-c/protobuf-c.h>

/* Whether an unpacked message is free of what protobuf-c lets through but
 * should not (field number 0 as an unknown field), at any depth. */
bool hlb__proto_strict(const ProtobufCMessage *m);
