/* Proto enums as words: the one table of state words is the .proto itself
 * (health, lifecycle, phase, threshold, uplink states). No ZeroMQ: part of
 * hlbase, so that daemons' bus-free cores name their states the same way. */
#pragma once
#include <protobuf-c/protobuf-c.h>

/* A proto enum's word: the value's name without the enum's prefix (the part
 * up to the first '_'), lower case, '_' written '-' (HEALTH_HEALTHY ->
 * "healthy", LIFECYCLE_SHUTTING_DOWN -> "shutting-down"). Unknown values
 * read "unknown". */
const char *hlb_pb_enum_word(const ProtobufCEnumDescriptor *desc, int value);
/* The reverse: a word (any case), or the value's full name, or its number.
 * 0 or -EINVAL. */
int hlb_pb_enum_parse(const ProtobufCEnumDescriptor *desc, const char *word, int *value);
