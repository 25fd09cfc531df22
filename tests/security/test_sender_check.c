/* Issue #12: subscribers that act on events (hl-failure, the orchestrator,
 * hl-health) check the stamped sender themselves, so that a bus whose ACL
 * was loosened (here: topic_owners lets any user publish health.*) still
 * cannot steer them. hlb_event_from_owner() is their one-line check. */
#include "sec.h"

static proc_t bus;

static int attacker(void *arg)
{
    hlb_pub_t *p = hlb_pub_new(sec_dir, "hl-health");
    if (!p)
        return 2;
    hlb_pub_send_raw(p, "health.claude-code", "", "forged", 6);
    hlb_pub_send_raw(p, "daemon.hl-orchestrator", "", "forged", 6);
    hlb_pub_destroy(&p);
    zsys_shutdown(); /* the child ends in _exit: flush what is queued now */
    return 0;
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root to publish as another uid\n");
        return 77;
    }
    sec_setup();
    sec_start_bus(&bus, 0,
                  "  topic_owners:\n    \"health.\": [\"65534\"]\n    \"daemon.\": [\"65534\"]\n");
    hlb_sub_t *s = hlb_sub_new(sec_dir, NULL);
    CHECK(sec_sub_synced(s));
    CHECK(sec_as_nobody(attacker, NULL) == 0);
    hlb_pub_t *mine = hlb_pub_new(sec_dir, "sec-test");
    hlb_pub_send_raw(mine, "health.web", "", "real", 4);
    int forged = 0, accepted_forged = 0, real = 0;
    hlb_event_t ev;
    while ((forged < 2 || !real) && hlb_sub_recv(s, &ev, 2000) == 1) {
        if (getenv("SEC_DEBUG"))
            printf("got %s uid %u replay %d\n", ev.topic, ev.env->sender_uid, ev.replay);
        if (ev.replay)
            continue;
        bool fake = ev.env->body.len == 6 && memcmp(ev.env->body.data, "forged", 6) == 0;
        if (fake) {
            forged++; /* the loosened bus let it through... */
            CHECK(ev.env->sender_uid == SEC_NOBODY);
            accepted_forged += hlb_event_from_owner(&ev); /* ...the subscriber does not */
        } else if (strcmp(ev.topic, "health.web") == 0) {
            real++;
            CHECK_MSG(hlb_event_from_owner(&ev), "root's health.web is its owner's");
        }
    }
    Hl__BusStats *st = sec_bus_stats();
    if (st) {
        printf("bus: denied %llu\n", (unsigned long long)st->denied);
        hl__bus_stats__free_unpacked(st, NULL);
    }
    CHECK_MSG(forged == 2, "the loosened bus delivered %d forged events", forged);
    CHECK_MSG(accepted_forged == 0, "%d forged events passed the subscriber's check",
              accepted_forged);
    CHECK(real == 1);
    hlb_pub_destroy(&mine);
    hlb_sub_destroy(&s);
    return sec_finish(&bus);
}
