/* sd-bus on the daemon's reactor (libhlbus reactor.h): the bus fd becomes a
 * watch whose events follow sd_bus_get_events(), and sd_bus_get_timeout() a
 * reactor timer, so every reply and signal is dispatched as it arrives,
 * without polling. */
#pragma once
#include <hlbus/reactor.h>
#include <systemd/sd-bus.h>

typedef struct sdloop sdloop_t;

/* Called once when the connection fails (disconnect, I/O error). The callee
 * must not destroy the sdloop from inside the callback; schedule it. */
typedef void (sdloop_fail_fn)(int err, void *arg);

/* Attaches BUS (a reference is taken) to IO. NULL on failure. */
sdloop_t *sdloop_new(hlb_reactor_t *io, sd_bus *bus, sdloop_fail_fn *fail, void *arg);
/* Detaches from the reactor and drops the bus reference (flushing what is queued). */
void sdloop_destroy(sdloop_t **self_p);
/* Dispatches whatever sd-bus has pending and re-arms the poller and timer.
 * Call after queueing calls from outside an sd-bus callback. */
void sdloop_kick(sdloop_t *self);
sd_bus *sdloop_bus(sdloop_t *self);
/* Messages dispatched so far (for the benchmark's CPU-per-event figure). */
uint64_t sdloop_dispatched(const sdloop_t *self);
