/* Server time: what hl-uplink stamps on what it sends, correct even when the
 * VM's own clock is an hour off. Each answer's Date header gives the
 * server's time; between answers it advances on the monotonic clock. Date
 * has a one-second resolution: a new sample within a second of the
 * estimate keeps the estimate (no jitter); further off (the server's clock
 * stepped, or ours did not matter) it replaces it.
 *
 * Intervals never use this: they are monotonic (ul_sched.h). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

typedef struct ul_clock {
    bool synced;
    int64_t server_minus_mono_us; /* server time = mono + this */
    uint64_t samples, steps;
} ul_clock_t;

/* Parses an HTTP date (IMF-fixdate, RFC 850 or asctime) into Unix seconds;
 * -1 when it is none. */
int64_t ul_http_date(const char *s);
/* A Date header received at monotonic MONO_US. */
void ul_clock_sample(ul_clock_t *c, const char *date, uint64_t mono_us);
/* The server's time now, in Unix us: from the samples, or WALL_US (the
 * local clock) before the first. */
uint64_t ul_clock_now_us(const ul_clock_t *c, uint64_t mono_us, uint64_t wall_us);
/* The server's time minus the local clock, in ms (0 before a sample). */
int64_t ul_clock_offset_ms(const ul_clock_t *c, uint64_t mono_us, uint64_t wall_us);
/* A Retry-After value in ms: delay-seconds or an HTTP date (against the
 * answer's DATE, else our estimate). 0 when absent or bad; at most MAX_MS. */
uint64_t ul_retry_after_ms(const char *value, const char *date, uint64_t max_ms);
/* ISO 8601 UTC ("2026-12-07T00:42:51.123Z") of Unix us T into BUF (32 bytes). */
void ul_iso8601(uint64_t t_us, char buf[32]);
