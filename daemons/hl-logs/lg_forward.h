/* Forwarding to a syslog collector: RFC 5424 messages, octet-counted
 * (RFC 6587) over TCP, or over TLS (RFC 5425; OpenSSL under the VM's TLS
 * policy (hlbus/tlspolicy.h: versions, suites, its CA beside the system
 * store), or a configured CA file as the whole trust, the host name checked). Records come from the spool
 * in order and are confirmed back to it only when they are safely with the
 * collector: TCP-acknowledged (SIOCOUTQ) and either the collector closed
 * cleanly afterwards (a FIN means it read everything before it) or the
 * connection stood for confirm_ms more. After a reset everything not
 * confirmed is sent again: at least once, and a record sent twice carries
 * the same id (the structured-data parameter hl@32473 id=), so a collector
 * can drop it. Reconnects back off, capped and jittered. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <hlbus/reactor.h>
#include <hlbus/tlspolicy.h>

#include "lg_config.h"
#include "lg_spool.h"

typedef struct lg_forward lg_forward_t;

typedef struct lg_forward_stats {
    bool up;
    uint64_t connects, disconnects, resets, connect_failures;
    uint64_t sent, sent_bytes, resent;
    char last_error[160];
} lg_forward_stats_t;

/* Called when the link goes up or down (for the bus event). */
typedef void(lg_forward_state_fn)(lg_forward_t *fw, bool up, const char *why, void *arg);

/* TLS (NULL: the built-in policy) is applied to the TLS context here and
 * not kept. */
lg_forward_t *lg_forward_new(hlb_reactor_t *io, lg_spool_t *sp, const lg_forward_conf_t *conf,
                             const hlb_tlspolicy_t *tls, const char *hostname,
                             lg_forward_state_fn *fn, void *arg);
void lg_forward_destroy(lg_forward_t **fw);
/* New records are in the spool: send them if the link is up. */
void lg_forward_kick(lg_forward_t *fw);
const lg_forward_stats_t *lg_forward_stats(const lg_forward_t *fw);
/* Formats one RFC 5424 message with its RFC 6587 length prefix onto OUT. */
struct hlb_buf;
void lg_syslog_frame(struct hlb_buf *out, const lg_spool_rec_t *r, const char *hostname);
