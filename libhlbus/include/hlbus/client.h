/* Calling a daemon's ctl endpoint: request/reply with a deadline and bounded
 * retries (the guide's Lazy Pirate: a fresh socket for each attempt, so a
 * lost reply never wedges the client). Each request carries an id; a server
 * answers a retried id from its reply cache instead of running it twice. */
#pragma once
#include <protobuf-c/protobuf-c.h>
#include "hlbus.pb-c.h"
#include "map.h"

typedef struct hlb_call_opts {
    int timeout_ms; /* per attempt; default 2000 */
    int retries;    /* further attempts after the first; default 2 */
} hlb_call_opts_t;

/* Calls METHOD of daemon DAEMON. ARGS may be NULL, a proto message
 * (hlb_call) or a msgpack map (hlb_call_map). On 0, *REPLY is set (free with
 * hl__reply__free_unpacked(r, NULL)) and its status says whether the method
 * succeeded. Errors: -ETIMEDOUT (no reply in time), -ECONNREFUSED (no such
 * endpoint), -EPROTO (an undecodable reply). */
int hlb_call(const char *runtime_dir, const char *daemon, const char *method,
             const ProtobufCMessage *args, const hlb_call_opts_t *opts, Hl__Reply **reply);
int hlb_call_map(const char *runtime_dir, const char *daemon, const char *method,
                 hlb_map_t *args, const hlb_call_opts_t *opts, Hl__Reply **reply);
int hlb_call_raw(const char *runtime_dir, const char *daemon, const char *method,
                 const char *type, const void *body, size_t len, const hlb_call_opts_t *opts,
                 Hl__Reply **reply);

/* A client that keeps its connection to one daemon between calls (cheaper
 * for many calls); after a timeout it starts a fresh socket. */
typedef struct hlb_client hlb_client_t;
hlb_client_t *hlb_client_new(const char *runtime_dir, const char *daemon);
void hlb_client_destroy(hlb_client_t **self_p);
int hlb_client_call(hlb_client_t *c, const char *method, const char *type, const void *body,
                    size_t len, const hlb_call_opts_t *opts, Hl__Reply **reply);

/* Decodes a reply body of a registered type; NULL on mismatch. */
ProtobufCMessage *hlb_reply_decode(const Hl__Reply *r, const ProtobufCMessageDescriptor *want);
