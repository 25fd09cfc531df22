/* A subscriber must not be able to take live events from the others. In
 * ZMQ_XPUB_MANUAL mode libzmq hands the message sent right after a
 * subscription to its subscriber alone, and it takes a first frame that
 * starts like a subscription ("\x01health." then more parts) for one: the
 * proxy, which refuses such a message, now ends that state (fuzz_proxy lost
 * its sentinel to its own XSUB within seconds before, and ran 130,000 inputs
 * clean after). Here a raw XSUB subscribed to health. sends garbage before
 * each publish and the daemon subscribed to health. must see every event.
 * This test passes on the proxy without the fix too (something else is sent
 * between the garbage and the publish, the stats call it waits on): it
 * guards the property, the fuzz target guards the race. */
#include "sec.h"

#define ROUNDS 20

static proc_t bus;

static bool readable(zsock_t *x, int ms)
{
    zmq_pollitem_t it = {.socket = zsock_resolve(x), .events = ZMQ_POLLIN};
    return zmq_poll(&it, 1, ms) == 1;
}

/* Reads the attacker's socket until its health. subscription's replay
 * bundle came: the proxy holds the subscription then. */
static bool attacker_synced(zsock_t *x)
{
    long long deadline = proc_now_ms() + 10000;
    while (proc_now_ms() < deadline) {
        if (!readable(x, 200))
            continue;
        zmsg_t *m = zmsg_recv(x);
        zframe_t *mark = m && zmsg_first(m) ? zmsg_next(m) : NULL;
        bool bundle = mark && zframe_streq(mark, HLB_REPLAY_BUNDLE_MARK);
        zmsg_destroy(&m);
        if (bundle)
            return true;
    }
    return false;
}

static uint64_t malformed(void)
{
    Hl__BusStats *st = sec_bus_stats();
    uint64_t n = st ? st->malformed : 0;
    if (st)
        hl__bus_stats__free_unpacked(st, NULL);
    return n;
}

int main(void)
{
    sec_setup();
    sec_start_bus(&bus, 0, NULL);
    hlb_pub_t *pub = hlb_pub_new(sec_dir, "sec-test");
    const char *const pre[] = {"health.", NULL};
    hlb_sub_t *daemon = hlb_sub_new(sec_dir, pre);
    hlb_sub_subscribe(daemon, "daemon.hl-bus");
    REQUIRE(sec_sub_synced(daemon));

    char *ep = hlb_endpoint(sec_dir, HLB_BUS_SUB);
    zsock_t *x = zsock_new(ZMQ_XSUB);
    REQUIRE(x && zsock_connect(x, "%s", ep) == 0);
    free(ep);
    zframe_t *sub = zframe_new("\x01health.", 8);
    zframe_send(&sub, x, 0);
    REQUIRE(attacker_synced(x));

    int seen = 0, stolen = 0;
    for (int i = 0; i < ROUNDS; i++) {
        uint64_t before = malformed();
        /* garbage: not a subscription, a multipart whose first frame
         * starts like one (libzmq reads that as a subscription), or empty */
        void *xs = zsock_resolve(x);
        if (i % 3 == 0) {
            zmq_send(xs, "\x01health.", 8, ZMQ_SNDMORE);
            zmq_send(xs, "x", 1, 0);
        } else if (i % 3 == 1) {
            zmq_send(xs, "\x02junk", 5, 0);
        } else {
            zmq_send(xs, "", 0, 0);
        }
        long long deadline = proc_now_ms() + 5000;
        while (malformed() == before && proc_now_ms() < deadline)
            usleep(10000);
        CHECK_MSG(malformed() > before, "round %d: the proxy counted the garbage", i);

        char t[32];
        snprintf(t, sizeof t, "health.live-%02d", i);
        hlb_pub_send_raw(pub, t, "", "ok", 2);
        hlb_event_t ev;
        bool got = false;
        deadline = proc_now_ms() + 2000;
        while (!got && proc_now_ms() < deadline) {
            int rc = hlb_sub_recv(daemon, &ev, 200);
            if (rc < 0)
                break;
            got = rc == 1 && strcmp(ev.topic, t) == 0;
        }
        seen += got;
        while (readable(x, got ? 0 : 200)) { /* what the attacker got */
            zmsg_t *m = zmsg_recv(x);
            zframe_t *topic = m ? zmsg_first(m) : NULL;
            if (!got && topic && zframe_streq(topic, t))
                stolen++;
            zmsg_destroy(&m);
        }
    }
    printf("daemon saw %d of %d live events; %d went to the attacker alone\n", seen, ROUNDS,
           stolen);
    CHECK_EQ(seen, ROUNDS);
    CHECK_EQ(stolen, 0);

    zsock_destroy(&x);
    hlb_sub_destroy(&daemon);
    hlb_pub_destroy(&pub);
    return sec_finish(&bus);
}
