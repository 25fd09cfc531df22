/* hl-metrics asks hl-bus for its stats without blocking its loop: against a
 * real ctl server in hl-bus' place that takes the "stats" request and does
 * not answer, hl-metrics goes on answering its own ctl socket, keeps one
 * stats call out at a time, polls again once the answer comes, and stops
 * cleanly with a call still out. */
#include <errno.h>
#include <hlbus/hlbus.h>

#include "check.h"
#include "proc.h"

static hlb_deferred_t *held[8];
static int nheld, requests;

static void m_stats(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    requests++;
    if (nheld < 8)
        held[nheld++] = hlb_request_defer(req, reply);
    else
        hlb_reply_error(reply, EBUSY, "test holds enough");
}

static const hlb_method_t methods[] = {{"stats", m_stats, 0, "never answers by itself"},
                                       {NULL, NULL, 0, NULL}};

/* Serves the stand-in for up to MS. */
static void serve(hlb_server_t *s, int ms)
{
    zmq_pollitem_t it = {.socket = zsock_resolve(hlb_server_sock(s)), .events = ZMQ_POLLIN};
    long long end = proc_now_ms() + ms;
    while (proc_now_ms() < end)
        if (zmq_poll(&it, 1, 20) > 0)
            hlb_server_handle(s);
}

static void answer_all(void)
{
    for (int i = 0; i < nheld; i++) {
        Hl__BusStats st = HL__BUS_STATS__INIT;
        hlb_reply_msg(hlb_deferred_reply(held[i]), &st.base);
        hlb_deferred_send(&held[i]);
    }
    nheld = 0;
}

int main(void)
{
    char dir[] = "/tmp/hl-metrics-async-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    zsys_handler_set(NULL);
    char conf[128];
    snprintf(conf, sizeof conf, "%s/hl.yaml", dir);
    FILE *f = fopen(conf, "w");
    /* stats_timeout at its maximum: a loop that waited for it would miss
     * every ping below */
    fprintf(f, "hl-metrics:\n  listen: \"127.0.0.1:0\"\n  interval: 1s\n"
               "  bus: {stats_interval: 100ms, stats_timeout: 10s}\n");
    fclose(f);
    hlb_server_t *bus = hlb_server_new(dir, "hl-bus");
    CHECK(bus != NULL);
    hlb_server_add_methods(bus, methods, NULL);

    char *argv[] = {HL_METRICS_BIN, "--runtime-dir", dir, "--config", conf, NULL};
    proc_t p;
    CHECK(proc_start(&p, dir, argv) == 0);
    CHECK(proc_wait_notify(&p, "READY=1", 10000));
    serve(bus, 300); /* its first stats request arrives and is held */
    CHECK_MSG(requests == 1 && nheld == 1, "%d stats requests", requests);

    hlb_call_opts_t o = {.timeout_ms = 1500, .retries = 0};
    int answered = 0;
    for (int i = 0; i < 10; i++) {
        Hl__Reply *r = NULL;
        if (hlb_call(dir, "hl-metrics", "ping", NULL, &o, &r) == 0 && r->status == 0)
            answered++;
        if (r)
            hl__reply__free_unpacked(r, NULL);
        serve(bus, 100);
    }
    CHECK_MSG(answered == 10, "hl-metrics answered %d of 10 pings with a stats call out",
              answered);
    CHECK_MSG(requests == 1, "%d stats requests while one was out (one at a time)", requests);

    /* the answer comes: polling goes on */
    answer_all();
    serve(bus, 500);
    CHECK_MSG(requests >= 2 && nheld >= 1, "%d stats requests after the answer", requests);

    /* a stop with a call out is clean */
    int ws = proc_stop(&p, SIGTERM);
    CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "exit status 0x%x", ws);
    answer_all();
    hlb_server_destroy(&bus);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
