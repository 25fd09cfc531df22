/* The one guard in front of msgpack-c: msgpack-c allocates for the element
 * counts a container declares before it reads them, so 8 bytes can ask for
 * gigabytes. Every decoder of untrusted msgpack calls this first. */
#pragma once
#include <stddef.h>

/* 0 if DATA is exactly one complete msgpack value, nested at most 32 deep,
 * whose arrays and maps claim no more elements than the bytes left could
 * hold (every element takes at least one byte); -EINVAL otherwise. */
int hlb_msgpack_check(const void *data, size_t len);
