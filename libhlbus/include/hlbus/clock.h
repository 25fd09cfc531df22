/* Clocks, in the units the tree uses. Wall time (realtime) is for stamps
 * people read; every interval, deadline and timeout uses the monotonic one. */
#pragma once
#include <stdint.h>

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t hlb_now_us(void);
/* Microseconds of CLOCK_MONOTONIC. */
uint64_t hlb_mono_us(void);
uint64_t hlb_mono_ms(void);
/* Monotonic seconds, for rates and durations kept as double. */
double hlb_mono_s(void);
