/* The bus end to end with real processes: hl-bus, publishers (bus_tool and
 * in-process), subscribers. Fan-out with filters, delivery when a publisher
 * exits at once, kill -9 of the proxy mid-stream, the last-value cache,
 * malformed input, and overload counted as gaps. */
#include <hlbus/hlbus.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "check.h"
#include "proc.h"

static char dir[] = "/tmp/hlbusXXXXXX";
static proc_t bus;

static void start_bus(void)
{
    char *const argv[] = {HL_BUS_BIN, "--runtime-dir", dir, "--config", "/dev/null/none", NULL};
    /* a config path that cannot exist, explicitly: exercises exit 78 first */
    proc_t bad;
    CHECK(proc_start(&bad, dir, argv) == 0);
    int st;
    waitpid(bad.pid, &st, 0);
    bad.pid = 0;
    proc_stop(&bad, 0);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 78, "bad config exit %d", WEXITSTATUS(st));

    char conf[256];
    snprintf(conf, sizeof conf, "%s/hl.yaml", dir);
    char *const good[] = {HL_BUS_BIN, "--runtime-dir", dir, "--config", conf, NULL};
    CHECK(proc_start(&bus, dir, good) == 0);
    CHECK(proc_wait_notify(&bus, "READY=1", 10000));
}

/* Waits until the proxy has seen S's subscription: the replay of the cached
 * daemon.hl-bus state arrives only then. */
static bool sub_synced(hlb_sub_t *s)
{
    long long deadline = proc_now_ms() + 10000;
    while (proc_now_ms() < deadline) {
        hlb_event_t ev;
        if (hlb_sub_recv(s, &ev, 200) == 1 && strcmp(ev.topic, "daemon.hl-bus") == 0)
            return true;
    }
    return false;
}

static hlb_sub_t *new_sub(const char *const *prefixes)
{
    hlb_sub_t *s = hlb_sub_new(dir, prefixes);
    hlb_sub_subscribe(s, "daemon.hl-bus");
    CHECK(sub_synced(s));
    /* only the topics under test from now on, so gaps count those alone */
    zsock_set_unsubscribe(hlb_sub_sock(s), "daemon.hl-bus");
    return s;
}

/* Receives until COUNT events with PREFIX came, or nothing for 2 s. */
static int64_t count_events(hlb_sub_t *s, const char *prefix, int64_t count)
{
    int64_t n = 0;
    while (n < count) {
        hlb_event_t ev;
        int rc = hlb_sub_recv(s, &ev, 2000);
        if (rc == -EAGAIN)
            break;
        if (rc == 1 && strncmp(ev.topic, prefix, strlen(prefix)) == 0)
            n++;
    }
    return n;
}

static void test_fanout(void)
{
    const char *const a_pre[] = {"health.", NULL};
    const char *const b_pre[] = {"log.", "test.", NULL};
    hlb_sub_t *a = new_sub(a_pre), *b = new_sub(b_pre);
    hlb_pub_t *p = hlb_pub_new(dir, "fanout");
    for (int i = 0; i < 1000; i++) {
        hlb_pub_send_raw(p, "health.a", "", "x", 1);
        hlb_pub_send_raw(p, "log.b", "", "y", 1);
        hlb_pub_send_raw(p, "other.c", "", "z", 1);
        hlb_pub_send_raw(p, "test.d", "", "w", 1);
    }
    CHECK(count_events(a, "health.", 1000) == 1000);
    int64_t nb = 0;
    for (;;) { /* b: log.b and test.d, 2000 in all, and nothing else */
        hlb_event_t ev;
        if (hlb_sub_recv(b, &ev, 2000) != 1)
            break;
        CHECK_MSG(strncmp(ev.topic, "log.", 4) == 0 || strncmp(ev.topic, "test.", 5) == 0 ||
                      strncmp(ev.topic, "daemon.", 7) == 0,
                  "b got %s", ev.topic);
        if (strcmp(ev.topic, "log.b") == 0 || strcmp(ev.topic, "test.d") == 0)
            nb++;
        if (nb == 2000)
            break;
    }
    CHECK(nb == 2000);
    hlb_event_t ev; /* and a has nothing more than its 1000 */
    int extra = 0;
    while (hlb_sub_recv(a, &ev, 300) == 1)
        if (strncmp(ev.topic, "health.", 7) != 0 && strncmp(ev.topic, "daemon.", 7) != 0)
            extra++;
    CHECK(extra == 0);
    CHECK(hlb_sub_stats(a).gaps == 0 && hlb_sub_stats(b).gaps == 0);
    hlb_pub_destroy(&p);
    hlb_sub_destroy(&a);
    hlb_sub_destroy(&b);
}

