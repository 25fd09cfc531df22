/* Clocks. */
#include "hlbus/clock.h"

#include <time.h>

static uint64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t hlb_now_us(void) { return clock_us(CLOCK_REALTIME); }
uint64_t hlb_mono_us(void) { return clock_us(CLOCK_MONOTONIC); }
uint64_t hlb_mono_ms(void) { return clock_us(CLOCK_MONOTONIC) / 1000u; }

double hlb_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
