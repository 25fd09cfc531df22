/* hl-stdio: the STDIO relay daemon (spec 3.2.2). The relay core (relay.c)
 * owns the sockets; this file wires it to the daemon runtime: config and
 * reload, the zloop, bus events and the ctl methods. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/hlbus.h>
#include <hlbus/pbfield.h>

#include "config.h"
#include "events.h"
#include "relay.h"
#include "stdio.pb-c.h"

typedef struct {
    stdio_settings_t first; /* parsed before the loop exists; applied by start */
    bool have_first;
    stdio_relay_t *relay;
    stdio_events_t *events;
    char *attach_path;
} app_t;

static int configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                     bool check_only, hlb_diag_t *diag, void *arg)
{
    app_t *app = arg;
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
    app_t *app = arg;
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

static int start(hlb_daemon_t *d, void *arg)
{
    app_t *app = arg;
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

static void stop(hlb_daemon_t *d, void *arg)
{
    app_t *app = arg;
    if (app->relay)
        stdio_relay_shutdown(app->relay, "shutdown");
    stdio_relay_destroy(&app->relay);
    stdio_events_destroy(&app->events);
}

/* ------------------------------------------------------------ stats */

typedef struct {
    Hl__StdioStats st;
    Hl__StdioStats__Channel **chans;
    size_t nchans;
} stats_t;

static void stats_chan(const stdio_chan_stats_t *cs, void *arg)
{
    stats_t *s = arg;
    Hl__StdioStats__Channel **n = realloc(s->chans, (s->nchans + 1) * sizeof *n);
    if (!n)
        return;
    s->chans = n;
    Hl__StdioStats__Channel *c = calloc(1, sizeof *c);
    char *stream = malloc(17);
    if (!c || !stream) {
        free(c);
        free(stream);
        return;
    }
    hl__stdio_stats__channel__init(c);
    stdio_stream_str(cs->stream, stream);
    c->name = (char *)cs->name;
    c->path = (char *)cs->path;
    c->stream = stream;
    c->head = cs->head;
    c->tail = cs->tail;
    c->scrollback = cs->scrollback;
    c->clients = cs->clients;
    c->attached = cs->attached;
    c->dropped = cs->dropped;
    c->rejected = cs->rejected;
    c->bytes_out = cs->bytes_out;
    c->events = cs->events;
    c->event_skipped = cs->event_skipped;
    c->pauses = cs->pauses;
    s->chans[s->nchans++] = c;
}

static void stats_client(const stdio_client_info_t *ci, void *arg)
{
    stats_t *s = arg;
    if (!s->nchans)
        return;
    Hl__StdioStats__Channel *c = s->chans[s->nchans - 1];
    Hl__StdioStats__Client **n = realloc(c->client, (c->n_client + 1) * sizeof *n);
    if (!n)
        return;
    c->client = n;
    Hl__StdioStats__Client *k = calloc(1, sizeof *k);
    if (!k)
        return;
    hl__stdio_stats__client__init(k);
    k->id = ci->id;
    k->cred_known = ci->cred_known;
    k->uid = (uint32_t)ci->uid;
    k->gid = (uint32_t)ci->gid;
    k->pid = (uint32_t)ci->pid;
    k->comm = strdup(ci->comm ? ci->comm : "");
    k->read_only = ci->read_only;
    k->framed = ci->framed;
    k->start = ci->start;
    k->position = ci->position;
    k->lag = ci->lag;
    k->bytes_in = ci->bytes_in;
    k->bytes_out = ci->bytes_out;
    c->client[c->n_client++] = k;
}

static void m_stats(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    app_t *app = arg;
    stats_t s = {.st = HL__STDIO_STATS__INIT};
    stdio_relay_each(app->relay, stats_chan, stats_client, &s);
    s.st.channels = s.chans;
    s.st.n_channels = s.nchans;
    s.st.attach_socket = hlb_pb_str(app->attach_path);
    hlb_reply_msg(reply, &s.st.base);
    for (size_t i = 0; i < s.nchans; i++) {
        for (size_t j = 0; j < s.chans[i]->n_client; j++) {
            free(s.chans[i]->client[j]->comm);
            free(s.chans[i]->client[j]);
        }
        free(s.chans[i]->client);
        free(s.chans[i]->stream);
        free(s.chans[i]);
    }
    free(s.chans);
}

static const hlb_method_t methods[] = {
    {"stats", m_stats, 0, "channels, stream offsets, counters and attached clients"},
    {NULL, NULL, 0, NULL},
};

int main(int argc, char **argv)
{
    static app_t app;
    static const hlb_daemon_ops_t ops = {
        .name = "hl-stdio",
        .summary = "The STDIO relay: each channel's socket fans the bytes any client writes out\n"
                   "to every other client, with scrollback, resume and bounded per-client queues.",
        .configure = configure,
        .start = start,
        .stop = stop,
        .methods = methods,
        .help_extra =
            "Config section 'hl-stdio' (see hl-stdio.yaml.example): group, mode, scrollback,\n"
            "max_clients, stall_timeout, attach_socket, events, channels.\n"
            "Sockets: <runtime dir>/stdio.sock (raw bytes, for plain clients such as\n"
            "claude-code-server or socat) and <runtime dir>/stdio-attach.sock (the attach\n"
            "protocol of `hlctl attach`). Events: stdio.<channel>, stdio.<channel>.attach|detach.",
    };
    int rc = hlb_daemon_main(argc, argv, &ops, &app);
    stdio_settings_free(&app.first);
    free(app.attach_path);
    return rc;
}
