/* Server time and Retry-After: see ul_clock.h. */
#include "ul_clock.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t ul_http_date(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return -1;
    time_t t = curl_getdate(s, NULL);
    return t < 0 ? -1 : (int64_t)t;
}

void ul_clock_sample(ul_clock_t *c, const char *date, uint64_t mono_us)
{
    int64_t t = ul_http_date(date);
    if (t < 0)
        return;
    /* the true time is in [t, t + 1 s): aim at the middle */
    int64_t server_us = t * 1000000 + 500000;
    int64_t off = server_us - (int64_t)mono_us;
    c->samples++;
    if (c->synced) {
        int64_t diff = off - c->server_minus_mono_us;
        if (diff >= -1000000 && diff <= 1000000)
            return;
        c->steps++;
    }
    c->server_minus_mono_us = off;
    c->synced = true;
}

uint64_t ul_clock_now_us(const ul_clock_t *c, uint64_t mono_us, uint64_t wall_us)
{
    if (!c->synced)
        return wall_us;
    int64_t t = (int64_t)mono_us + c->server_minus_mono_us;
    return t > 0 ? (uint64_t)t : 0;
}

int64_t ul_clock_offset_ms(const ul_clock_t *c, uint64_t mono_us, uint64_t wall_us)
{
    if (!c->synced)
        return 0;
    return ((int64_t)ul_clock_now_us(c, mono_us, wall_us) - (int64_t)wall_us) / 1000;
}

uint64_t ul_retry_after_ms(const char *value, const char *date, uint64_t max_ms)
{
    if (!value)
        return 0;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return 0;
    uint64_t ms = 0;
    if (*value >= '0' && *value <= '9') {
        char *end;
        unsigned long long s = strtoull(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end)
            return 0;
        ms = s > max_ms / 1000 ? max_ms : (uint64_t)s * 1000;
    } else {
        int64_t at = ul_http_date(value), now = ul_http_date(date);
        if (at < 0)
            return 0;
        if (now < 0)
            now = (int64_t)time(NULL);
        ms = at > now ? (uint64_t)(at - now) * 1000 : 0;
    }
    return ms > max_ms ? max_ms : ms;
}

void ul_iso8601(uint64_t t_us, char buf[32])
{
    time_t s = (time_t)(t_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03uZ", (unsigned)(t_us % 1000000 / 1000));
}