static void test_exit_at_once(void)
{
    const char *const pre[] = {"burst.", NULL};
    hlb_sub_t *s = new_sub(pre);
    int complete = 0;
    const int runs = 10;
    for (int run = 0; run < runs; run++) {
        char topic[32], out[128];
        snprintf(topic, sizeof topic, "burst.%d", run);
        char *const argv[] = {BUS_TOOL_BIN, "pub", dir, topic, "10000", "--size", "64", NULL};
        CHECK(proc_run(argv, out, sizeof out) == 0);
        int64_t got = count_events(s, topic, 10000);
        if (got == 10000)
            complete++;
        else
            fprintf(stderr, "run %d: %lld of 10000 arrived (%s)\n", run, (long long)got, out);
    }
    CHECK_MSG(complete == runs, "%d of %d runs complete", complete, runs);
    CHECK(hlb_sub_stats(s).gaps == 0);
    hlb_sub_destroy(&s);
}

static void test_proxy_kill9(void)
{
    const char *const pre[] = {"stream.", NULL};
    hlb_sub_t *s = new_sub(pre);
    int in[2], outp[2];
    CHECK(pipe(in) == 0 && pipe(outp) == 0);
    pid_t pub = fork();
    if (pub == 0) {
        dup2(in[0], 0);
        dup2(outp[1], 1);
        close(in[1]);
        close(outp[0]);
        execl(BUS_TOOL_BIN, BUS_TOOL_BIN, "pub", dir, "stream.k", "15000", "--interval-us", "200",
              "--hold", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    int64_t before = count_events(s, "stream.", 2000);
    CHECK(before == 2000);
    proc_stop(&bus, SIGKILL); /* mid-stream */
    start_bus();
    /* Same subscriber object, same publisher process: both just carry on.
     * When the tool has sent its stream it says so; then it sends one final
     * message, whose sequence number tells how many were sent in all. The
     * subscriber keeps receiving meanwhile: a ZeroMQ socket re-subscribes
     * after a reconnect only when its owner calls into it. */
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    char line[128] = "";
    size_t linelen = 0;
    bool asked = false, final_seen = false;
    int64_t got = before, last_seq = 0;
    long long deadline = proc_now_ms() + 30000;
    while (!final_seen && proc_now_ms() < deadline) {
        if (!asked) {
            ssize_t n = read(outp[0], line + linelen, sizeof line - 1 - linelen);
            if (n > 0)
                linelen += (size_t)n;
            line[linelen] = '\0';
            if (strchr(line, '\n')) {
                fprintf(stderr, "publisher: %s", line);
                CHECK(write(in[1], "go\n", 3) == 3);
                asked = true;
            }
        }
        hlb_event_t ev;
        if (hlb_sub_recv(s, &ev, 100) != 1 || strcmp(ev.topic, "stream.k") != 0)
            continue;
        got++;
        last_seq = (int64_t)ev.env->seq;
        final_seen = ev.env->body.len == 5;
    }
    if (getenv("TEST_DEBUG")) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s/../../daemons/hlctl/hlctl -r %s bus stats >&2", getenv("PWD"), dir);
        if (system(cmd)) {}
    }
    hlb_sub_stats_t st = hlb_sub_stats(s);
    fprintf(stderr, "kill -9 mid-stream: received %lld, gaps %llu, last seq %lld\n",
            (long long)got, (unsigned long long)st.gaps, (long long)last_seq);
    CHECK(final_seen && last_seq == 15001);
    CHECK(got > before + 1000); /* the stream went on through the new proxy */
    /* every message is accounted for: delivered, or counted as a gap */
    CHECK_MSG((uint64_t)got + st.gaps == (uint64_t)last_seq, "received %lld + gaps %llu != %lld",
              (long long)got, (unsigned long long)st.gaps, (long long)last_seq);
    close(outp[0]);
    close(in[1]);
    waitpid(pub, NULL, 0);
    hlb_sub_destroy(&s);
}

static void test_lvc(void)
{
    const char *const pre[] = {"health.", "service.", "test.", NULL};
    hlb_sub_t *first = new_sub(pre);
    hlb_pub_t *p = hlb_pub_new(dir, "lvc");
    hlb_pub_send_raw(p, "health.x", "", "v1", 2);
    hlb_pub_send_raw(p, "health.x", "", "v2", 2);
    hlb_pub_send_raw(p, "service.y", "", "s1", 2);
    hlb_pub_send_raw(p, "test.z", "", "t1", 2);
    CHECK(count_events(first, "", 4) == 4); /* the proxy has them all now */

    hlb_sub_t *late = hlb_sub_new(dir, NULL); /* everything */
    int hx = 0, sy = 0, tz = 0, v2 = 0, replays = 0;
    hlb_event_t ev;
    while (hlb_sub_recv(late, &ev, 500) == 1) {
        if (strcmp(ev.topic, "health.x") == 0) {
            hx++;
            v2 += ev.env->body.len == 2 && memcmp(ev.env->body.data, "v2", 2) == 0;
        }
        sy += strcmp(ev.topic, "service.y") == 0;
        tz += strcmp(ev.topic, "test.z") == 0;
        replays += ev.replay;
    }
    CHECK_MSG(hx == 1 && v2 == 1, "health.x seen %d times, latest %d", hx, v2);
    CHECK(sy == 1);
    CHECK(tz == 0); /* not a state topic: not cached */
    CHECK(replays >= 2);
    /* the late one's replays went to the late one alone: the first
     * subscriber gets neither events nor duplicates from them (#12) */
    int again = 0;
    while (hlb_sub_recv(first, &ev, 300) == 1)
        again++;
    CHECK(again == 0);
    CHECK(hlb_sub_stats(first).duplicates == 0);
    hlb_pub_destroy(&p);
    hlb_sub_destroy(&first);
    hlb_sub_destroy(&late);
}

static Hl__BusStats *bus_stats(void)
{
    Hl__Reply *r = NULL;
    hlb_call_opts_t o = {.timeout_ms = 2000, .retries = 1};
    if (hlb_call(dir, "hl-bus", "stats", NULL, &o, &r) < 0 || r->status)
        return NULL;
    Hl__BusStats *st = (Hl__BusStats *)hlb_reply_decode(r, &hl__bus_stats__descriptor);
    hl__reply__free_unpacked(r, NULL);
    return st;
}

static void test_garbage(void)
{
    const char *const pre[] = {"test.", NULL};
    hlb_sub_t *s = new_sub(pre);
    Hl__BusStats *before = bus_stats();
    CHECK(before != NULL);
    char out[64];
    char *const argv[] = {BUS_TOOL_BIN, "garbage", dir, NULL};
    CHECK(proc_run(argv, out, sizeof out) == 0);
    hlb_event_t ev;
    int after = 0, other = 0;
    while (hlb_sub_recv(s, &ev, 1000) == 1) {
        if (strcmp(ev.topic, "test.after") == 0)
            after++;
        else if (strncmp(ev.topic, "daemon.", 7) != 0)
            other++;
    }
    CHECK(after == 1);
    CHECK(other == 0);
    CHECK(hlb_sub_stats(s).malformed == 0); /* the proxy kept it all away */
    Hl__BusStats *st = bus_stats();
    CHECK(st != NULL); /* alive and answering */
    if (st && before)
        CHECK_MSG(st->malformed >= before->malformed + 8, "malformed %llu -> %llu",
                  (unsigned long long)before->malformed, (unsigned long long)st->malformed);
    /* the ctl endpoint answers garbage with an error */
    char *ep = hlb_endpoint(dir, "ctl/hl-bus");
    zsock_t *d = zsock_new_dealer(ep);
    free(ep);
    zsock_set_rcvtimeo(d, 2000);
    zstr_sendm(d, "");
    zstr_send(d, "definitely not a request");
    zmsg_t *rep = zmsg_recv(d);
    zframe_t *last = rep ? zmsg_last(rep) : NULL;
    Hl__Reply *r = last ? hl__reply__unpack(NULL, zframe_size(last), zframe_data(last)) : NULL;
    CHECK(r && r->status == EPROTO);
    if (r)
        hl__reply__free_unpacked(r, NULL);
    zmsg_destroy(&rep);
    zsock_destroy(&d);
    if (st)
        protobuf_c_message_free_unpacked(&st->base, NULL);
    if (before)
        protobuf_c_message_free_unpacked(&before->base, NULL);
    hlb_sub_destroy(&s);
}

static void test_overload(void)
{
    const char *const pre[] = {"flood.", NULL};
    hlb_sub_t *s = new_sub(pre);
    kill(bus.pid, SIGSTOP); /* the proxy stalls: the publisher's queue fills */
    int in[2], outp[2];
    CHECK(pipe(in) == 0 && pipe(outp) == 0);
    pid_t pub = fork();
    if (pub == 0) {
        dup2(in[0], 0);
        dup2(outp[1], 1);
        close(in[1]);
        close(outp[0]);
        execl(BUS_TOOL_BIN, BUS_TOOL_BIN, "pub", dir, "flood.x", "50000", "--hwm", "1000", "--hold",
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    FILE *f = fdopen(outp[0], "r");
    char line[128] = "";
    CHECK(fgets(line, sizeof line, f) != NULL);
    unsigned long long sent = 0, dropped = 0;
    CHECK(sscanf(line, "sent %llu dropped %llu", &sent, &dropped) == 2);
    CHECK(dropped > 0 && sent + dropped == 50000);
    kill(bus.pid, SIGCONT);
    int64_t got = count_events(s, "flood.", (int64_t)sent);
    CHECK_MSG(got == (int64_t)sent, "got %lld of %llu queued", (long long)got, sent);
    CHECK(write(in[1], "go\n", 3) == 3); /* the final message reveals trailing drops */
    CHECK(count_events(s, "flood.", 1) == 1);
    waitpid(pub, NULL, 0);
    hlb_sub_stats_t st = hlb_sub_stats(s);
    CHECK_MSG(st.gaps == dropped, "subscriber gaps %llu, publisher dropped %llu",
              (unsigned long long)st.gaps, dropped);
    Hl__BusStats *bs = bus_stats();
    uint64_t src_gaps = 0;
    for (size_t i = 0; bs && i < bs->n_sources; i++)
        if (strcmp(bs->sources[i]->source, "bus_tool") == 0)
            src_gaps = bs->sources[i]->gaps;
    CHECK_MSG(src_gaps >= dropped, "proxy counted %llu gaps for %llu drops",
              (unsigned long long)src_gaps, dropped);
    if (bs)
        protobuf_c_message_free_unpacked(&bs->base, NULL);
    fclose(f);
    close(in[1]);
    hlb_sub_destroy(&s);
}

int main(void)
{
    zsys_handler_set(NULL);
    CHECK(mkdtemp(dir) != NULL);
    char conf[256];
    snprintf(conf, sizeof conf, "%s/hl.yaml", dir);
    FILE *f = fopen(conf, "w");
    fputs("hl-bus:\n  lvc_prefixes: [health., service., daemon.]\n", f);
    fclose(f);
    start_bus();
    const char *only = getenv("TEST_ONLY");
#define RUN(name) if (!only || strcmp(only, #name) == 0) test_##name()
    RUN(fanout);
    RUN(exit_at_once);
    RUN(lvc);
    RUN(garbage);
    RUN(overload);
    RUN(proxy_kill9);
    proc_stop(&bus, SIGTERM);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return check_done();
}
