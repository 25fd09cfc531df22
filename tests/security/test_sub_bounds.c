/* Issue #12: "any local user can make hl-bus grow without bound: 40 MB of
 * long subscriptions took it from 191 MB to 1.3 GB, and it stayed there".
 * libzmq keeps subscriptions in a trie; hl-bus now adds one only within
 * bounds (length, per connection, bytes overall) and drops the connection
 * that asks for more. Here 4 MB of 1,000-byte subscriptions on one
 * connection and 5,000 tiny ones on another. */
#include "sec.h"

#define LONG_SUBS 4000
#define LONG_LEN 1000
#define TINY_SUBS 5000

static proc_t bus;

int main(void)
{
    sec_setup();
    sec_start_bus(&bus, 0, NULL);
    const char *const pre[] = {"daemon.hl-bus", NULL};
    hlb_sub_t *probe = hlb_sub_new(sec_dir, pre);
    CHECK(sec_sub_synced(probe));
    Hl__BusStats *st = sec_bus_stats();
    uint64_t subs0 = st ? st->subscriptions : 0;
    if (st)
        hl__bus_stats__free_unpacked(st, NULL);
    long rss0 = sec_rss_kib(bus.pid);

    /* the attacker's subscribers queue everything (no HWM on their side) */
    char ep[300];
    snprintf(ep, sizeof ep, "ipc://%s/bus/sub", sec_dir);
    zsock_t *lng = zsock_new(ZMQ_SUB), *tiny = zsock_new(ZMQ_SUB);
    CHECK(lng && tiny);
    zsock_set_sndhwm(lng, 0);
    zsock_set_sndhwm(tiny, 0);
    CHECK(zsock_connect(lng, "%s", ep) == 0 && zsock_connect(tiny, "%s", ep) == 0);
    char *buf = malloc(LONG_LEN + 1);
    for (int i = 0; i < LONG_SUBS; i++) {
        memset(buf, 'a' + i % 26, LONG_LEN);
        int n = snprintf(buf, 16, "long.%08d", i); /* unique: each its own trie branch */
        buf[n] = '.';
        buf[LONG_LEN] = '\0';
        zsock_set_subscribe(lng, buf);
    }
    for (int i = 0; i < TINY_SUBS; i++) {
        char t[32];
        snprintf(t, sizeof t, "t.%d", i);
        zsock_set_subscribe(tiny, t);
    }
    /* hl-bus takes what fits, then drops the connection (and again on each
     * reconnect, which resends them all); the long ones never fit */
    uint64_t refused = 0, subs = 0, most = 0;
    long long deadline = proc_now_ms() + 5000;
    while (proc_now_ms() < deadline && sec_alive(&bus)) {
        st = sec_bus_stats();
        if (st) {
            refused = st->subscriptions_refused;
            subs = st->subscriptions;
            hl__bus_stats__free_unpacked(st, NULL);
        }
        if (subs > most)
            most = subs;
        usleep(100 * 1000);
    }
    long rss1 = sec_rss_kib(bus.pid);
    printf("subscriptions at most %llu (was %llu), refused %llu; hl-bus RSS %ld -> %ld KiB\n",
           (unsigned long long)most, (unsigned long long)subs0, (unsigned long long)refused,
           rss0, rss1);
    CHECK_MSG(sec_alive(&bus), "hl-bus survived");
    CHECK_MSG(refused >= 1, "refused %llu subscriptions", (unsigned long long)refused);
    CHECK_MSG(most <= subs0 + 256, "hl-bus held %llu subscriptions", (unsigned long long)most);
    CHECK_MSG(rss1 - rss0 < 32 * 1024, "hl-bus grew by %ld KiB", rss1 - rss0);

    /* the subscribers go: what they held goes with them */
    zsock_destroy(&lng);
    zsock_destroy(&tiny);
    deadline = proc_now_ms() + 10000;
    while (proc_now_ms() < deadline) {
        st = sec_bus_stats();
        if (st) {
            subs = st->subscriptions;
            hl__bus_stats__free_unpacked(st, NULL);
        }
        if (subs == subs0)
            break;
        usleep(200 * 1000);
    }
    CHECK_MSG(subs == subs0, "after the disconnect: %llu subscriptions (was %llu)",
              (unsigned long long)subs, (unsigned long long)subs0);
    /* and the bus still serves a newcomer */
    hlb_sub_t *late = hlb_sub_new(sec_dir, pre);
    CHECK(late && sec_sub_synced(late));
    hlb_sub_destroy(&late);
    hlb_sub_destroy(&probe);
    free(buf);
    return sec_finish(&bus);
}
