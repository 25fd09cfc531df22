/* hl-stdio: the STDIO relay daemon (spec 3.2.2): configure, start and stop.
 * The relay core (relay*.c) owns the sockets and routes every byte; its
 * hooks become bus events in events.c; the ctl methods are methods.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/hlbus.h>
#include <hlbus/pbfield.h>

#include "config.h"
#include "events.h"
#include "relay.h"
#include "hl-stdio.h"

int stdio_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                           bool check_only, hlb_diag_t *diag, void *arg)
{
    stdio_daemon_t *app = arg;
    stdio_settings_t s;
    int rc = stdio_settings_parse(section, hlb_daemon_runtime_dir(d), &s, diag);
    if (rc < 0 || check_only) {
        stdio_settings_free(&s);
        return rc;
    }
    if (!app->relay) {
        stdio_settings_free(&app->first);
        app->first = s;
        app->have_first = true;
        return 0;
    }
    /* A reload: the relay binds what is new before it changes anything, so
     * a failure leaves it as it was. */
    char err[512];
    if (stdio_relay_configure(app->relay, &s.relay, err, sizeof err) < 0) {
        hlb_diag_add(diag, section, "%s", err);
        stdio_settings_free(&s);
        return -EINVAL;
    }
    stdio_events_set_rate(app->events, s.client_events_per_sec);
    free(app->attach_path);
    app->attach_path = s.relay.attach_path ? strdup(s.relay.attach_path) : NULL;
    hlb_daemon_status(d, "relaying %zu channel(s)", s.n_chans);
    stdio_settings_free(&s);
    return 0;
}

/* Up to this many rounds of the relay per wake-up of the loop: at GB/s a
 * round is one chunk, and going back to the loop (zmq_poll over the ctl and
 * signal sockets) after each one costs more than the chunk's bookkeeping.
 * Bounded, so ctl requests and signals still get their turn. */
#define RELAY_ROUNDS 16

static int on_relay(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    stdio_daemon_t *app = arg;
    for (int i = 0; i < RELAY_ROUNDS; i++) {
        int rc = stdio_relay_dispatch(app->relay, 0);
        if (rc < 0) {
            hlb_err("relay: epoll: %s", strerror(-rc));
            return -1;
        }
        if (rc == 0)
            break;
    }
    return 0;
}

int stdio_daemon_start(hlb_daemon_t *d, void *arg)
{
    stdio_daemon_t *app = arg;
    if (!app->have_first)
        return -1;
    app->events = stdio_events_new(hlb_daemon_pub(d), app->first.client_events_per_sec);
    app->relay = app->events ? stdio_relay_new(stdio_events_hooks(), app->events) : NULL;
    if (!app->relay) {
        hlb_err("out of memory");
        return -1;
    }
    char err[512];
    if (stdio_relay_configure(app->relay, &app->first.relay, err, sizeof err) < 0) {
        hlb_err("%s", err);
        return -1;
    }
    app->attach_path = app->first.relay.attach_path ? strdup(app->first.relay.attach_path) : NULL;
    zmq_pollitem_t item = {.fd = stdio_relay_fd(app->relay), .events = ZMQ_POLLIN};
    if (zloop_poller(hlb_daemon_loop(d), &item, on_relay, app) < 0) {
        hlb_err("zloop: cannot poll the relay");
        return -1;
    }
    hlb_daemon_status(d, "relaying %zu channel(s)", app->first.n_chans);
    stdio_settings_free(&app->first);
    app->have_first = false;
    return 0;
}

void stdio_daemon_stop(hlb_daemon_t *d, void *arg)
{
    stdio_daemon_t *app = arg;
    if (app->relay)
        stdio_relay_shutdown(app->relay, "shutdown");
    stdio_relay_destroy(&app->relay);
    stdio_events_destroy(&app->events);
}

void stdio_daemon_free(stdio_daemon_t *app)
{
    stdio_settings_free(&app->first);
    free(app->attach_path);
    app->attach_path = NULL;
}
