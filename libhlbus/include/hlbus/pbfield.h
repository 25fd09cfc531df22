/* Proto field layout: the size of one element of a field in a generated
 * message struct, for walking repeated fields by descriptor (the JSON printer,
 * hlctl pub's builder). No ZeroMQ: part of hlbase. */
#pragma once
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* sizeof one value of f's type as protobuf-c lays it out (a repeated field
 * is an array of these); 0 for a type protobuf-c does not define. */
size_t hlb_pb_field_size(const ProtobufCFieldDescriptor *f);

/* A C string for a string field of a message about to be packed: protobuf-c
 * declares those fields `char *` although packing only reads them, so a
 * const string (or a literal, under -Wwrite-strings) goes in through here,
 * NULL as "" (protobuf-c's "unset" for proto3 strings). The one place the
 * tree casts const away; never for a message that is unpacked into. */
static inline char *hlb_pb_str(const char *s)
{
    return (char *) (s ? s : "");
}
