/* hl-uplink's engine without the bus: identity, registration, heartbeats
 * and event batches to the HL API, on the reactor, driven by the schedule
 * (ul_sched.h) and fed from the outbox (ul_outbox.h). The daemon
 * (hl-uplink.c) supplies the status summary and the token, and publishes
 * what this reports; the integration tests run it against the reference
 * server (tests/fixtures/uplink/refserver.py) through the daemon. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hlbus/reactor.h>

#include "ul_clock.h"
#include "ul_http.h"
#include "ul_identity.h"
#include "ul_outbox.h"
#include "ul_sched.h"

typedef struct ul_client_conf {
    const char *endpoint;      /* base URL, e.g. https://api.humanlayer.dev */
    const char *agent_version;
    ul_sched_conf_t sched;
    int64_t request_timeout_ms, connect_timeout_ms;
    size_t max_response;       /* bytes of an answer's body */
    ul_tls_t tls;
    const char *const *identity_sources; /* cloud-init, imds, machine-id; in order */
    const char *instance_id;   /* set: this id, source "config" */
    const char *cloud_init_path, *machine_id_path, *imds_url;
    int64_t imds_timeout_ms;
    int64_t identity_retry_ms; /* no source answered: try again after this */
    size_t batch_max;          /* events per request */
    size_t batch_bytes;        /* about the largest request body */
} ul_client_conf_t;

typedef struct ul_client_hooks {
    /* The heartbeat's status summary: a JSON object (malloc'd), or NULL for {}. */
    char *(*status_json)(void *arg);
    /* The API token (malloc'd, the caller wipes it); REREAD: from its file
     * or credential again (after a 401). 0 or -errno. */
    int (*token)(char **out, bool reread, void *arg);
    /* Something reported below changed (online, registered, errors, depth). */
    void (*changed)(void *arg);
    void *arg;
} ul_client_hooks_t;

typedef struct ul_client ul_client_t;

typedef struct ul_client_state {
    bool identified, registered, online;
    const char *instance_id, *region, *identity_source; /* NULL until identified */
    const char *last_error;   /* "" when none */
    uint64_t last_heartbeat_us; /* server time; 0: none yet */
    uint64_t last_contact_us;   /* server time of the last answer */
    int64_t clock_offset_ms;    /* server minus local */
    uint64_t next_attempt_ms;   /* monotonic ms of the next request; 0: none */
    uint64_t requests, failures, throttled, registrations, heartbeats, auth_rereads;
    uint64_t events_sent, events_rejected, batches;
    uint64_t backoff_window_ms;
} ul_client_state_t;

/* OB stays the caller's. The strings of C are copied. */
ul_client_t *ul_client_new(hlb_reactor_t *io, const ul_client_conf_t *c, ul_outbox_t *ob,
                           const ul_client_hooks_t *hooks);
void ul_client_destroy(ul_client_t **c_p);
/* Resolves the identity, then registers and goes on by itself. */
void ul_client_start(ul_client_t *c);
/* Queues EV (copied) in the outbox and schedules its delivery. The return
 * is the outbox's (a failed disk write still queues it). */
int ul_client_push(ul_client_t *c, const ul_event_t *ev);
void ul_client_link_change(ul_client_t *c);
/* Now: pending events, and the next attempt of a back-off. */
void ul_client_flush(ul_client_t *c);
/* One attempt to deliver what waits, for shutdown: true when nothing waits
 * or a request is already on its way. */
bool ul_client_idle(const ul_client_t *c);
void ul_client_state(const ul_client_t *c, ul_client_state_t *s);
/* The server's time now (Unix us), or the local clock before any answer. */
uint64_t ul_client_now_us(const ul_client_t *c);
