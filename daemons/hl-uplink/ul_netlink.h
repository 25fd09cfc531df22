/* Link, address and route changes from the kernel (rtnetlink multicast
 * groups), on the reactor: the network came back, so a long back-off should
 * end now (ul_sched_link_change). One callback per burst of messages. */
#pragma once
#include <hlbus/reactor.h>

typedef struct ul_netlink ul_netlink_t;
typedef void(ul_netlink_fn)(void *arg);

/* NULL with errno when the socket cannot be had (no netlink in a sandbox):
 * hl-uplink then simply retries on its back-off. */
ul_netlink_t *ul_netlink_new(hlb_reactor_t *io, ul_netlink_fn *fn, void *arg);
void ul_netlink_destroy(ul_netlink_t **n_p);
/* Change messages seen so far. */
unsigned long ul_netlink_changes(const ul_netlink_t *n);
