/* Issue #12: "every new subscription replays the whole cache to every
 * subscriber: 5,000 tiny subscriptions sent 150,000 duplicates to one
 * daemon". A daemon subscribed to health.* must get nothing when another
 * connection subscribes again and again; the new subscription itself still
 * gets the cached state. */
#include "sec.h"

#define TOPICS 30
#define RESUBSCRIBE 500

static proc_t bus;

int main(void)
{
    sec_setup();
    sec_start_bus(&bus, 0, NULL);
    hlb_pub_t *pub = hlb_pub_new(sec_dir, "sec-test");
    const char *const pre[] = {"health.", NULL};
    hlb_sub_t *daemon = hlb_sub_new(sec_dir, pre);
    hlb_sub_subscribe(daemon, "daemon.hl-bus");
    CHECK(sec_sub_synced(daemon));
    for (int i = 0; i < TOPICS; i++) {
        char t[32];
        snprintf(t, sizeof t, "health.unit-%02d", i);
        hlb_pub_send_raw(pub, t, "", "ok", 2);
    }
    int live = 0;
    hlb_event_t ev;
    while (live < TOPICS && hlb_sub_recv(daemon, &ev, 2000) == 1)
        live += strncmp(ev.topic, "health.", 7) == 0;
    CHECK_MSG(live == TOPICS, "the daemon saw %d of %d live events", live, TOPICS);

    /* another connection: subscribes the same prefix over and over */
    hlb_sub_t *noisy = hlb_sub_new(sec_dir, pre);
    for (int i = 0; i < RESUBSCRIBE; i++)
        hlb_sub_subscribe(noisy, "health.");
    hlb_sub_subscribe(noisy, "daemon.hl-bus"); /* the last one: synced once this replays */
    int replays = 0;
    bool synced = false;
    long long deadline = proc_now_ms() + 10000;
    while (!synced && proc_now_ms() < deadline && hlb_sub_recv(noisy, &ev, 500) == 1) {
        synced = strcmp(ev.topic, "daemon.hl-bus") == 0;
        replays += ev.replay && strncmp(ev.topic, "health.", 7) == 0;
    }
    CHECK_MSG(synced, "the noisy subscriber's subscriptions were all processed");
    CHECK_MSG(replays == TOPICS, "the new subscription got the cache once: %d of %d", replays,
              TOPICS);

    /* the daemon: not one message more (hlb_sub would count them as duplicates) */
    int extra = 0;
    while (hlb_sub_recv(daemon, &ev, 500) == 1)
        extra++;
    hlb_sub_stats_t st = hlb_sub_stats(daemon);
    printf("daemon: %d extra events, %llu duplicates\n", extra,
           (unsigned long long)st.duplicates);
    CHECK(extra == 0);
    CHECK_MSG(st.duplicates == 0, "%llu replays reached a subscriber that did not ask",
              (unsigned long long)st.duplicates);

    /* and live traffic still reaches both afterwards */
    hlb_pub_send_raw(pub, "health.after", "", "ok", 2);
    int a = 0, b = 0;
    while (hlb_sub_recv(daemon, &ev, 1000) == 1)
        a += strcmp(ev.topic, "health.after") == 0;
    while (hlb_sub_recv(noisy, &ev, 1000) == 1)
        b += strcmp(ev.topic, "health.after") == 0;
    CHECK_MSG(a == 1 && b == 1, "live event after: daemon %d, noisy %d", a, b);
    hlb_sub_destroy(&noisy);
    hlb_sub_destroy(&daemon);
    hlb_pub_destroy(&pub);
    return sec_finish(&bus);
}
