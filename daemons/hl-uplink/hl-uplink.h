/* hl-uplink on the bus: configure, start, stop, the bus's events into the
 * status summary and the outbox, uplink.status out, ctl methods. */
#pragma once
#include <hlbus/hlbus.h>
#include <hlbus/tlspolicy.h>

#include "ul_client.h"
#include "ul_config.h"
#include "ul_summary.h"

typedef struct ul_alertrecv ul_alertrecv_t;
typedef struct ul_netlink ul_netlink_t;

typedef struct ul_daemon {
    hlb_daemon_t *d;
    ul_config_t cfg;
    bool have_cfg;
    hlb_tlspolicy_t *tls; /* /etc/hl/tls.yml, read with the config */
    ul_outbox_t *outbox;
    ul_client_t *client;
    ul_netlink_t *netlink;
    ul_alertrecv_t *alerts;
    hlb_sub_t *sub;
    ul_summary_t sum;
    int status_timer;
    /* what uplink.status last said, to publish changes only (and periodically) */
    int last_state;
    bool last_registered;
    uint64_t last_hb, last_depth, last_dropped;
    char *last_error;
    uint64_t since_us;
    uint64_t forwarded, forward_errors;
    /* the orchestrator's pre-shutdown hook: one delivery attempt, then ack */
    bool shutdown_pending;
    hlb_timer_t shutdown_timer;
} ul_daemon_t;

int ul_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                        bool check_only, hlb_diag_t *diag, void *arg);
int ul_daemon_start(hlb_daemon_t *d, void *arg);
void ul_daemon_stop(hlb_daemon_t *d, void *arg);
/* lifecycle.shutdown's pre-shutdown step: the outbox is on disk already
 * (synced again here); one try to deliver it before the deadline, then the
 * ack, ok either way (what was not delivered waits on disk). */
void ul_daemon_prepare_shutdown(hlb_daemon_t *d, uint64_t deadline_us, void *arg);
extern const hlb_method_t ul_methods[];
