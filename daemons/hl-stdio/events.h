/* What the relay reports, onto the bus and into the log:
 *   stdio.<channel>          hl.StdioData, coalesced and rate-limited by the relay
 *   stdio.<channel>.attach   hl.StdioClient
 *   stdio.<channel>.detach   hl.StdioClient, with the reason
 * Attach/detach events, and the relay's log lines, go through token buckets
 * so that a local client connecting in a loop cannot flood the bus or the
 * journal; what is left out is counted in the next one that goes through. */
#pragma once
#include <hlbus/pub.h>

#include "relay.h"

typedef struct stdio_events stdio_events_t;

/* PUB may be NULL (then only logs). PER_SEC: attach/detach events per
 * channel per second (bursts of twice that), and log lines likewise. */
stdio_events_t *stdio_events_new(hlb_pub_t *pub, int per_sec);
void stdio_events_destroy(stdio_events_t **self_p);
void stdio_events_set_rate(stdio_events_t *e, int per_sec);
/* The hooks to give the relay, with E as their argument. */
const stdio_hooks_t *stdio_events_hooks(void);
/* Formats a stream id as the 16 hex digits users see. */
void stdio_stream_str(uint64_t stream, char out[17]);
