/* Relay hooks onto the bus and the log: see events.h. */
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/codec.h>
#include <hlbus/log.h>

#include "stdio.pb-c.h"

/* A token bucket: RATE per second, bursts of 2 x RATE. */
typedef struct bucket {
    double tokens;
    uint64_t last_us;
    uint64_t suppressed;
} bucket_t;

typedef struct chan_bucket {
    char *name;
    bucket_t b;
    struct chan_bucket *next;
} chan_bucket_t;

struct stdio_events {
    hlb_pub_t *pub;
    int rate;
    bucket_t logs;
    chan_bucket_t *chans;
    uint8_t *scratch;
    size_t scratch_cap;
};

void stdio_stream_str(uint64_t stream, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)stream);
}

static bool take(stdio_events_t *e, bucket_t *b)
{
    uint64_t now = hlb_mono_us();
    double burst = 2.0 * e->rate;
    if (b->last_us == 0)
        b->tokens = burst;
    else
        b->tokens += (double)(now - b->last_us) * e->rate / 1e6;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_us = now;
    if (b->tokens < 1.0) {
        b->suppressed++;
        return false;
    }
    b->tokens -= 1.0;
    return true;
}

static bucket_t *chan_bucket(stdio_events_t *e, const char *name)
{
    for (chan_bucket_t *c = e->chans; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return &c->b;
    chan_bucket_t *c = calloc(1, sizeof *c);
    if (!c || !(c->name = strdup(name))) {
        free(c);
        return NULL;
    }
    c->next = e->chans;
    e->chans = c;
    return &c->b;
}

stdio_events_t *stdio_events_new(hlb_pub_t *pub, int per_sec)
{
    stdio_events_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->pub = pub;
    e->rate = per_sec > 0 ? per_sec : 1;
    return e;
}

void stdio_events_destroy(stdio_events_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    stdio_events_t *e = *self_p;
    while (e->chans) {
        chan_bucket_t *c = e->chans;
        e->chans = c->next;
        free(c->name);
        free(c);
    }
    free(e->scratch);
    free(e);
    *self_p = NULL;
}

void stdio_events_set_rate(stdio_events_t *e, int per_sec)
{
    e->rate = per_sec > 0 ? per_sec : 1;
}

static void client_event(stdio_events_t *e, const stdio_client_info_t *ci, const char *what)
{
    if (!e->pub || !ci->channel)
        return;
    bucket_t *b = chan_bucket(e, ci->channel);
    if (b && !take(e, b))
        return;
    char stream[17], topic[96];
    stdio_stream_str(ci->stream, stream);
    snprintf(topic, sizeof topic, "stdio.%s.%s", ci->channel, what);
    Hl__StdioClient m = HL__STDIO_CLIENT__INIT;
    m.channel = (char *)ci->channel;
    m.stream = stream;
    m.id = ci->id;
    m.cred_known = ci->cred_known;
    m.uid = (uint32_t)ci->uid;
    m.gid = (uint32_t)ci->gid;
    m.pid = (uint32_t)ci->pid;
    m.comm = (char *)(ci->comm ? ci->comm : "");
    m.read_only = ci->read_only;
    m.framed = ci->framed;
    m.start = ci->start;
    m.missed = ci->missed;
    m.position = ci->position;
    m.bytes_in = ci->bytes_in;
    m.bytes_out = ci->bytes_out;
    m.reason = (char *)(ci->reason ? ci->reason : "");
    m.suppressed = b ? b->suppressed : 0;
    if (hlb_pub_send(e->pub, topic, &m.base) == 0 && b)
        b->suppressed = 0;
}

static void on_attach(void *arg, const stdio_client_info_t *ci)
{
    client_event(arg, ci, "attach");
}

static void on_detach(void *arg, const stdio_client_info_t *ci)
{
    client_event(arg, ci, "detach");
}

static void on_data(void *arg, const char *channel, uint64_t stream, uint64_t offset,
                    const struct iovec *iov, int iovcnt, uint64_t skipped)
{
    stdio_events_t *e = arg;
    if (!e->pub)
        return;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (len > e->scratch_cap) {
        uint8_t *n = realloc(e->scratch, len);
        if (!n)
            return;
        e->scratch = n;
        e->scratch_cap = len;
    }
    size_t o = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(e->scratch + o, iov[i].iov_base, iov[i].iov_len);
        o += iov[i].iov_len;
    }
    char sid[17], topic[96];
    stdio_stream_str(stream, sid);
    snprintf(topic, sizeof topic, "stdio.%s", channel);
    Hl__StdioData m = HL__STDIO_DATA__INIT;
    m.channel = (char *)channel;
    m.stream = sid;
    m.offset = offset;
    m.data.data = e->scratch;
    m.data.len = len;
    m.skipped = skipped;
    hlb_pub_send(e->pub, topic, &m.base);
}

/* Sizes change at most every 20 ms per channel (the relay's bound). */
static void on_resize(void *arg, const char *channel, uint64_t stream, unsigned cols,
                      unsigned rows, uint64_t client)
{
    stdio_events_t *e = arg;
    if (!e->pub)
        return;
    char sid[17], topic[96];
    stdio_stream_str(stream, sid);
    snprintf(topic, sizeof topic, "stdio.%s.resize", channel);
    Hl__StdioResize m = HL__STDIO_RESIZE__INIT;
    m.channel = (char *)channel;
    m.stream = sid;
    m.cols = cols;
    m.rows = rows;
    m.client = client;
    hlb_pub_send(e->pub, topic, &m.base);
}

static void on_recording(void *arg, const char *channel, uint64_t stream, const char *path,
                         stdio_rec_state_t state, uint64_t bytes, uint64_t dropped,
                         const char *error)
{
    stdio_events_t *e = arg;
    if (!e->pub)
        return;
    static const char *const names[] = {"started", "rotated", "stopped", "error"};
    char sid[17], topic[96];
    stdio_stream_str(stream, sid);
    snprintf(topic, sizeof topic, "stdio.%s.recording", channel);
    Hl__StdioRecording m = HL__STDIO_RECORDING__INIT;
    m.channel = (char *)channel;
    m.stream = sid;
    m.path = (char *)path;
    m.state = (char *)names[state];
    m.bytes = bytes;
    m.dropped = dropped;
    m.error = (char *)(error ? error : "");
    hlb_pub_send(e->pub, topic, &m.base);
}

static void on_log(void *arg, int level, const char *msg)
{
    stdio_events_t *e = arg;
    /* Debug lines are off by default; the rest is bounded. */
    if (level <= LOG_ERR || level == LOG_DEBUG) {
        hlb_log(level, "%s", msg);
        return;
    }
    uint64_t before = e->logs.suppressed;
    if (!take(e, &e->logs)) {
        hlb_log(LOG_DEBUG, "%s", msg);
        return;
    }
    if (before) {
        hlb_log(level, "%s (and %llu more lines left out)", msg, (unsigned long long)before);
        e->logs.suppressed = 0;
    } else {
        hlb_log(level, "%s", msg);
    }
}

static const stdio_hooks_t hooks = {
    .attach = on_attach,
    .detach = on_detach,
    .data = on_data,
    .log = on_log,
    .resize = on_resize,
    .recording = on_recording,
};

const stdio_hooks_t *stdio_events_hooks(void) { return &hooks; }
