/* hl-stdio's ctl methods: stats (channels, stream offsets, counters and
 * attached clients). */
#include <stdlib.h>
#include <string.h>

#include <hlbus/hlbus.h>
#include <hlbus/pbfield.h>

#include "hl-stdio.h"
#include "stdio.pb-c.h"

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
    stdio_daemon_t *app = arg;
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

const hlb_method_t stdio_daemon_methods[] = {
    {"stats", m_stats, 0, "channels, stream offsets, counters and attached clients"},
    {NULL, NULL, 0, NULL},
};
