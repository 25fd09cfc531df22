/* Alertmanager's webhook receiver (deploy/prometheus/alertmanager.yml points
 * at it): POST /alertmanager with the webhook's JSON (version 4); each alert
 * in it becomes one event upstream, id alertmanager:<fingerprint>:<status>:
 * <startsAt> (Alertmanager resends the same notification: the API counts
 * duplicates instead of storing them twice). libmicrohttpd without a thread
 * of its own: its epoll fd and timeout are on the daemon's reactor. Loopback
 * only, 1 MiB bodies at most, 16 connections, 10 s idle timeout. */
#pragma once
#include <hlbus/reactor.h>

#include "ul_outbox.h"

typedef struct ul_alertrecv ul_alertrecv_t;
typedef void(ul_alert_fn)(const ul_event_t *ev, void *arg);

/* LISTEN: "127.0.0.1:9096" (or [::1]:PORT; port 0: any, see ul_alertrecv_port). */
ul_alertrecv_t *ul_alertrecv_new(hlb_reactor_t *io, const char *listen, ul_alert_fn *fn,
                                 void *arg, char **err);
void ul_alertrecv_destroy(ul_alertrecv_t **r_p);
int ul_alertrecv_port(const ul_alertrecv_t *r);
/* Turns one webhook body into events (FN per alert). 0, or -EINVAL with *ERR
 * when it is not a webhook message. Exposed for the fuzz target. */
int ul_alert_webhook_parse(const char *body, size_t len, uint64_t epoch, uint64_t *seq,
                           ul_alert_fn *fn, void *arg, char **err);
