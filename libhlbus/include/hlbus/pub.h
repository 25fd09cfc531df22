/* Publishing onto the bus.
 *
 * A publisher is a PUSH socket connected to the proxy's PULL at bus/pub: it
 * queues while the proxy is away and, unlike PUB, drops nothing before the
 * proxy's subscriptions arrive. Sends never block: when the queue is full the
 * message is dropped and counted, and its sequence number is still used, so
 * every subscriber sees the drop as a gap. Sequence numbers count per topic. Destroying a publisher waits (up
 * to its linger, 2 s by default) until what it sent has reached the proxy. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "map.h"

typedef struct hlb_pub hlb_pub_t;

/* SOURCE is the daemon name carried in every envelope. NULL with errno
 * EACCES when bus/pub exists but this process may not connect to it. */
hlb_pub_t *hlb_pub_new(const char *runtime_dir, const char *source);
void hlb_pub_destroy(hlb_pub_t **self_p);
/* 0, -EAGAIN when dropped (queue full), -EINVAL for a bad topic or a
 * body larger than HLB_MAX_MSG. */
int hlb_pub_send(hlb_pub_t *p, const char *topic, const ProtobufCMessage *body);
int hlb_pub_send_map(hlb_pub_t *p, const char *topic, hlb_map_t *map);
int hlb_pub_send_raw(hlb_pub_t *p, const char *topic, const char *type, const void *body,
                     size_t len);
/* How long destroy may wait for unsent messages, in ms. */
void hlb_pub_set_linger(hlb_pub_t *p, int ms);
/* Queue bound in messages; default 10000. A burst of this many is always
 * taken, whatever was sent before; up to twice as many may be held (libzmq
 * learns of the proxy's progress in steps of half its SNDHWM, which is set
 * to twice the bound). 0: no bound. */
void hlb_pub_set_hwm(hlb_pub_t *p, int messages);
/* Keeps the last envelope sent on every state topic (topics.h:
 * hlb_topic_is_state) from now on, for hlb_pub_republish. The daemon runtime
 * turns it on. */
void hlb_pub_keep_state(hlb_pub_t *p);
/* Sends every kept envelope again, byte for byte (same epoch and sequence
 * number: subscribers that have it drop it as a duplicate). After hl-bus
 * restarted with an empty last-value cache. Returns how many were queued. */
size_t hlb_pub_republish(hlb_pub_t *p);
size_t hlb_pub_kept(const hlb_pub_t *p);
uint64_t hlb_pub_epoch(const hlb_pub_t *p);
uint64_t hlb_pub_sent(const hlb_pub_t *p);
uint64_t hlb_pub_dropped(const hlb_pub_t *p);
